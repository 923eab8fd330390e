"""A model's weights as a GGUF holds them: the tensor table of a GGUF file, or the one
llama.cpp's converter (convert_hf_to_gguf.py) writes for a config and its quantizer then types
(kvcalc.models.gguf_quant), for the families whose tensor lists kvcalc knows.

Shapes are in ggml order (ne0 = input features). Sources: convert_hf_to_gguf.py and
src/llama-arch.cpp's tensor names of the llama.cpp llama-cpp-python 0.3.36 vendors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import InputError
from .gguf_quant import Tensor, file_type, quantize
from .model import Model

# kvcalc family -> llama.cpp architecture, for the families whose tensors are listed below
ARCH = {"llama": "llama", "mistral": "llama", "mixtral": "llama", "qwen2": "qwen2", "qwen3": "qwen3",
        "qwen3_moe": "qwen3moe", "gemma2": "gemma2", "gemma3_text": "gemma3", "gemma3": "gemma3"}
EXPERTS = ("ffn_gate_exps", "ffn_up_exps", "ffn_down_exps")  # what --n-cpu-moe keeps in host memory


@dataclass(frozen=True)
class Weights:
    """The tensors of a model's GGUF, and where they came from."""

    tensors: tuple[Tensor, ...]
    source: str  # a GGUF file's tensor table, or "config + llama.cpp's quantizer (FTYPE)"
    file_type: str | None = None  # the llama.cpp file type predicted; None for a file's own table

    @property
    def total_bytes(self) -> int:
        return sum(t.n_bytes for t in self.tensors)

    def layer_bytes(self, n_layers: int, experts: bool | None = None,
                    size: "Callable[[Tensor], int] | None" = None) -> list[int]:
        """Bytes of each block blk.0 ... blk.{n-1}; experts=True counts only the MoE experts'
        tensors, False all but them, None everything; `size` is what a tensor takes in the
        buffer (cuda_bytes on a CUDA device), its own bytes by default."""
        out = [0] * n_layers
        for t in self.tensors:
            if 0 <= t.layer < n_layers and (experts is None or experts == is_expert(t.name)):
                out[t.layer] += size(t) if size else t.n_bytes
        return out

    def tensor(self, name: str) -> Tensor | None:
        return next((t for t in self.tensors if t.name == name), None)

    def named(self, name: str) -> int:
        return sum(t.n_bytes for t in self.tensors if t.name == name)


MATRIX_ROW_PADDING = 512  # ggml-cuda: a quantized tensor's last row is padded to 512 elements
CUDA_ALIGN = 128  # ggml-cuda's buffer alignment


def cuda_bytes(t: Tensor) -> int:
    """What a tensor takes in a CUDA (or ROCm) buffer: ggml_backend_cuda_buffer_type_get_alloc_size
    (a quantized row of ne0 % 512 != 0 elements padded to 512) rounded to the 128-byte alignment."""
    from .gguf_quant import GGML_TYPES

    size = t.n_bytes
    block, bytes_per_block = GGML_TYPES.get(t.ggml_type, (1, 0))
    if block > 1 and t.shape[0] % MATRIX_ROW_PADDING:
        size += (MATRIX_ROW_PADDING - t.shape[0] % MATRIX_ROW_PADDING) // block * bytes_per_block
    return -(-size // CUDA_ALIGN) * CUDA_ALIGN


def is_expert(name: str) -> bool:
    """A routed expert's stacked tensor (ffn_*_exps): what --n-cpu-moe leaves on the CPU."""
    return any(f".{e}." in name for e in EXPERTS)


def from_file(path: str | Path) -> Weights:
    """A GGUF file's own tensor table: every tensor's type and bytes as stored."""
    from .gguf import _reader

    reader = _reader(Path(path))
    tensors = tuple(Tensor(t.name, tuple(int(d) for d in t.shape), t.tensor_type.name, int(t.n_bytes))
                    for t in reader.tensors)
    return Weights(tensors, f"the GGUF's tensor table ({Path(path).name})")


def config_tensors(m: Model) -> list[tuple[str, tuple[int, ...]]]:
    """The tensors convert_hf_to_gguf.py writes for `m` (names and ggml shapes)."""
    if m.family not in ARCH:
        raise InputError(f"{m.name}: kvcalc does not list the GGUF tensors of {m.family} models (it does for "
                         f"{', '.join(sorted(ARCH))}); give the .gguf file itself, or --weights-bytes")
    if m.vocab_size is None:
        raise InputError(f"{m.name}: its config gives no vocab_size, which the embedding needs; give the .gguf file")
    h, hd, v = m.hidden_size, m.head_dim, m.vocab_size
    q, kv = m.n_heads * hd, m.n_kv_heads * hd
    gemma = m.family in ("gemma2", "gemma3_text", "gemma3")
    out = [("token_embd.weight", (h, v)), ("output_norm.weight", (h,))]
    if not m.tie_embeddings and not gemma:
        out.append(("output.weight", (h, v)))
    for i in range(m.n_layers):
        p = f"blk.{i}."
        out += [(p + "attn_norm.weight", (h,)), (p + "attn_q.weight", (h, q)), (p + "attn_k.weight", (h, kv)),
                (p + "attn_v.weight", (h, kv)), (p + "attn_output.weight", (q, h)), (p + "ffn_norm.weight", (h,))]
        if gemma:
            out += [(p + "post_attention_norm.weight", (h,)), (p + "post_ffw_norm.weight", (h,))]
        if m.family in ("qwen3", "qwen3_moe", "gemma3_text", "gemma3"):
            out += [(p + "attn_q_norm.weight", (hd,)), (p + "attn_k_norm.weight", (hd,))]
        if m.family == "qwen2":
            out += [(p + "attn_q.bias", (q,)), (p + "attn_k.bias", (kv,)), (p + "attn_v.bias", (kv,))]
        moe = m.moe
        if moe is not None and i >= moe.first_dense_layers and (i - moe.layer_offset) % moe.layer_period == 0:
            n, ff = moe.n_experts, moe.expert_intermediate_size
            out += [(p + "ffn_gate_inp.weight", (h, n)), (p + "ffn_gate_exps.weight", (h, ff, n)),
                    (p + "ffn_up_exps.weight", (h, ff, n)), (p + "ffn_down_exps.weight", (ff, h, n))]
        else:
            ff = m.intermediate_size
            out += [(p + "ffn_gate.weight", (h, ff)), (p + "ffn_up.weight", (h, ff)), (p + "ffn_down.weight", (ff, h))]
    return out


def from_config(m: Model, ftype: str, imatrix: bool = False) -> Weights:
    """The GGUF of `m` at llama.cpp file type `ftype` (q4_k_m, q8_0, f16 ...), as llama.cpp's
    converter lists the tensors and its quantizer types them."""
    ftype = file_type(ftype)
    if m.moe is not None and m.moe.n_shared_experts:
        raise InputError(f"{m.name}: kvcalc does not list the GGUF tensors of shared experts; give the .gguf file")
    n_expert = m.moe.n_experts if m.moe is not None else 0
    tensors = quantize(config_tensors(m), ftype, ARCH[m.family], m.n_layers, m.n_heads, m.n_kv_heads, n_expert, imatrix)
    how = "with an imatrix" if imatrix else "no imatrix"
    return Weights(tuple(tensors), f"{m.name}'s config + llama.cpp's quantizer ({ftype}, {how})", ftype)
