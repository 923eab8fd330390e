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
}
FAMILY_ALIASES = {"RefinedWeb": "falcon", "RefinedWebModel": "falcon", "gemma3": "gemma3_text"}
# The families kvcalc reads key by key (DEFAULTS) and those whose layers _pattern lays out; any
# other model_type may hold layers that are not plain attention, and is marked unmapped.
MAPPED = set(DEFAULTS) | {"starcoder2"}
# Keys that change what a layer caches (chunked attention, KV shared across layers, linear or
# recurrent layers and their patterns), by the families whose reading of them kvcalc has.
CACHE_KEYS = {
    "attention_chunk_size": (), "num_kv_shared_layers": (), "attn_type_list": (), "full_attention_interval": (),
    "linear_num_key_heads": (), "conv_L_cache": (), "layers_block_type": ("nemotron_h",),
    "hybrid_override_pattern": ("nemotron_h",), "ssm_state_size": ("nemotron_h",), "mamba_d_state": ("jamba",),
}
LAYER_TYPES = {"full_attention": "F", "sliding_attention": "S"}


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
        unknown = sorted({repr(t) for t in types if not isinstance(t, str) or t not in LAYER_TYPES})
        if unknown:
            raise r.error("layer_types", f"unknown layer type {unknown[0]} (known: {', '.join(LAYER_TYPES)})")
        pattern = "".join(LAYER_TYPES[t] for t in types)
        return pattern, (r.int("sliding_window") if "S" in pattern else None)
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
    if f in ("mistral", "mixtral", "phi3", "starcoder2") and window is not None:
        return "S", r.int("sliding_window")  # one window on every layer
    return None, None


# Nemotron-H's layer letters (hybrid_override_pattern) and names (layers_block_type).
NEMOTRON_LETTERS = {"M": "R", "*": "F", "-": "N", "E": "N"}
NEMOTRON_TYPES = {"mamba": "R", "attention": "F", "mlp": "N", "moe": "N"}


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


def _ssm(r: _Reader, hidden: int) -> dict[str, Any] | None:
    """The Mamba state dims of a hybrid, as transformers' mixers derive them."""
    if r.family == "jamba":  # JambaMambaMixer: intermediate = mamba_expand x hidden_size
        return {"kind": "mamba", "d_inner": r.int("mamba_expand") * hidden, "d_state": r.int("mamba_d_state"),
                "d_conv": r.int("mamba_d_conv")}
    if r.family == "nemotron_h":  # NemotronHMamba2Mixer: intermediate = mamba_num_heads x mamba_head_dim
        heads = r.int("mamba_num_heads")
        return {"kind": "mamba2", "d_inner": heads * r.int("mamba_head_dim"), "d_state": r.int("ssm_state_size"),
                "d_conv": r.int("conv_kernel", "mamba_d_conv"), "n_groups": r.int("n_groups", "mamba_n_groups"),
                "n_heads": heads}
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
        if extra:
            unmapped = f"{raw_family}'s {extra[0]} (a key that changes the cache, which kvcalc does not read)"

    if family == "nemotron_h" and isinstance(cfg.get("layers_block_type"), list) and cfg["layers_block_type"]:
        n_layers = len(cfg["layers_block_type"])  # transformers 5: the list decides, num_hidden_layers is ignored
    else:
        n_layers = r.int("num_hidden_layers", "n_layer", "num_layers")
    if n_layers > MAX_LAYERS:  # bounded before any per-layer pattern is built
        raise r.error("num_hidden_layers", f"{n_layers:,} is beyond any model (at most {MAX_LAYERS:,})")
    n_heads = r.int("num_attention_heads", "n_head", "num_heads")
    if n_heads > MAX_HEADS:
        raise r.error("num_attention_heads", f"{n_heads:,} is beyond any model (at most {MAX_HEADS:,})")
    hidden = r.int("hidden_size", "n_embd", "d_model")
    n_kv = _kv_heads(r, n_heads)
    if n_heads % n_kv:
        raise r.error("num_key_value_heads", f"{n_kv} does not divide num_attention_heads {n_heads}")
    mla = _mla(r)
    if mla:
        head_dim = mla["qk_nope_head_dim"] + mla["qk_rope_head_dim"]
    elif r.get("head_dim", "attention_head_dim", default=None) is not None:
        head_dim = r.int("head_dim", "attention_head_dim")  # an explicit head_dim wins
    elif hidden % n_heads:
        raise r.error("head_dim", f"absent, and hidden_size {hidden} is not a multiple of {n_heads} heads")
    else:
        head_dim = hidden // n_heads
    intermediate = r.int("intermediate_size", "n_inner", "ffn_hidden_size", default=4 * hidden)
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
    if pattern and "R" in pattern:
        data["ssm"] = _ssm(r, hidden)
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

