"""KV-cache element formats at their true cost: data bits plus any per-group scales."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError


@dataclass(frozen=True)
class KVDType:
    """One cache format. A vector of n elements costs cdiv(n x bits, 8) data bytes plus
    cdiv(n, group_size) x scale_bytes scale bytes (formats without scales: group_size 0)."""

    name: str
    bits: int
    scale_bytes: int = 0
    group_size: int = 0
    note: str = ""

    def vector_bytes(self, n_elements: int) -> tuple[int, int]:
        """(data_bytes, scale_bytes) of one cached vector of n_elements, e.g. one head's K."""
        data = -(-n_elements * self.bits // 8)
        scales = -(-n_elements // self.group_size) * self.scale_bytes if self.group_size else 0
        return data, scales


DTYPES: dict[str, KVDType] = {
    d.name: d
    for d in (
        KVDType("fp32", 32),
        KVDType("fp16", 16),
        KVDType("bf16", 16),
        KVDType("fp8", 8, note="FP8 E4M3 (vLLM's 'fp8'); its per-tensor scale is a constant, not counted"),
        KVDType("fp8_e4m3", 8, note="per-tensor scale, not counted"),
        KVDType("fp8_e5m2", 8, note="no scale"),
        KVDType("int8", 8, note="per-tensor scale, not counted"),
        KVDType(
            "int4", 4, scale_bytes=4, group_size=64,
            note="a 16-bit scale and a 16-bit zero point per 64 elements (transformers' QuantizedCache, q_group_size=64)",
        ),
        KVDType(
            "nvfp4", 4, scale_bytes=1, group_size=16,
            note="one FP8 E4M3 scale per 16 elements (NVIDIA NVFP4); the per-tensor FP32 scale is not counted",
        ),
        # ggml's block formats (llama.cpp's -ctk / -ctv): blocks of 32 elements, ggml-common.h
        KVDType("q8_0", 8, scale_bytes=2, group_size=32, note="ggml: 34 B per 32 (fp16 scale + 32 int8)"),
        KVDType("q4_0", 4, scale_bytes=2, group_size=32, note="ggml: 18 B per 32 (fp16 scale + 32 x 4 bits)"),
        KVDType("q4_1", 4, scale_bytes=4, group_size=32, note="ggml: 20 B per 32 (fp16 scale and min + 32 x 4 bits)"),
        KVDType("q5_0", 5, scale_bytes=2, group_size=32, note="ggml: 22 B per 32 (fp16 scale + 32 x 5 bits)"),
        KVDType("q5_1", 5, scale_bytes=4, group_size=32, note="ggml: 24 B per 32 (fp16 scale and min + 32 x 5 bits)"),
        KVDType("iq4_nl", 4, scale_bytes=2, group_size=32, note="ggml: 18 B per 32 (fp16 scale + 32 x 4-bit codes)"),
    )
}
# ggml's names for the plain formats (llama.cpp's -ctk f16).
GGML_NAMES = {"f32": "fp32", "f16": "fp16"}
GGML_BLOCK_TYPES = ("q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl")

# Names a config.json uses for its torch_dtype, and their short forms.
TORCH_NAMES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "half": "fp16", "float": "fp32",
               # the names torch and vLLM give the fp8 formats
               "fp8_e4m3fn": "fp8_e4m3", "float8_e4m3fn": "fp8_e4m3", "float8_e5m2": "fp8_e5m2"}
MODEL_DTYPES = ("fp32", "fp16", "bf16")
KV_DTYPE_CHOICES = ("auto", *DTYPES)


def resolve(name: str, model_dtype: str) -> KVDType:
    """A KV dtype by name; ``auto`` is the model's own dtype."""
    key = str(name).strip().lower().replace("-", "_")
    if key == "auto":
        key = model_dtype
    key = TORCH_NAMES.get(key, GGML_NAMES.get(key, key))
    if key not in DTYPES:
        raise InputError(f"unknown --kv-dtype {name!r} (choose from: {', '.join(KV_DTYPE_CHOICES)})")
    return DTYPES[key]
