"""llama.cpp's quantizer: the ggml type and the bytes it gives each tensor for a file type
(`llama-quantize model-f16.gguf out.gguf Q4_K_M`), without an imatrix unless told.

A rule-for-rule port of src/llama-quant.cpp (llama_tensor_get_type_impl, tensor_type_fallback,
tensor_allows_quantization, llama_ftype_get_default_type) of the llama.cpp that llama-cpp-python
0.3.36 vendors (b11312), checked against that quantizer by conformance/llamacpp/quant. Block sizes
are ggml-common.h's. Tensor shapes are in ggml order: ne0 is the row length (input features)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError

# ggml type -> (elements a block, bytes a block): ggml/src/ggml.c type_traits, ggml-common.h
GGML_TYPES = {
    "F32": (1, 4), "F16": (1, 2), "BF16": (1, 2),
    "Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22), "Q5_1": (32, 24), "Q8_0": (32, 34),
    "Q2_K": (256, 84), "Q3_K": (256, 110), "Q4_K": (256, 144), "Q5_K": (256, 176), "Q6_K": (256, 210),
    "IQ2_XXS": (256, 66), "IQ2_XS": (256, 74), "IQ2_S": (256, 82), "IQ3_XXS": (256, 98), "IQ3_S": (256, 110),
    "IQ1_S": (256, 50), "IQ1_M": (256, 56), "IQ4_NL": (32, 18), "IQ4_XS": (256, 136),
    "TQ1_0": (256, 54), "TQ2_0": (256, 66), "MXFP4": (32, 17),
}
# llama_ftype_get_default_type: the file type's base tensor type
FILE_TYPES = {
    "f32": "F32", "f16": "F16", "bf16": "BF16",
    "q4_0": "Q4_0", "q4_1": "Q4_1", "q5_0": "Q5_0", "q5_1": "Q5_1", "q8_0": "Q8_0",
    "q2_k": "Q2_K", "q2_k_s": "Q2_K", "q3_k_s": "Q3_K", "q3_k_m": "Q3_K", "q3_k_l": "Q3_K",
    "q4_k_s": "Q4_K", "q4_k_m": "Q4_K", "q5_k_s": "Q5_K", "q5_k_m": "Q5_K", "q6_k": "Q6_K",
    "iq2_xxs": "IQ2_XXS", "iq2_xs": "IQ2_XS", "iq2_s": "IQ2_XS", "iq2_m": "IQ2_S",
    "iq3_xxs": "IQ3_XXS", "iq3_xs": "IQ3_S", "iq3_s": "IQ3_S", "iq3_m": "IQ3_S",
    "iq1_s": "IQ1_S", "iq1_m": "IQ1_M", "iq4_nl": "IQ4_NL", "iq4_xs": "IQ4_XS",
    "tq1_0": "TQ1_0", "tq2_0": "TQ2_0", "mxfp4_moe": "MXFP4",
}
# file types that need an imatrix (llama-quantize refuses them without one)
NEEDS_IMATRIX = ("iq2_xxs", "iq2_xs", "iq2_s", "iq1_s", "iq1_m")
_FALLBACK = {  # tensor_type_fallback: a row length the block does not divide
    "IQ1_S": "IQ4_NL", "IQ1_M": "IQ4_NL", "IQ2_XXS": "IQ4_NL", "IQ2_XS": "IQ4_NL", "IQ2_S": "IQ4_NL",
    "IQ3_XXS": "IQ4_NL", "IQ3_S": "IQ4_NL", "IQ4_XS": "IQ4_NL", "Q2_K": "Q4_0", "Q3_K": "Q4_0",
    "TQ1_0": "Q4_0", "TQ2_0": "Q4_0", "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0",
}
_NOT_QUANTIZED = ("ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj", "position_embd",
                  "token_types", "ssm_conv1d", "shortconv.conv.weight", "attn_rel_b.weight")
_IQ2 = ("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M")


@dataclass(frozen=True)
class Tensor:
    """One tensor of a GGUF: its name, ggml shape, type and bytes (ggml_nbytes)."""

    name: str
    shape: tuple[int, ...]
    ggml_type: str
    n_bytes: int

    @property
    def layer(self) -> int:
        """The block it belongs to (blk.N.*), or -1 (embedding, output, norms)."""
        return int(self.name.split(".")[1]) if self.name.startswith("blk.") else -1


def tensor_bytes(shape: tuple[int, ...], ggml_type: str) -> int:
    """ggml_nbytes: rows x (ne0 / block) x bytes a block."""
    block, size = GGML_TYPES[ggml_type]
    rows = 1
    for d in shape[1:]:
        rows *= d
    return rows * (shape[0] // block) * size


def file_type(name: str) -> str:
    """A llama.cpp file type by name (q4_k_m, Q4_K_M, q8_0 ...), lower-cased; unknown ones refused."""
    key = name.strip().lower()
    if key not in FILE_TYPES:
        raise InputError(f"unknown llama.cpp file type {name!r} (choose from: {', '.join(FILE_TYPES)})")
    return key


def _category(name: str) -> str:
    """tensor_get_category."""
    if name == "output.weight":
        return "output"
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return "token_embd"
    for key, cat in (("attn_qkv.weight", "attn_qkv"), ("attn_kv_b.weight", "attn_kv_b"), ("attn_v.weight", "attn_v"),
                     ("attn_k.weight", "attn_k"), ("attn_q.weight", "attn_q"), ("attn_output.weight", "attn_output"),
                     ("ffn_up", "ffn_up"), ("ffn_gate", "ffn_gate"), ("ffn_down", "ffn_down")):
        if key in name:
            return cat
    return "other"


def _quantizable(name: str, shape: tuple[int, ...]) -> bool:
    """tensor_allows_quantization, the common subset: 2-D+ weights, not norms or routers."""
    dims = len(shape)
    while dims > 1 and shape[dims - 1] == 1:
        dims -= 1
    if dims < 2 or not name.endswith("weight") or "_norm.weight" in name:
        return False
    return not any(bad in name for bad in _NOT_QUANTIZED)


def _more_bits(i: int, n: int) -> bool:
    """use_more_bits: the first and last eighth of the layers, and every third between."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


class _Quantizer:
    """llama_tensor_get_type_impl with its counters (quantize_state_impl)."""

    def __init__(self, names: list[str], ft: str, arch: str, n_layer: int, n_gqa: int, n_expert: int,
                 imatrix: bool) -> None:
        self.ft, self.arch, self.n_layer, self.n_gqa, self.n_expert, self.imatrix = \
            ft.upper(), arch, n_layer, n_gqa, n_expert, imatrix
        self.tied = "output.weight" not in names
        self.n_attn_v = sum(1 for n in names if _category(n) in ("attn_v", "attn_qkv", "attn_kv_b"))
        self.is_70b = arch == "llama" and n_layer == 80 and n_gqa != 1
        self.i_v = self.i_down = self.i_gate = self.i_up = 0

    def _where(self, name: str, counter: int) -> tuple[int, int]:
        """(layer, layers) a counted rule sees: MoE models count by the tensor's block."""
        if self.n_expert > 1:
            return int(name.split(".")[1]) if name.startswith("blk.") else -1, self.n_layer
        return counter, self.n_layer

    def type_of(self, name: str, shape: tuple[int, ...], new: str) -> str:  # noqa: C901 - the rules are one table
        ft, cat, nexp = self.ft, _category(name), self.n_expert
        if cat == "output" or (self.tied and cat == "token_embd"):
            if ft == "MXFP4_MOE" or self.arch == "falcon" or shape[0] % GGML_TYPES[new][0]:
                return "Q8_0"
            if ft in ("IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"):
                return "Q5_K"
            return new if new == "Q8_0" else "Q6_K"
        if ft == "MXFP4_MOE":
            return "MXFP4" if len(shape) > 2 and shape[2] > 1 else "Q8_0"
        if cat == "token_embd":
            return {"IQ2_XXS": "Q2_K", "IQ2_XS": "Q2_K", "IQ1_S": "Q2_K", "IQ1_M": "Q2_K", "IQ2_S": "IQ3_S",
                    "IQ2_M": "IQ3_S", "IQ3_XXS": "IQ3_S", "TQ1_0": "Q4_K", "TQ2_0": "Q4_K"}.get(ft, new)
        if ft in _IQ2:
            return self._iq2(cat, new)
        if cat in ("attn_v", "attn_qkv", "attn_kv_b"):  # category_is_attn_v: a fused QKV takes V's rules
            return self._attn_v(new)
        if cat == "attn_k":
            return "Q8_0" if nexp == 8 else {"IQ3_XS": "IQ3_XXS", "IQ3_XXS": "IQ2_S"}.get(ft, new)
        if cat == "attn_q":
            return {"IQ3_XS": "IQ3_XXS", "IQ3_XXS": "IQ2_S"}.get(ft, new)
        if cat == "ffn_down":
            return self._ffn_down(name, new)
        if cat == "attn_output":
            if self.arch == "falcon":
                return "Q4_K" if ft == "Q3_K_L" else new
            if nexp == 8:
                return "Q5_K" if ft in ("Q2_K", "IQ3_XS", "IQ3_XXS", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S", "Q4_K_M",
                                        "IQ3_S", "IQ3_M", "IQ4_XS") else new
            return {"Q2_K": "Q3_K", "IQ3_XXS": "IQ3_S", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K", "IQ3_M": "Q4_K"}.get(ft, new)
        if cat in ("ffn_gate", "ffn_up"):
            counter = self.i_gate if cat == "ffn_gate" else self.i_up
            il, nl = self._where(name, counter)
            if cat == "ffn_gate":
                self.i_gate += 1
            else:
                self.i_up += 1
            return "IQ3_XXS" if ft == "IQ3_XS" and nl // 8 <= il < 7 * nl // 8 else new
        return new

    def _iq2(self, cat: str, new: str) -> str:
        ft = self.ft
        if cat in ("attn_v", "attn_qkv", "attn_kv_b"):
            self.i_v += 1
            return "Q4_K" if self.n_gqa >= 4 or self.n_expert >= 4 else ("IQ3_S" if ft in ("IQ2_S", "IQ2_M") else "Q2_K")
        if self.n_expert == 8 and cat == "attn_k":
            return "Q4_K"
        if cat == "ffn_down":
            low = self.i_down < self.n_layer // 8
            self.i_down += 1
            return ("IQ3_S" if ft in ("IQ2_S", "IQ2_M") else "Q2_K") if low else new
        if cat == "attn_output":
            if self.n_expert == 8:
                return "Q5_K"
            return "IQ2_XXS" if ft in ("IQ1_S", "IQ1_M") else "IQ3_S" if ft in ("IQ2_S", "IQ2_M") else new
        return new

    def _attn_v(self, new: str) -> str:
        ft, i, n, gqa = self.ft, self.i_v, self.n_attn_v, self.n_gqa
        if ft == "Q2_K":
            new = "Q4_K" if gqa >= 4 else "Q3_K"
        elif ft == "Q2_K_S" and gqa >= 4:
            new = "Q4_K"
        elif ft == "IQ3_XXS":
            new = "Q4_K" if gqa >= 4 else ("IQ3_XXS" if self.imatrix else "IQ3_S")
        elif ft in ("IQ3_XS", "IQ3_S") and gqa >= 4:
            new = "Q4_K"
        elif ft == "IQ3_M":
            new = "Q4_K"
        elif ft == "Q3_K_M":
            new = "Q5_K" if i < 2 else "Q4_K"
        elif ft == "Q3_K_L":
            new = "Q5_K"
        elif ft in ("IQ4_NL", "IQ4_XS") and gqa >= 4:
            new = "Q5_K"
        elif ft in ("Q4_K_M", "Q5_K_M") and _more_bits(i, n):
            new = "Q6_K"
        elif ft == "Q4_K_S" and i < 4:
            new = "Q5_K"
        if self.is_70b and new in ("Q3_K", "Q4_K"):
            new = "Q5_K"
        if self.n_expert == 8:
            new = "Q8_0"
        self.i_v += 1
        return new

    def _ffn_down(self, name: str, new: str) -> str:
        ft, falcon = self.ft, self.arch == "falcon"
        il, nl = self._where(name, self.i_down)
        self.i_down += 1
        if ft == "Q2_K":
            return "Q3_K"
        if ft == "Q2_K_S":
            return "Q4_K" if il < nl // 8 else new
        if ft == "IQ3_XXS" and not self.imatrix:
            return "Q4_K" if il < nl // 8 else "Q3_K"
        if ft == "Q3_K_M":
            return "Q5_K" if il < nl // 16 else "Q4_K" if not falcon or _more_bits(il, nl) else "Q3_K"
        if ft == "IQ3_M":
            return "Q4_K" if il < nl // 8 or (self.n_expert == 8 and _more_bits(il, nl)) else new
        if ft == "Q3_K_L":
            return "Q4_K" if falcon else "Q5_K"
        if ft == "Q4_K_M":
            if falcon:
                return "Q6_K" if il < nl // 16 else "Q5_K" if _more_bits(il, nl) else "Q4_K"
            return "Q6_K" if _more_bits(il, nl) else new
        if il < nl // 8 and ft in ("IQ4_NL", "IQ4_XS") and not self.imatrix:
            return "Q5_K"
        if ft == "Q5_K_M":
            return "Q6_K" if _more_bits(il, nl) else new
        if ft == "Q4_K_S":
            return "Q5_K" if not falcon and il < nl // 8 else new
        if ft in ("Q4_0", "Q5_0") and self.imatrix and il < nl // 8:
            return "Q4_1" if ft == "Q4_0" else "Q5_1"
        return new


def _fallback(ne0: int, t: str) -> str:
    if ne0 % GGML_TYPES[t][0] == 0:
        return t
    r = _FALLBACK.get(t, t)
    return r if ne0 % GGML_TYPES[r][0] == 0 else "F16"


def quantize(tensors: list[tuple[str, tuple[int, ...]]], ftype: str, arch: str, n_layer: int, n_head: int,
             n_head_kv: int, n_expert: int = 0, imatrix: bool = False) -> list[Tensor]:
    """Each tensor as `llama-quantize ... FTYPE` writes it, in the loader's order (by block, then
    name): 1-D tensors and norms stay F32; f16 / bf16 / f32 file types convert every weight."""
    ftype = file_type(ftype)
    base = FILE_TYPES[ftype]
    ordered = sorted(tensors, key=lambda t: (int(t[0].split(".")[1]) if t[0].startswith("blk.") else -1, t[0]))
    q = _Quantizer([n for n, _ in ordered], ftype, arch, n_layer, n_head // max(n_head_kv, 1), n_expert, imatrix)
    out = []
    for name, shape in ordered:
        if not _quantizable(name, shape) or len(shape) <= 1:
            t = "F32"
        elif base in ("F32", "F16", "BF16"):
            t = base
        else:
            t = _fallback(shape[0], q.type_of(name, shape, base))
        out.append(Tensor(name, shape, t, tensor_bytes(shape, t)))
    return out
