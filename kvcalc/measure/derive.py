"""--measure's own reading of a model: the tensors a runtime allocates for its cache, layer by
layer, derived from the config with the runtime's documented rules.

Written apart from kvcalc.core.formulas, kvcalc.engines and kvcalc.dtypes on purpose: --measure
allocates what this module derives and compares the bytes with the formula, so a wrong rule in
either place shows as a MISMATCH. Where a runtime is installed, kvcalc.measure.measure uses its own cache
code instead (transformers' cache layers for the hf engine) and says which path it used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

# Formats with a torch dtype, by kvcalc name; the rest are packed bytes (see PACKED).
NATIVE = ("fp32", "fp16", "bf16", "fp8", "fp8_e4m3", "fp8_e5m2", "int8")
# Packed formats: (bits per element, elements per scale group, scale bytes per group).
PACKED = {
    "int4": (4, 64, 4),  # transformers' QuantizedCache: 16-bit scale + 16-bit zero point per 64
    "nvfp4": (4, 16, 1),  # one FP8 E4M3 scale per 16
    "q8_0": (8, 32, 2), "q4_0": (4, 32, 2), "q4_1": (4, 32, 4),  # ggml blocks of 32 (ggml-common.h)
    "q5_0": (5, 32, 2), "q5_1": (5, 32, 4), "iq4_nl": (4, 32, 2),
}
ALIASES = {"f16": "fp16", "f32": "fp32", "float16": "fp16", "float32": "fp32", "bfloat16": "bf16",
           "half": "fp16", "float": "fp32"}
LLAMA_CPP_SWA = ("gemma2", "gemma3_text", "gpt_oss")


@dataclass(frozen=True)
class Tensor:
    """One tensor to allocate: a shape in a format (packed formats: the last dim is bytes)."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # a NATIVE name, or "uint8" for packed bytes


@dataclass(frozen=True)
class Layers:
    """`count` identical layers, each holding `tensors` (for the whole batch)."""

    kind: str
    count: int
    tensors: tuple[Tensor, ...]


def _up(a: int, b: int) -> int:
    return (a + b - 1) // b * b


def _fmt(name: str, auto: str) -> str:
    key = str(name).strip().lower().replace("-", "_")
    key = auto if key == "auto" else key
    return ALIASES.get(key, key)


def _vector(n: int, fmt: str) -> tuple[int, str]:
    """(last dim, dtype) of one cached vector of n elements."""
    if fmt in NATIVE:
        return n, fmt
    bits, group, scale = PACKED[fmt]
    return (n * bits + 7) // 8 + (n + group - 1) // group * scale, "uint8"


def _auto(model: Any, engine: str) -> str:
    if engine == "llama.cpp":
        return "fp16"  # llama.cpp's default -ctk / -ctv
    if engine == "vllm" and model.dtype == "fp32":
        return "bf16"  # vLLM serves an fp32 checkpoint in bf16
    return model.dtype


def _kinds(model: Any, engine: str) -> str:
    kinds = model.layer_kinds
    if engine == "llama.cpp" and model.family not in LLAMA_CPP_SWA:
        kinds = kinds.replace("S", "F")
    return kinds


def _tokens(kind: str, seq: int, window: Optional[int], engine: str, opts: Any) -> int:
    """Token slots one layer holds for one sequence (llama.cpp: cells of all streams); window:
    the sliding window, or a chunked (C) layer's chunk."""
    if engine == "exact":
        return min(seq, window) if kind in "SC" else seq
    if engine == "hf":  # transformers keeps a chunk as a sliding window of the chunk
        return min(seq, window - 1) if kind in "SC" else seq
    if engine == "vllm":
        b = opts.block_size
        blocks = -(-seq // b)
        in_flight = opts.max_concurrent_batches * opts.max_num_batched_tokens
        if kind == "S":
            held = min(window - 1 + in_flight, seq)
            blocks = min(blocks, -(-held // b) + 1)
        if kind == "C":
            blocks = min(blocks, -(-min(window + in_flight, seq) // b))
        return blocks * b
    # llama.cpp
    n_ctx = _up(seq, 256)
    per = n_ctx if opts.kv_unified else _up(n_ctx // opts.n_parallel, 256)
    if kind == "S" and not opts.swa_full:
        per = _up(min(per, window * (opts.n_parallel if opts.kv_unified else 1) + opts.n_ubatch), 256)
    return per * (1 if opts.kv_unified else opts.n_parallel)


def _heads(model: Any, kind: str, engine: str, n_kv_heads: Optional[int]) -> list[tuple[str, int, int]]:
    """(name, heads, dim) of what one token leaves in one layer."""
    if kind == "M" and n_kv_heads is None:
        mla = model.mla
        if engine == "hf":
            return [("k", 1, mla.kv_lora_rank), ("v", 1, mla.qk_rope_head_dim)]
        return [("k", 1, mla.kv_lora_rank + mla.qk_rope_head_dim)]
    if kind == "M":  # an MLA model rebuilt as per-head attention
        mla = model.mla
        return [("k", n_kv_heads, mla.qk_nope_head_dim + mla.qk_rope_head_dim), ("v", n_kv_heads, mla.v_head_dim)]
    heads = n_kv_heads if n_kv_heads is not None else model.n_kv_heads
    if engine == "hf" and model.family == "falcon" and 1 < model.n_kv_heads < model.n_heads:
        heads = model.n_heads  # transformers expands new_decoder_architecture's K/V to every query head
    return [("k", heads, model.head_dim), ("v", heads, model.head_dim)]


def _state(model: Any, engine: str, batch: int, opts: Any, auto: str) -> tuple[Tensor, ...]:
    s = model.ssm
    channels = s.d_inner + 2 * s.n_groups * s.d_state
    if s.kind == "short_conv" and engine in ("exact", "hf"):  # a convolution window only
        return (Tensor("conv", (batch, s.d_inner, s.d_conv - (engine == "exact")), model.dtype),)
    if s.kind == "lightning" and engine in ("exact", "hf"):  # one state, fp32 exact, the activations' dtype in hf
        return (Tensor("kv", (batch, s.d_inner, s.d_state), "fp32" if engine == "exact" else model.dtype),)
    if engine == "exact":
        return (Tensor("conv", (batch, channels, s.d_conv - 1), model.dtype), Tensor("ssm", (batch, s.d_inner, s.d_state), "fp32"))
    if engine == "hf":
        return (Tensor("conv", (batch, channels, s.d_conv), model.dtype), Tensor("ssm", (batch, s.d_inner, s.d_state), "fp32"))
    if engine == "vllm":
        return (Tensor("conv", (batch, s.d_conv - 1, channels), auto), Tensor("ssm", (batch, s.d_inner, s.d_state), auto))
    slots = max(1, opts.n_parallel)
    return (Tensor("r", (slots, (s.d_conv - 1) * channels), "fp32"), Tensor("s", (slots, s.d_inner * s.d_state), "fp32"))


def underivable(model: Any, engine: str, grown: bool = False) -> Optional[str]:
    """What derive() does not hold for `model` under `engine`, in words (None: it holds it all):
    chunked, hybrid and non-Mamba recurrent layers outside exact, hf and vLLM's plain attention;
    a vLLM hybrid's grown blocks (grown: the engine's block size changed for the model)."""
    kinds = set(model.layer_kinds)
    new = sorted(({"chunked"} if "C" in kinds else set()) | ({"hybrid"} if "H" in kinds else set())
                 | ({model.ssm.kind} if model.ssm is not None and model.ssm.kind not in ("mamba", "mamba2") else set()))
    derives = engine in ("exact", "hf") or (engine == "vllm" and kinds <= set("FSCMN"))
    if grown:
        return "a hybrid's grown blocks and padded state pages"
    return f"{', '.join(new)} layers" if new and not derives else None


def derive(model: Any, seq_len: int, batch: int, engine: str, opts: Any = None, kv_dtype: str = "auto",
           v_dtype: Optional[str] = None, n_kv_heads: Optional[int] = None) -> list[Layers]:
    """Every layer's cache tensors for `batch` sequences of `seq_len` tokens, grouped by kind.
    engine: exact | hf | vllm | llama.cpp; opts: that engine's options (block size, slots...)."""
    base = model.dtype if engine in ("exact", "hf") else _auto(model, engine)
    k_fmt = _fmt(kv_dtype, _auto(model, engine))
    v_fmt = _fmt(v_dtype, _auto(model, engine)) if v_dtype else k_fmt
    kinds = _kinds(model, engine)
    out = []
    # an H layer holds a full layer's K/V and a recurrent state: counted with each
    for kind in dict.fromkeys(kinds.replace("H", "FR")):  # each kind once, in order of appearance
        count = kinds.count(kind) + (kinds.count("H") if kind in "FR" else 0)
        if kind == "N":
            continue
        if kind == "R":
            if model.ssm is not None:
                out.append(Layers("recurrent", count, _state(model, engine, batch, opts, base)))
            continue
        window = model.attention_chunk_size if kind == "C" else model.sliding_window
        tokens = _tokens(kind, seq_len, window, engine, opts)
        tensors = []
        for name, heads, dim in _heads(model, kind, engine, n_kv_heads):
            last, dtype = _vector(dim, k_fmt if name == "k" else v_fmt)
            if engine == "vllm":
                shape = (batch * tokens // opts.block_size, opts.block_size, heads, last)
            elif engine == "llama.cpp":
                shape = (tokens, heads, last)
            else:
                shape = (batch, heads, tokens, last)
            tensors.append(Tensor(name, shape, dtype))
        out.append(Layers({"F": "full", "S": "sliding", "M": "mla", "C": "chunked"}[kind], count, tuple(tensors)))
    return out
