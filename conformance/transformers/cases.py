"""Tiny random-weight models of every family kvcalc maps, from the published config.json fixtures.

A case keeps what the cache depends on (layer kinds, heads, KV heads, head_dim, MLA latent
dims, Mamba state dims) and shrinks what it does not (vocab, MLP and expert widths, experts,
q_lora_rank, and hidden_size wherever the family takes an explicit head_dim). Windows shrink to
WINDOW tokens so that a PREFILL-token prompt crosses them. Families whose head_dim is
hidden_size / n_heads keep their hidden size and keep fewer layers instead (MAX_LAYERS); so do
MLA models, whose query-side width (n_heads) the latent cache does not depend on.

kvcalc reads the very dict transformers builds its model from, through its own config.json
mapper, so a case checks the mapper and the engine rules together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "hf"
WINDOW = 24
PREFILL = 40  # > WINDOW: the sliding layers drop tokens during the prefill
BATCH = 2

# Families whose attention takes an explicit head_dim: hidden_size can shrink to HIDDEN.
EXPLICIT_HEAD_DIM = {"llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe", "gemma", "gemma2",
                     "gemma3_text", "gpt_oss", "nemotron_h"}
HIDDEN = 64  # at least; a multiple of n_heads, as transformers' config validation asks
SMALL = 32  # MLP / expert widths
# Layers kept where hidden_size cannot shrink (one whole period of the layer pattern).
MAX_LAYERS = {"falcon": 2, "gpt_neox": 2, "phi3": 2, "jamba": 8, "gpt2": 4, "nemotron_h": 24}
MLA_HEADS = 8

WIDTH_KEYS = ("intermediate_size", "moe_intermediate_size", "shared_expert_intermediate_size", "ffn_hidden_size",
              "n_inner", "expert_intermediate_size")
EXPERT_KEYS = ("num_local_experts", "n_routed_experts", "num_experts")


@dataclass(frozen=True)
class Case:
    name: str
    config: dict[str, Any]


def _flatten(cfg: dict[str, Any]) -> dict[str, Any]:
    """A multimodal wrapper's text model, as its own config (gemma3 -> gemma3_text)."""
    if isinstance(cfg.get("text_config"), dict):
        text = dict(cfg["text_config"])
        text.setdefault("model_type", f"{cfg['model_type']}_text")
        for key in ("torch_dtype", "_name_or_path"):
            if key in cfg:
                text.setdefault(key, cfg[key])
        return text
    return dict(cfg)


def shrink(cfg: dict[str, Any]) -> dict[str, Any]:
    """The published config with everything the cache does not depend on made small."""
    cfg = {k: v for k, v in _flatten(cfg).items() if not k.startswith("_") or k == "_name_or_path"}
    cfg.pop("quantization_config", None)
    cfg.pop("auto_map", None)
    if cfg.get("model_type") in ("RefinedWeb", "RefinedWebModel"):
        # the original RefinedWeb keys, as transformers 5's FalconConfig names them (kvcalc reads both)
        cfg["model_type"] = "falcon"
        for old, new in (("n_head", "num_attention_heads"), ("n_head_kv", "num_kv_heads"), ("n_layer", "num_hidden_layers")):
            if old in cfg:
                cfg[new] = cfg.pop(old)
    family = cfg["model_type"]
    cfg["vocab_size"] = 256
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):  # ids of the published vocabulary
        if isinstance(cfg.get(key), int) and cfg[key] >= 256:
            cfg[key] = 0
    for key in WIDTH_KEYS:
        if key in cfg and cfg[key]:
            cfg[key] = SMALL
    if family in ("falcon", "gpt_neox", "phi3", "jamba"):
        cfg.setdefault("ffn_hidden_size" if family == "falcon" else "intermediate_size", SMALL)
    for key in EXPERT_KEYS:
        if cfg.get(key):
            cfg[key] = 4
    for key, value in (("num_experts_per_tok", 2), ("n_group", 1), ("topk_group", 1), ("n_shared_experts", 1)):
        if cfg.get(key):
            cfg[key] = value
    if cfg.get("q_lora_rank"):
        cfg["q_lora_rank"] = SMALL
    if "kv_lora_rank" in cfg:  # the latent is what is cached; query heads are not
        cfg["num_attention_heads"] = cfg["num_key_value_heads"] = MLA_HEADS
    if cfg.get("sliding_window") and (family not in ("qwen2", "qwen3", "qwen3_moe") or cfg.get("use_sliding_window")):
        cfg["sliding_window"] = WINDOW
    if family in EXPLICIT_HEAD_DIM or "kv_lora_rank" in cfg:
        heads = cfg.get("num_attention_heads")
        if "head_dim" not in cfg and "attention_head_dim" not in cfg and heads and "kv_lora_rank" not in cfg:
            cfg["head_dim"] = cfg["hidden_size"] // heads
        heads = cfg.get("num_attention_heads") or 1
        cfg["hidden_size"] = heads * -(-HIDDEN // heads)
    cap = MAX_LAYERS.get(family)
    n = cfg.get("num_hidden_layers") or cfg.get("n_layer")
    if cap and n and n > cap:
        for key in ("num_hidden_layers", "n_layer"):
            if key in cfg:
                cfg[key] = cap
        if isinstance(cfg.get("hybrid_override_pattern"), str):
            cfg["hybrid_override_pattern"] = cfg["hybrid_override_pattern"][:cap]
    if isinstance(cfg.get("layer_types"), list):
        cfg["layer_types"] = cfg["layer_types"][: cfg.get("num_hidden_layers")]
    return cfg


def cases() -> list[Case]:
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        out.append(Case(path.stem, shrink(json.loads(path.read_text()))))
    return out
