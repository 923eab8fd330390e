"""A checkpoint's quantization_config, read as kvcalc's `quantization` block (kvcalc.models.model.Quant).

Each method stores a quantized weight matrix of n parameters as n x weight_bits plus, per group
of group_size parameters, scale_bits of scale (and zero point). Layouts, as the checkpoints
store them:
- fp8 (DeepSeek-V3): e4m3 weights, one fp32 scale_inv per weight_block_size block (128 x 128).
- mxfp4 (gpt-oss): 4-bit blocks of 32 with one 8-bit (E8M0) scale each.
- nvfp4 (modelopt NVFP4, compressed-tensors nvfp4-pack-quantized): 4-bit, one fp8 scale per 16
  (plus a per-tensor fp32 scale, not counted).
- awq / gptq: 4 (or 2, 3, 8)-bit packed weights, an fp16 scale and a packed `bits`-bit zero point
  per group (gptq's g_idx, one int32 per input row, is not counted).
- compressed-tensors: config_groups' weights: num_bits, group_size (strategy group), a 16-bit
  scale per group.
- bitsandbytes: 4-bit (nf4/fp4) with an fp32 absmax per 64 (8 bits with double quantization);
  8-bit with a row-wise scale (not counted).
Embeddings, the LM head, norms, biases and routers stay in the model's dtype. Modules the config
leaves unquantized (modules_to_not_convert, ignore) are read for attention, dense MLP and experts.
"""

from __future__ import annotations

from typing import Any, Optional


# The block formats by name, as checkpoints store them and as --weights-dtype asks for them.
FORMATS = {
    "mxfp4": {"weight_bits": 4, "group_size": 32, "scale_bits": 8},  # one E8M0 scale per 32
    "nvfp4": {"weight_bits": 4, "group_size": 16, "scale_bits": 8},  # one E4M3 scale per 16
}


def _skips(names: Any) -> dict[str, bool]:
    """Which of attention / mlp / experts a list of module patterns leaves unquantized."""
    out = {"attention": False, "mlp": False, "experts": False}
    for raw in names or []:
        if not isinstance(raw, str):
            continue
        n = raw.lower()
        if "attn" in n or "attention" in n:
            out["attention"] = True
        elif "experts" in n:
            out["experts"] = True
        elif ".mlp" in n and not any(w in n for w in ("router", "gate.", ".gate", "shared")):
            out["mlp"] = out["experts"] = True
    return out


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def from_config(q: Any) -> Optional[dict[str, Any]]:
    """The `quantization` block for a quantization_config mapping, or None when it describes no
    weight format kvcalc knows (the weights are then counted in the config's dtype, with a note)."""
    if not isinstance(q, dict):
        return None
    method = str(q.get("quant_method") or q.get("quant_algo") or "").lower()
    skip = _skips(q.get("modules_to_not_convert") or q.get("ignore") or q.get("exclude_modules"))
    block: Optional[dict[str, Any]] = None
    if method == "fp8":
        size = q.get("weight_block_size")
        group = size[0] * size[1] if isinstance(size, list) and len(size) == 2 and all(_int(x, 0) for x in size) else 0
        block = {"weight_bits": 8, "group_size": group, "scale_bits": 32 if group else 0}
    elif method == "mxfp4":
        block = dict(FORMATS["mxfp4"])
    elif method in ("modelopt", "nvfp4") or str(q.get("quant_algo", "")).upper() == "NVFP4":
        algo = str(q.get("quant_algo") or "").upper()
        if algo.startswith("FP8"):
            block = {"weight_bits": 8, "group_size": 0, "scale_bits": 0}
        else:
            block = {**FORMATS["nvfp4"], "group_size": _int(q.get("group_size"), FORMATS["nvfp4"]["group_size"])}
        method = "nvfp4" if block["weight_bits"] == 4 else "fp8"
    elif method in ("awq", "gptq", "awq_marlin", "gptq_marlin", "auto-round", "autoround"):
        bits = _int(q.get("bits") or q.get("w_bit"), 4)
        group = q.get("group_size", q.get("q_group_size", 128))
        group = group if isinstance(group, int) and group > 0 else 0
        block = {"weight_bits": bits, "group_size": group, "scale_bits": 16 + bits if group else 0}
    elif method == "compressed-tensors":
        fmt = str(q.get("format") or "")
        groups = q.get("config_groups")
        weights = next((g.get("weights") for g in (groups or {}).values() if isinstance(g, dict)
                        and isinstance(g.get("weights"), dict)), None) if isinstance(groups, dict) else None
        if "nvfp4" in fmt:
            block = dict(FORMATS["nvfp4"])
            method = "nvfp4"
        elif weights is not None:
            bits = _int(weights.get("num_bits"), 8)
            group = weights.get("group_size") if weights.get("strategy") == "group" else None
            group = group if isinstance(group, int) and group > 0 else 0
            block = {"weight_bits": bits, "group_size": group, "scale_bits": 16 if group else 0}
    elif method == "bitsandbytes" or q.get("load_in_4bit") or q.get("load_in_8bit"):
        method = "bitsandbytes"
        if q.get("load_in_4bit"):
            block = {"weight_bits": 4, "group_size": 64, "scale_bits": 8 if q.get("bnb_4bit_use_double_quant") else 32}
        elif q.get("load_in_8bit"):
            block = {"weight_bits": 8, "group_size": 0, "scale_bits": 0}
    if block is None:
        return None
    out = {"method": method, **block}
    for part in ("attention", "mlp", "experts"):
        if skip[part]:
            out[part] = False
    return out


def label(q: Any) -> str:
    """'mxfp4 (mlp, experts)' for a Quant."""
    parts = [p for p in ("attention", "mlp", "experts") if getattr(q, p)]
    return f"{q.method} ({', '.join(parts)})" if len(parts) < 3 else q.method
