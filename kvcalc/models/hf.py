"""Hugging Face config.json -> Model, family by family.

Each family's keys are read as transformers reads them, with the defaults transformers applies
when a key is absent (gemma3's text_config omits its head counts, for one). A key the
calculation needs and cannot default is an error naming that key; never a silent guess.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .files import read_text
from .model import MAX_HEADS, MAX_INT, MAX_LAYERS, Model
from ..errors import ConfigError

_MISSING = object()

# transformers' defaults for keys a published config.json may omit, per model_type.
DEFAULTS: dict[str, dict[str, Any]] = {
    "llama": {"tie_word_embeddings": False, "max_position_embeddings": 2048},
    "mistral": {"tie_word_embeddings": False, "sliding_window": 4096},
    "mixtral": {"tie_word_embeddings": False, "sliding_window": None},
    "qwen2": {"tie_word_embeddings": False, "use_sliding_window": False},
    "qwen2_moe": {"tie_word_embeddings": False, "use_sliding_window": False},
    "qwen3": {"tie_word_embeddings": False, "use_sliding_window": False},
    "qwen3_moe": {"tie_word_embeddings": False, "use_sliding_window": False},
    "gemma": {"tie_word_embeddings": True, "head_dim": 256},
    "gemma2": {"tie_word_embeddings": True, "head_dim": 256, "sliding_window": 4096},
    # Gemma3TextConfig's defaults (the 4B model's text_config relies on them).
    "gemma3_text": {
        "tie_word_embeddings": True, "vocab_size": 262208, "hidden_size": 2304, "intermediate_size": 9216,
        "num_hidden_layers": 26, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
        "max_position_embeddings": 131072, "sliding_window": 4096, "sliding_window_pattern": 6,
    },
    "phi3": {"tie_word_embeddings": False},
    "falcon": {"tie_word_embeddings": True, "multi_query": True, "new_decoder_architecture": False,
               "vocab_size": 65024, "max_position_embeddings": 2048},
    "gpt2": {"tie_word_embeddings": True, "torch_dtype": "float32"},
    "gpt_neox": {"tie_word_embeddings": False},
    "deepseek_v2": {"tie_word_embeddings": False},
    "deepseek_v3": {"tie_word_embeddings": False},
    "jamba": {"tie_word_embeddings": False, "attn_layer_period": 8, "attn_layer_offset": 4,
              "expert_layer_period": 2, "expert_layer_offset": 1,
              "mamba_d_state": 16, "mamba_d_conv": 4, "mamba_expand": 2},
    "nemotron_h": {"tie_word_embeddings": False, "ssm_state_size": 128, "mamba_num_heads": 128,
                   "mamba_head_dim": 64, "n_groups": 8, "conv_kernel": 4},
    # gpt-oss's config.json has no torch_dtype; its attention and activations run in bf16.
    "gpt_oss": {"tie_word_embeddings": False, "torch_dtype": "bfloat16"},
    # The families below hold chunked, recurrent or shared layers; each reads its layer layout
    # as its transformers 5.23.0 config class derives it (_pattern) and its state dims (_ssm).
    "llama4_text": {"tie_word_embeddings": False, "head_dim": 128, "attention_chunk_size": 8192,
                    "no_rope_layer_interval": 4, "max_position_embeddings": 131072},
    "qwen3_next": {"tie_word_embeddings": False, "head_dim": 256, "full_attention_interval": 4,
                   "linear_conv_kernel_dim": 4, "linear_key_head_dim": 128, "linear_value_head_dim": 128,
                   "linear_num_key_heads": 16, "linear_num_value_heads": 32},
    "falcon_h1": {"tie_word_embeddings": False, "mamba_d_ssm": 1024, "mamba_n_heads": 128, "mamba_d_head": "auto",
                  "mamba_n_groups": 1, "mamba_d_state": 256, "mamba_d_conv": 4, "mamba_expand": 2},
    "bamba": {"tie_word_embeddings": False, "mamba_n_heads": 128, "mamba_d_head": "auto", "mamba_n_groups": 1,
              "mamba_d_state": 256, "mamba_d_conv": 4, "mamba_expand": 2, "max_position_embeddings": 262144},
    "granitemoehybrid": {"tie_word_embeddings": True, "mamba_n_heads": 128, "mamba_d_head": "auto", "mamba_n_groups": 1,
                         "mamba_d_state": 256, "mamba_d_conv": 4, "mamba_expand": 2, "max_position_embeddings": 2048},
    "zamba2": {"tie_word_embeddings": True, "mamba_d_state": 64, "mamba_d_conv": 4, "mamba_expand": 2,
               "mamba_ngroups": 1, "n_mamba_heads": 8, "max_position_embeddings": 4096},
    "gemma3n_text": {"tie_word_embeddings": True, "head_dim": 256, "sliding_window": 512, "num_kv_shared_layers": 15},
    "lfm2": {"tie_word_embeddings": True, "conv_L_cache": 3, "max_position_embeddings": 128000},
    "minimax": {"tie_word_embeddings": False},
    "mamba": {"tie_word_embeddings": True, "state_size": 16, "conv_kernel": 4, "expand": 2},
    "mamba2": {"tie_word_embeddings": False, "state_size": 128, "conv_kernel": 4, "expand": 2, "n_groups": 8,
               "head_dim": 64},
}
FAMILY_ALIASES = {"RefinedWeb": "falcon", "RefinedWebModel": "falcon", "gemma3": "gemma3_text", "llama4": "llama4_text",
                  "gemma3n": "gemma3n_text", "falcon_mamba": "mamba"}
# Families with no attention at all: the head counts are the recurrent layers', not attention's.
RECURRENT_ONLY = {"mamba", "mamba2"}
# The families kvcalc reads key by key (DEFAULTS) and those whose layers _pattern lays out; any
# other model_type may hold layers that are not plain attention, and is marked unmapped.
MAPPED = set(DEFAULTS) | {"starcoder2"}
# Keys that change what a layer caches (chunked attention, KV shared across layers, linear or
# recurrent layers and their patterns), by the families whose reading of them kvcalc has.
CACHE_KEYS = {
    "attention_chunk_size": ("llama4_text",), "num_kv_shared_layers": ("gemma3n_text",), "attn_type_list": (),
    "full_attention_interval": ("qwen3_next",), "linear_num_key_heads": ("qwen3_next",), "conv_L_cache": ("lfm2",),
    "layers_block_type": ("nemotron_h", "zamba2", "granitemoehybrid"),
    "hybrid_override_pattern": ("nemotron_h",), "ssm_state_size": ("nemotron_h",),
    "mamba_d_state": ("jamba", "falcon_h1", "bamba", "granitemoehybrid", "zamba2"),
}
# transformers 5.23's layer type names (legacy names remapped as configuration_utils does).
LAYER_TYPES = {"full_attention": "F", "sliding_attention": "S", "chunked_attention": "C", "linear_attention": "R",
               "mamba": "R", "attention": "F", "conv": "R", "hybrid": "H"}
# Which of those each family's layers can be (a name outside its set is refused by name).
FAMILY_TYPES = {"llama4_text": "FC", "qwen3_next": "FR", "bamba": "FR", "granitemoehybrid": "FR", "zamba2": "RH",
                "gemma3n_text": "FS", "lfm2": "FR", "minimax": "FR"}


class _Reader:
    """Reads keys of one config.json, applying its family's defaults, naming keys in errors."""

    def __init__(self, cfg: dict[str, Any], family: str, origin: str):
        self.cfg, self.family, self.origin = cfg, family, origin
        self.defaults = DEFAULTS.get(family, {})
        self.notes: list[str] = []

    def get(self, *keys: str, default: Any = _MISSING) -> Any:
        for key in keys:
            if key in self.cfg:
                if self.cfg[key] is not None:
                    return self.cfg[key]
                if default is not _MISSING:  # an explicit null: "none" where None is allowed
                    return default
        for key in keys:
            if key in self.defaults:
                if self.defaults[key] is not None and key not in self.cfg:
                    self.notes.append(f"{key} absent, transformers' default {self.defaults[key]!r} used")
                return self.defaults[key]
        if default is _MISSING:
            raise self.error(keys[0], "missing (needed to size the cache)")
        return default

    def int(self, *keys: str, default: Any = _MISSING) -> Any:
        value = self.get(*keys, default=default)
        if value is None and default is None:
            return None
        found = next((k for k in keys if k in self.cfg), keys[0])
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.error(found, f"must be a whole number > 0, got {value!r}"[:200])
        if value > MAX_INT:
            raise self.error(found, f"{value:.3g} is beyond any model (at most {MAX_INT:,})")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        """A true/false key (absent or null: the family's default, else `default`)."""
        value = self.get(key, default=default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {value!r}"[:200])
        return value

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.origin}: {key}: {message}")


def _kv_heads(r: _Reader, n_heads: int) -> int:
    if r.family == "falcon":
        # transformers' FalconAttention: new_decoder_architecture -> num_kv_heads,
        # else multi_query -> 1, else one KV head per query head.
        if r.flag("new_decoder_architecture"):
            return r.int("num_kv_heads", "n_head_kv", default=n_heads)
        return 1 if r.flag("multi_query") else n_heads
    return r.int("num_key_value_heads", "num_kv_heads", default=n_heads)  # absent -> MHA


def _pattern(r: _Reader, n_layers: int) -> tuple[str | None, int | None]:
    """(layer_pattern, sliding_window) as transformers lays the layers out."""
    f = r.family
    window = r.get("sliding_window", default=None)
    if "layer_types" in r.cfg and r.cfg["layer_types"] is not None:
        types = r.cfg["layer_types"]
        if not isinstance(types, list) or len(types) != n_layers:
            raise r.error("layer_types", f"expected a list of {n_layers} layer types")
        allowed = FAMILY_TYPES.get(f, "FS")
        known = [t for t, letter in LAYER_TYPES.items() if letter in allowed]
        unknown = sorted({repr(t) for t in types if not isinstance(t, str) or t not in known})
        if unknown:
            raise r.error("layer_types", f"unknown layer type {unknown[0]} for {f or 'this model'} (known: {', '.join(known)})")
        return _shared(r, "".join(LAYER_TYPES[t] for t in types))
    derived = _derived(r, n_layers)
    if derived is not None:
        return _shared(r, derived)
    if f in ("qwen2", "qwen2_moe", "qwen3", "qwen3_moe"):
        if not r.flag("use_sliding_window") or window is None:
            return None, None  # Qwen: use_sliding_window false means no window at all
        first = r.int("max_window_layers", default=n_layers)
        pattern = "".join("S" if i >= first else "F" for i in range(n_layers))
        return (pattern if "S" in pattern else None), (r.int("sliding_window") if "S" in pattern else None)
    if f == "gemma2":
        return "SF", r.int("sliding_window")  # even layers local, odd layers global
    if f == "gemma3_text":
        period = min(r.int("sliding_window_pattern"), n_layers + 1)  # longer than the model: every layer local
        return ("S" * (period - 1) + "F")[:n_layers], r.int("sliding_window")  # (i + 1) % period != 0 -> local
    if f == "jamba":
        period, offset = r.int("attn_layer_period"), r.get("attn_layer_offset")
        if period > n_layers and isinstance(offset, int) and not isinstance(offset, bool) and 0 <= offset < period:
            return "".join("F" if i == offset else "R" for i in range(n_layers)), None  # one period covers the model
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < period:
            raise r.error("attn_layer_offset", f"must be a whole number from 0 to attn_layer_period - 1, got {offset!r}")
        return "".join("F" if i == offset else "R" for i in range(period)), None  # the rest are Mamba
    if f == "nemotron_h":
        return _nemotron_pattern(r, n_layers), None
    if f == "zamba2":
        types = r.cfg.get("layers_block_type")
        if types is None:
            types = ZAMBA2_LAYERS
        if not isinstance(types, list) or len(types) != n_layers or any(t not in ZAMBA2_TYPES for t in types):
            raise r.error("layers_block_type", f"expected a list of {n_layers} of {', '.join(ZAMBA2_TYPES)}")
        return "".join(ZAMBA2_TYPES[t] for t in types), None
    if f in ("mistral", "mixtral", "phi3", "starcoder2") and window is not None:
        return "S", r.int("sliding_window")  # one window on every layer
    return None, None


def _derived(r: _Reader, n_layers: int) -> str | None:
    """The layer letters a family's config class derives when config.json has no layer_types."""
    f = r.family
    if f == "llama4_text":  # no_rope_layers: 1 = a RoPE layer, chunked; 0 = a NoPE layer, global
        flags = r.get("no_rope_layers", default=None)
        if not flags:
            interval = r.int("no_rope_layer_interval")
            flags = [int((i + 1) % interval != 0) for i in range(n_layers)]
        if not isinstance(flags, list) or len(flags) != n_layers or any(x not in (0, 1) for x in flags):
            raise r.error("no_rope_layers", f"expected a list of {n_layers} flags (0 or 1)")
        return "".join("C" if x else "F" for x in flags)
    if f == "qwen3_next":
        interval = r.int("full_attention_interval")
        return "".join("R" if (i + 1) % interval else "F" for i in range(n_layers))
    if f == "bamba":
        idx = r.get("attn_layer_indices", default=None) or []
        if not isinstance(idx, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in idx):
            raise r.error("attn_layer_indices", "expected a list of layer indices")
        return "".join("F" if i in idx else "R" for i in range(n_layers))
    if f == "granitemoehybrid":  # no layer_types: every layer Mamba
        return "R" * n_layers
    if f == "falcon_h1":  # every layer runs attention and Mamba-2 side by side
        return "H" * n_layers
    if f == "gemma3n_text":
        return "".join("F" if (i + 1) % 5 == 0 else "S" for i in range(n_layers))
    if f == "lfm2":
        idx = r.get("full_attn_idxs", default=None)
        if idx is None:
            idx = list(range(n_layers))
        if not isinstance(idx, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in idx):
            raise r.error("full_attn_idxs", "expected a list of layer indices")
        return "".join("F" if i in idx else "R" for i in range(n_layers))
    if f == "minimax":
        if r.cfg.get("attn_type_list") is not None:  # the remote-code key, which transformers 5.23 ignores
            raise r.error("attn_type_list", "the remote-code MiniMax layout: transformers' minimax ignores it (its "
                                            "layers alternate unless layer_types is given) while vLLM reads it; "
                                            "give layer_types (the -hf conversion) to size it")
        return "".join("F" if (i + 1) % 2 else "R" for i in range(n_layers))
    if f in RECURRENT_ONLY:
        return "R" * n_layers
    return None


def _shared(r: _Reader, pattern: str) -> tuple[str, int | None]:
    """(pattern, window): gemma3n's last num_kv_shared_layers layers read an earlier layer's KV
    and hold none (N); the window where any layer slides."""
    if r.family == "gemma3n_text":
        shared = r.get("num_kv_shared_layers")
        if isinstance(shared, bool) or not isinstance(shared, int) or not 0 <= shared < len(pattern):
            raise r.error("num_kv_shared_layers", f"must be a whole number from 0 to {len(pattern) - 1}")
        pattern = pattern[:len(pattern) - shared] + "N" * shared
    return pattern, (r.int("sliding_window") if "S" in pattern else None)


# Zamba2's layers_block_type names and its config class's default layout (54 layers).
ZAMBA2_TYPES = {"mamba": "R", "linear_attention": "R", "hybrid": "H"}
ZAMBA2_LAYERS = (["linear_attention"] + (["linear_attention"] * 5 + ["hybrid"]) * 7 + ["linear_attention"] * 4
                 + ["hybrid"] + ["linear_attention"] * 3 + ["hybrid"] + ["linear_attention"] * 2)

# Nemotron-H's layer letters (hybrid_override_pattern) and names (layers_block_type).
NEMOTRON_LETTERS = {"M": "R", "*": "F", "-": "N", "E": "N"}
NEMOTRON_TYPES = {"mamba": "R", "attention": "F", "mlp": "N", "moe": "N", "linear_attention": "R", "full_attention": "F"}


def _nemotron_pattern(r: _Reader, n_layers: int) -> str:
    types = r.cfg.get("layers_block_type")
    if types is not None:
        if not isinstance(types, list) or any(t not in NEMOTRON_TYPES for t in types):
            raise r.error("layers_block_type", f"expected a list of {', '.join(NEMOTRON_TYPES)}")
        return "".join(NEMOTRON_TYPES[t] for t in types)
    hybrid = r.get("hybrid_override_pattern")
    if not isinstance(hybrid, str) or len(hybrid) != n_layers or set(hybrid) - set(NEMOTRON_LETTERS):
        raise r.error("hybrid_override_pattern", f"expected a string of {n_layers} letters of M, *, - and E")
    return "".join(NEMOTRON_LETTERS[c] for c in hybrid)


def _ssm(r: _Reader, hidden: int, n_heads: int, head_dim: int) -> dict[str, Any] | None:
    """The recurrent layers' state dims, as each family's transformers mixer derives them."""
    f = r.family
    if f == "jamba":  # JambaMambaMixer: intermediate = mamba_expand x hidden_size
        return {"kind": "mamba", "d_inner": r.int("mamba_expand") * hidden, "d_state": r.int("mamba_d_state"),
                "d_conv": r.int("mamba_d_conv")}
    if f == "mamba":  # MambaMixer: intermediate = expand x hidden_size
        return {"kind": "mamba", "d_inner": r.int("intermediate_size", default=r.int("expand") * hidden),
                "d_state": r.int("state_size"), "d_conv": r.int("conv_kernel")}
    if f == "nemotron_h":  # NemotronHMamba2Mixer: intermediate = mamba_num_heads x mamba_head_dim
        heads = r.int("mamba_num_heads")
        return {"kind": "mamba2", "d_inner": heads * r.int("mamba_head_dim"), "d_state": r.int("ssm_state_size"),
                "d_conv": r.int("conv_kernel", "mamba_d_conv"), "n_groups": r.int("n_groups", "mamba_n_groups"),
                "n_heads": heads}
    if f == "mamba2":  # Mamba2Mixer: num_heads x head_dim
        heads = r.int("num_heads")
        return {"kind": "mamba2", "d_inner": heads * r.int("head_dim"), "d_state": r.int("state_size"),
                "d_conv": r.int("conv_kernel"), "n_groups": r.int("n_groups"), "n_heads": heads}
    if f in ("falcon_h1", "bamba", "granitemoehybrid"):  # intermediate = mamba_d_ssm or expand x hidden
        inner = (r.int("mamba_d_ssm", default=None) if f == "falcon_h1" else None) or r.int("mamba_expand") * hidden
        heads = r.int("mamba_n_heads")
        d_head = r.get("mamba_d_head")
        d_head = inner // heads if d_head == "auto" else r.int("mamba_d_head")
        if heads * d_head != inner:
            raise r.error("mamba_d_head", f"{heads} heads x {d_head} do not make the Mamba width {inner}")
        return {"kind": "mamba2", "d_inner": inner, "d_state": r.int("mamba_d_state"), "d_conv": r.int("mamba_d_conv"),
                "n_groups": r.int("mamba_n_groups"), "n_heads": heads}
    if f == "zamba2":  # Zamba2MambaMixer: expand x hidden over n_mamba_heads
        heads = r.int("n_mamba_heads")
        return {"kind": "mamba2", "d_inner": r.int("mamba_expand") * hidden, "d_state": r.int("mamba_d_state"),
                "d_conv": r.int("mamba_d_conv"), "n_groups": r.int("mamba_ngroups"), "n_heads": heads}
    if f == "qwen3_next":  # Qwen3NextGatedDeltaNet: conv over q, k, v; state per value head of k x v
        v_heads = r.int("linear_num_value_heads")
        return {"kind": "gated_delta", "d_inner": v_heads * r.int("linear_value_head_dim"),
                "d_state": r.int("linear_key_head_dim"), "d_conv": r.int("linear_conv_kernel_dim"),
                "n_groups": r.int("linear_num_key_heads"), "n_heads": v_heads}
    if f == "lfm2":  # Lfm2ShortConv: a window of conv_L_cache over hidden_size channels
        return {"kind": "short_conv", "d_inner": hidden, "d_conv": r.int("conv_L_cache")}
    if f == "minimax":  # MiniMaxLightningAttention: a head_dim x head_dim state per head
        return {"kind": "lightning", "d_inner": n_heads * head_dim, "d_state": head_dim, "n_heads": n_heads}
    return None


def _mla(r: _Reader) -> dict[str, Any] | None:
    if "kv_lora_rank" not in r.cfg:
        return None
    return {
        "kv_lora_rank": r.int("kv_lora_rank"),
        "qk_rope_head_dim": r.int("qk_rope_head_dim"),
        "qk_nope_head_dim": r.int("qk_nope_head_dim"),
        "v_head_dim": r.int("v_head_dim"),
        "q_lora_rank": r.int("q_lora_rank", default=None),
    }


def _moe(r: _Reader, n_layers: int, intermediate: int) -> dict[str, Any] | None:
    n = r.get("num_local_experts", "n_routed_experts", "num_experts", default=None)
    if n is None or (isinstance(n, int) and not isinstance(n, bool) and n <= 1):
        return None
    r.int("num_local_experts", "n_routed_experts", "num_experts")  # a whole number, or one line naming the key
    moe: dict[str, Any] = {
        "n_experts": r.int("num_local_experts", "n_routed_experts", "num_experts"),
        "n_experts_per_tok": r.int("num_experts_per_tok", "experts_per_token"),
        "expert_intermediate_size": r.int("moe_intermediate_size", default=intermediate),
    }
    shared = r.get("n_shared_experts", default=0) or 0
    if shared:
        moe["n_shared_experts"] = shared
    if r.get("shared_expert_intermediate_size", default=None):
        moe["n_shared_experts"] = 1
        moe["shared_expert_intermediate_size"] = r.int("shared_expert_intermediate_size")
    if r.family in ("deepseek_v2", "deepseek_v3"):
        moe["first_dense_layers"] = r.get("first_k_dense_replace", default=0)
        moe["layer_period"] = r.int("moe_layer_freq", default=1)
    elif r.family == "jamba":
        moe["layer_period"] = r.int("expert_layer_period")
        moe["layer_offset"] = r.get("expert_layer_offset")
    elif r.family in ("qwen2_moe", "qwen3_moe"):
        moe["layer_period"] = r.int("decoder_sparse_step", default=1)
        moe["layer_offset"] = moe["layer_period"] - 1  # (i + 1) % step == 0 -> experts
        if r.get("mlp_only_layers", default=[]):
            r.notes.append("mlp_only_layers listed: those layers are counted as expert layers")
    return moe


def _name_of(cfg: dict[str, Any], path: Path | None) -> tuple[str, str | None]:
    hf_id = cfg.get("_name_or_path")
    if (isinstance(hf_id, str) and hf_id.count("/") == 1 and not hf_id.startswith((".", "/"))
            and hf_id.isprintable() and len(hf_id) <= 200):  # else not a Hugging Face id: named after the file
        return hf_id.split("/")[1].lower(), hf_id
    if path is None:
        return "config", None
    return (path.parent.name if path.stem == "config" and path.parent.name else path.stem).lower(), None


def from_hf_dict(cfg: Any, origin: str, path: Path | None = None) -> Model:
    """A Model from a parsed config.json mapping."""
    if not isinstance(cfg, dict):
        raise ConfigError(f"{origin}: expected a JSON object, got {type(cfg).__name__}")
    top = cfg
    if "text_config" in cfg and cfg["text_config"] is not None and not isinstance(cfg["text_config"], dict):
        raise ConfigError(f"{origin}: text_config: expected an object, got {type(cfg['text_config']).__name__}")
    if isinstance(cfg.get("text_config"), dict):  # multimodal wrappers (gemma3, llava, ...)
        cfg = {**{k: v for k, v in top.items() if k in ("torch_dtype", "_name_or_path")}, **cfg["text_config"]}
        cfg.setdefault("model_type", f"{top.get('model_type', '')}_text")
    raw_family = str(cfg.get("model_type") or "")
    family = FAMILY_ALIASES.get(raw_family, raw_family)
    r = _Reader(cfg, family, origin)
    unmapped = None
    if family not in MAPPED:
        unmapped = f"model_type {raw_family!r}" if raw_family else "a config.json without model_type"
        r.notes.append(f"model_type {raw_family!r} has no kvcalc mapping; its common keys were used")
    else:
        extra = [k for k, readers in CACHE_KEYS.items() if cfg.get(k) not in (None, False, 0, [], "")
                 and family not in readers]
        if family == "nemotron_h" and cfg.get("mamba_ssm_cache_dtype") not in (None, "float32"):
            extra.insert(0, "mamba_ssm_cache_dtype")  # vLLM keeps the SSM state in it; kvcalc has fp32 only
        if extra:
            unmapped = f"{raw_family}'s {extra[0]} (a key that changes the cache, which kvcalc does not read)"

    if family == "nemotron_h" and isinstance(cfg.get("layers_block_type"), list) and cfg["layers_block_type"]:
        n_layers = len(cfg["layers_block_type"])  # transformers 5: the list decides, num_hidden_layers is ignored
    elif family == "nemotron_h" and cfg.get("num_hidden_layers") is None and isinstance(cfg.get("hybrid_override_pattern"), str):
        n_layers = len(cfg["hybrid_override_pattern"]) or r.int("num_hidden_layers")  # the pattern's length
    else:
        n_layers = r.int("num_hidden_layers", "n_layer", "num_layers")
    if n_layers > MAX_LAYERS:  # bounded before any per-layer pattern is built
        raise r.error("num_hidden_layers", f"{n_layers:,} is beyond any model (at most {MAX_LAYERS:,})")
    # no attention in a pure Mamba: one nominal head of hidden_size, never cached
    n_heads = 1 if family in RECURRENT_ONLY else r.int("num_attention_heads", "n_head", "num_heads")
    if n_heads > MAX_HEADS:
        raise r.error("num_attention_heads", f"{n_heads:,} is beyond any model (at most {MAX_HEADS:,})")
    hidden = r.int("hidden_size", "n_embd", "d_model")
    n_kv = 1 if family in RECURRENT_ONLY else _kv_heads(r, n_heads)
    if n_heads % n_kv:
        raise r.error("num_key_value_heads", f"{n_kv} does not divide num_attention_heads {n_heads}")
    mla = _mla(r)
    if mla:
        head_dim = mla["qk_nope_head_dim"] + mla["qk_rope_head_dim"]
    elif family == "zamba2":  # Zamba2Config: the shared attention runs on 2 x hidden_size
        head_dim = 2 * hidden // n_heads
    elif family in RECURRENT_ONLY:
        head_dim = hidden
    elif r.get("head_dim", "attention_head_dim", default=None) is not None:
        head_dim = r.int("head_dim", "attention_head_dim")  # an explicit head_dim wins
    elif hidden % n_heads:
        raise r.error("head_dim", f"absent, and hidden_size {hidden} is not a multiple of {n_heads} heads")
    else:
        head_dim = hidden // n_heads
    if family == "gemma3n_text" and isinstance(cfg.get("intermediate_size"), list) and cfg["intermediate_size"]:
        cfg["intermediate_size"] = cfg["intermediate_size"][0]  # one width per layer: kvcalc counts no gemma3n weights
    intermediate = r.int("intermediate_size", "n_inner", "ffn_hidden_size", "block_ff_dim", default=4 * hidden)
    pattern, window = _pattern(r, n_layers)
    if mla:
        pattern = (pattern or "F").replace("F", "M")

    max_context = r.int("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", default=None)
    rope = cfg.get("rope_scaling") or cfg.get("rope_parameters")
    if isinstance(rope, dict):  # YaRN / dynamic / LongRoPE: the trained context is the original x factor
        factor, original = rope.get("factor"), rope.get("original_max_position_embeddings")
        kind = str(rope.get("rope_type") or rope.get("type") or "")
        if max_context and kind in ("yarn", "dynamic", "longrope") and isinstance(factor, (int, float)) and not isinstance(factor, bool) \
                and isinstance(original, int) and not isinstance(original, bool) and 0 < factor <= 1024 and 0 < original:
            max_context = max(max_context, min(int(original * factor), MAX_INT))
    name, hf_id = _name_of(top, path)
    data: dict[str, Any] = {
        "name": name,
        "family": family or "custom",
        "n_layers": n_layers,
        "n_heads": n_heads,
        "n_kv_heads": n_kv,
        "head_dim": head_dim,
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "vocab_size": r.int("vocab_size", default=None),
        "tie_embeddings": r.flag("tie_word_embeddings", default=True),
        "dtype": r.get("torch_dtype", "dtype", default="float32"),
        "max_context": max_context,
    }
    if hf_id:
        data["hf_id"] = hf_id
        data["source"] = {"url": f"https://huggingface.co/{hf_id}/blob/main/config.json"}
    elif path is not None:  # a file of one's own: no revision to speak of
        data["source"] = {"url": path.resolve().as_uri(), "revision": "local file"}
    if window is not None:
        data["sliding_window"] = window
    if pattern and pattern not in ("F", "M"):
        data["layer_pattern"] = pattern
    if mla:
        data["mla"] = {k: v for k, v in mla.items() if v is not None}
    moe = _moe(r, n_layers, intermediate)
    if moe:
        data["moe"] = moe
    if pattern and ("R" in pattern or "H" in pattern):
        data["ssm"] = _ssm(r, hidden, n_heads, head_dim)
    if pattern and "C" in pattern:
        if "attention_chunk_size" in cfg and cfg["attention_chunk_size"] is None:
            raise r.error("attention_chunk_size", "null while layers are chunked: transformers 5.23 cannot build "
                                                  "such a cache, and vLLM and llama.cpp read no chunk")
        data["attention_chunk_size"] = r.int("attention_chunk_size")
    qcfg = top.get("quantization_config", cfg.get("quantization_config"))
    if qcfg is not None:
        from .quantization import from_config

        quant = from_config(qcfg)
        if quant is not None:
            data["quantization"] = quant
        else:
            r.notes.append("quantization_config of a kind kvcalc does not read: weights counted in the config's dtype")
    if r.notes:
        data["notes"] = "; ".join(dict.fromkeys(r.notes))
    if unmapped:
        data["unmapped"] = unmapped
    from .trusted import trusted_model

    data = {k: v for k, v in data.items() if v is not None}  # an unknown vocabulary or context stays unknown
    model = trusted_model(data)
    if model is None:
        from .config import validate

        model = validate(data, origin)
    return model


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose repeated keys agree (json would keep the last one silently). Published
    configs do repeat a key with the same value (gemma-2-9b's final_logit_softcapping): harmless."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out and out[key] != value:
            raise _Duplicate(key)
        out[key] = value
    return out


def load_hf_config(path: str | Path) -> Model:
    """A Model from a Hugging Face config.json file."""
    path = Path(path)
    text = read_text(path)
    try:
        cfg = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid JSON: nested too deep") from None
    except _Duplicate as dup:
        raise ConfigError(f"{path}: key {dup.args[0]!r} is given twice, with different values") from None
    return from_hf_dict(cfg, str(path), path)

