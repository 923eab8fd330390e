"""The schema's rules, written once: the strict schema (kvcalc.models.config, pydantic) and the
quick path (kvcalc.models.trusted) both ask these functions, and the field tables of the quick
path are read from the dataclasses of kvcalc.models.model. Each check returns None when the data
satisfies it, else (field, message) for the strict schema to say."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any, Optional

from .model import CHUNKED, FULL, HYBRID, LAYER_KINDS, MAX_HEADS, MAX_INT, MAX_LAYERS, MLA, MLA_KIND, RECURRENT, SLIDING, \
    SSM, STATE_KINDS, Model, MoE, Quant, Source

Problem = Optional[tuple[str, str]]


def name_problem(name: str) -> Optional[str]:
    if not name.strip():
        return "must not be empty"
    if not name.isprintable() or len(name) > 200:
        return "must be a printable name of at most 200 characters"
    return None


def pattern_problem(pattern: str) -> Optional[str]:
    """A layer pattern (spaces already dropped): letters of LAYER_KINDS only, at least one."""
    if not pattern or set(pattern) - set(LAYER_KINDS):
        return ("letters must be F (full), S (sliding), C (chunked), M (MLA), R (recurrent), H (full attention and "
                "a recurrent state) or N (nothing cached)")
    return None


def layer_kinds(n_layers: int, pattern: Optional[str], has_mla: bool) -> str:
    """layer_pattern repeated over n_layers (MLA layers by default where the mla block is)."""
    pattern = pattern or (MLA_KIND if has_mla else FULL)
    return (pattern * -(-n_layers // len(pattern)))[:n_layers]


def consistency_problem(n_heads: int, n_kv_heads: int, n_layers: int, pattern: Optional[str], window: bool,
                        mla: bool, ssm: bool, chunk: bool = False) -> Problem:
    """The model-level rules: heads split evenly, each layer kind with the block it needs."""
    if n_heads % n_kv_heads:
        return ("n_kv_heads", f"{n_heads} query heads do not split evenly over {n_kv_heads} KV heads "
                              "(n_heads must be a multiple of n_kv_heads)")
    if pattern and len(pattern) > n_layers:
        return ("layer_pattern", f"has {len(pattern)} letters for {n_layers} layers")
    kinds = set(layer_kinds(n_layers, pattern, mla))
    if SLIDING in kinds and not window:
        return ("layer_pattern", "has sliding (S) layers but sliding_window is not set")
    if window and SLIDING not in kinds:
        return ("sliding_window", "is set but no layer is sliding (add S to layer_pattern)")
    if CHUNKED in kinds and not chunk:
        return ("layer_pattern", "has chunked (C) layers but attention_chunk_size is not set")
    if chunk and CHUNKED not in kinds:
        return ("attention_chunk_size", "is set but no layer is chunked (add C to layer_pattern)")
    if MLA_KIND in kinds and not mla:
        return ("layer_pattern", "has MLA (M) layers but the mla block is missing")
    if kinds & {RECURRENT, HYBRID} and not ssm:
        return ("layer_pattern", "has recurrent (R or H) layers but the ssm block is missing")
    if ssm and not kinds & {RECURRENT, HYBRID}:
        return ("ssm", "is set but no layer is recurrent (add R or H to layer_pattern)")
    return None


def ssm_problem(kind: str, n_groups: int, d_inner: int, n_heads: Optional[int], d_state: int = 1,
                d_conv: int = 1) -> Problem:
    if kind not in STATE_KINDS:
        return ("kind", f"must be one of {', '.join(STATE_KINDS)}, got {kind!r}"[:200])
    if kind in ("mamba2", "gated_delta") and n_groups < 1:
        return ("n_groups", f"{kind} needs n_groups >= 1")
    if kind in ("mamba", "short_conv", "lightning") and n_groups:
        return ("n_groups", f"{kind} has no groups (0)")
    if kind == "short_conv" and d_state:
        return ("d_state", "a short convolution keeps no SSM state (0)")
    if kind == "lightning" and d_conv:
        return ("d_conv", "lightning attention has no convolution (0)")
    if kind != "short_conv" and not d_state:
        return ("d_state", f"{kind} needs d_state >= 1")
    if kind != "lightning" and not d_conv:
        return ("d_conv", f"{kind} needs d_conv >= 1")
    if n_heads is not None and d_inner % n_heads:
        return ("n_heads", f"{n_heads} heads do not divide d_inner {d_inner}")
    return None


# ----- field tables, from the dataclasses ---------------------------------------------------

_TYPES = {"int": int, "str": str, "bool": bool, "tuple[str, ...]": list}
_BLOCK_TYPES = {"Source": Source, "MLA": MLA, "MoE": MoE, "SSM": SSM, "Quant": Quant}


def _table(cls: type) -> tuple[dict[str, type], set[str], set[str]]:
    """(field -> the JSON type a file holds it in, required fields, integers allowed to be 0):
    from the dataclass's annotations and defaults (an integer defaulting to 0 may be 0)."""
    types, required, zero = {}, set(), set()
    for f in fields(cls):
        if not f.init:
            continue
        text = str(f.type).removeprefix("Optional[").removesuffix("]") if str(f.type).startswith("Optional[") \
            else str(f.type)
        types[f.name] = dict if text in _BLOCK_TYPES else _TYPES[text]
        if f.default is MISSING and f.default_factory is MISSING:
            required.add(f.name)
        if text == "int" and f.default == 0:
            zero.add(f.name)
    return types, required, zero


TOP = _table(Model)
BLOCKS = {"source": _table(Source), "mla": _table(MLA), "moe": _table(MoE), "ssm": _table(SSM),
          "quantization": _table(Quant)}


def int_bounds(key: str, zero: set[str]) -> tuple[int, int]:
    """The range of an integer field: >= 1 (>= 0 where 0 is its default), at most the bound of its kind."""
    high = MAX_LAYERS if key == "n_layers" else MAX_HEADS if key in ("n_heads", "n_kv_heads") else MAX_INT
    return (0 if key in zero else 1), high


def fields_problem(data: Any, table: tuple[dict[str, type], set[str], set[str]]) -> bool:
    """Whether `data` has exactly the table's types, its required fields and integers in range."""
    types, required, zero = table
    if type(data) is not dict or not required <= data.keys() or not data.keys() <= types.keys():
        return True
    for key, value in data.items():
        if type(value) is not types[key]:  # strict: no bool for an int, no None
            return True
        if type(value) is int:
            low, high = int_bounds(key, zero)
            if not low <= value <= high:
                return True
    return False
