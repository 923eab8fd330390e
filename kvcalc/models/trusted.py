"""A quick path past the strict schema for data that plainly satisfies it.

`kvcalc.models.config` (pydantic) is the one schema; building its validator costs about a quarter of a
second at start-up. The config.json mapper (`kvcalc.models.hf`) already type-checks what it reads, so
for its output this module checks the same rules in plain Python and builds the Model directly.
It is conservative: anything it is unsure of returns None and goes through the schema, which
then names the problem. tests/test_trusted.py holds both paths to the same answer.
"""

from __future__ import annotations

from typing import Any, Optional

from .model import FULL, LAYER_KINDS, MAX_HEADS, MAX_INT, MAX_LAYERS, MLA_KIND, RECURRENT, SLIDING, Model, from_dict

_TOP = {
    "name": str, "aliases": list, "hf_id": str, "source": dict, "family": str, "n_layers": int, "n_heads": int,
    "n_kv_heads": int, "head_dim": int, "hidden_size": int, "intermediate_size": int, "vocab_size": int,
    "tie_embeddings": bool, "dtype": str, "max_context": int, "sliding_window": int, "layer_pattern": str,
    "mla": dict, "moe": dict, "ssm": dict, "quantization": dict, "notes": str,
}
_REQUIRED = {"name", "n_layers", "n_heads", "n_kv_heads", "head_dim", "hidden_size", "intermediate_size", "dtype"}
_BLOCKS = {
    "source": ({"url": str, "revision": str, "note": str}, {"url"}),
    "mla": ({"kv_lora_rank": int, "qk_rope_head_dim": int, "qk_nope_head_dim": int, "v_head_dim": int,
             "q_lora_rank": int, "gguf_per_head": bool}, {"kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"}),
    "moe": ({"n_experts": int, "n_experts_per_tok": int, "expert_intermediate_size": int, "n_shared_experts": int,
             "shared_expert_intermediate_size": int, "first_dense_layers": int, "layer_period": int,
             "layer_offset": int}, {"n_experts", "n_experts_per_tok", "expert_intermediate_size"}),
    "ssm": ({"kind": str, "d_inner": int, "d_state": int, "d_conv": int, "n_groups": int, "n_heads": int},
            {"kind", "d_inner", "d_state", "d_conv"}),
    "quantization": ({"method": str, "weight_bits": int, "group_size": int, "scale_bits": int, "attention": bool,
                      "mlp": bool, "experts": bool}, {"method", "weight_bits"}),
}
_NON_NEGATIVE = frozenset({"n_shared_experts", "first_dense_layers", "layer_offset", "n_groups", "group_size", "scale_bits"})
_DTYPES = {"fp32", "fp16", "bf16"}


def _fields_ok(data: dict[str, Any], types: dict[str, type], required: set[str]) -> bool:
    if not required <= data.keys() or not data.keys() <= types.keys():
        return False
    for key, value in data.items():
        if type(value) is not types[key]:  # strict: no bool for an int, no None
            return False
        if type(value) is int:
            low = 0 if key in _NON_NEGATIVE else 1
            high = MAX_LAYERS if key == "n_layers" else MAX_HEADS if key in ("n_heads", "n_kv_heads") else MAX_INT
            if not low <= value <= high:
                return False
    return True


def trusted_model(data: Any) -> Optional[Model]:
    """The Model for data the schema would accept as it stands, else None."""
    if type(data) is not dict or not _fields_ok(data, _TOP, _REQUIRED):
        return None
    for key, (types, required) in _BLOCKS.items():
        if key in data and not _fields_ok(data[key], types, required):
            return None
    if any(type(a) is not str for a in data.get("aliases", ())):
        return None
    name = data["name"]
    from ..dtypes import TORCH_NAMES

    dtype = TORCH_NAMES.get(data["dtype"], data["dtype"])
    if not name.strip() or not name.isprintable() or len(name) > 200 or dtype not in _DTYPES:
        return None
    pattern = data.get("layer_pattern")
    if pattern is not None and (not pattern or " " in pattern or set(pattern) - set(LAYER_KINDS)):
        return None
    if data["n_heads"] % data["n_kv_heads"] or (pattern and len(pattern) > data["n_layers"]):
        return None
    kinds = set(pattern or (MLA_KIND if "mla" in data else FULL))
    if (SLIDING in kinds) != ("sliding_window" in data) or (MLA_KIND in kinds and "mla" not in data):
        return None
    if (RECURRENT in kinds) != ("ssm" in data):
        return None
    ssm = data.get("ssm")
    if ssm is not None:
        if ssm["kind"] not in ("mamba", "mamba2") or (ssm["kind"] == "mamba2") != (ssm.get("n_groups", 0) >= 1):
            return None
        if ssm.get("n_heads") is not None and ssm["d_inner"] % ssm["n_heads"]:
            return None
    return from_dict({**data, "dtype": dtype})
