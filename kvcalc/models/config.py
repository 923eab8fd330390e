"""Model configs: the strict pydantic schema every config file is checked against, and loading.

A config holds what the KV cache and the weights depend on. Hugging Face key names are
accepted as aliases (``num_hidden_layers`` for ``n_layers``, ...), so a YAML file can be
written straight from a config.json; ``kvcalc.models.hf`` maps whole config.json files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from ..dtypes import MODEL_DTYPES, TORCH_NAMES
from ..errors import ConfigError
from .files import parse_yaml, read_text
from .model import Model, from_dict
from .rules import BLOCKS, TOP, consistency_problem, int_bounds, layer_kinds, name_problem, pattern_problem, ssm_problem

ZERO_ALLOWED = TOP[2].union(*(t[2] for t in BLOCKS.values()))  # integers whose default is 0

# Strictness comes from the models' config (no str or float for an int); signs are checked by
# validators below, which keeps pydantic's constraint machinery (and its import cost) off the path.
PosInt = int
NonNegInt = int

# Hugging Face key names accepted for kvcalc's fields, so YAML can be written from a config.json.
HF_ALIASES = {
    "num_hidden_layers": "n_layers",
    "num_attention_heads": "n_heads",
    "num_key_value_heads": "n_kv_heads",
    "tie_word_embeddings": "tie_embeddings",
    "torch_dtype": "dtype",
    "max_position_embeddings": "max_context",
    "model_type": "family",
    "num_local_experts": "n_experts",
    "num_experts": "n_experts",
    "n_routed_experts": "n_experts",
    "num_experts_per_tok": "n_experts_per_tok",
    "moe_intermediate_size": "expert_intermediate_size",
}


def _rename_aliases(data: Any) -> Any:
    if not isinstance(data, dict) or not any(k in HF_ALIASES for k in data):
        return data
    out: dict[str, Any] = {}
    given: dict[str, str] = {}
    for key, value in data.items():
        name = HF_ALIASES.get(key, key)
        if name in out:
            raise ValueError(f"{name}: given twice (as {given[name]} and as {key})")
        out[name], given[name] = value, key
    return out


class _Strict(BaseModel):
    # defer_build: no validator is built until a file is validated, so loading a shipped
    # (already tested) config costs no schema building at start-up.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _hf_names(cls, data: Any) -> Any:
        return _rename_aliases(data)

    @field_validator("*", mode="after")
    @classmethod
    def _signs(cls, v: Any, info: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            minimum, limit = int_bounds(info.field_name, ZERO_ALLOWED)
            if v < minimum:
                raise ValueError(f"must be {'>= 0' if minimum == 0 else '> 0'}, got {v}")
            if v > limit:
                raise ValueError(f"{v:.3g} is beyond any model (at most {limit:,})")
        return v


class Source(_Strict):
    """Where a config's numbers come from: the upstream config.json and its revision."""

    url: str
    revision: str = "main"
    note: Optional[str] = None


class MLAConfig(_Strict):
    """Multi-head latent attention (DeepSeek-V2/V3): one compressed latent cached per token."""

    kv_lora_rank: PosInt
    qk_rope_head_dim: PosInt
    qk_nope_head_dim: PosInt
    v_head_dim: PosInt
    q_lora_rank: Optional[PosInt] = None
    gguf_per_head: Optional[bool] = None  # a pre-MLA GGUF: llama.cpp caches K and V per head


class MoEConfig(_Strict):
    """Mixture of experts: layer i is an expert layer when i >= first_dense_layers and
    i % layer_period == layer_offset; other layers use the dense intermediate_size."""

    n_experts: PosInt
    n_experts_per_tok: PosInt
    expert_intermediate_size: PosInt
    n_shared_experts: NonNegInt = 0
    shared_expert_intermediate_size: Optional[PosInt] = None
    first_dense_layers: NonNegInt = 0
    layer_period: PosInt = 1
    layer_offset: NonNegInt = 0


class SSMConfig(_Strict):
    """A recurrent layer's state per sequence (see kvcalc.models.model.SSM): conv of
    (d_inner + 2 x n_groups x d_state) x d_conv, state of d_inner x d_state."""

    kind: Literal["mamba", "mamba2", "gated_delta", "short_conv", "lightning"]
    d_inner: PosInt
    d_state: NonNegInt = 0
    d_conv: NonNegInt = 0
    n_groups: NonNegInt = 0
    n_heads: Optional[PosInt] = None

    @model_validator(mode="after")
    def _groups(self) -> "SSMConfig":
        problem = ssm_problem(self.kind, self.n_groups, self.d_inner, self.n_heads, self.d_state, self.d_conv)
        if problem:
            raise _FieldError(*problem)
        return self


class QuantConfig(_Strict):
    """How the checkpoint stores its weight matrices (see kvcalc.models.model.Quant)."""

    method: str
    weight_bits: PosInt
    group_size: NonNegInt = 0
    scale_bits: NonNegInt = 0
    attention: bool = True
    mlp: bool = True
    experts: bool = True


class ModelConfig(_Strict):
    """One model's architecture, as far as memory is concerned."""

    name: str
    aliases: list[str] = []  # noqa: RUF012 - pydantic copies defaults
    hf_id: Optional[str] = None
    source: Optional[Source] = None
    family: str = "custom"
    n_layers: PosInt
    n_heads: PosInt
    n_kv_heads: PosInt
    head_dim: PosInt
    hidden_size: PosInt
    intermediate_size: PosInt
    vocab_size: Optional[PosInt] = None  # unknown: the cache needs no vocabulary, only the weights do
    tie_embeddings: bool = False
    dtype: Literal["fp32", "fp16", "bf16"]
    max_context: Optional[PosInt] = None  # unknown: no context warnings, and fit needs --max-model-len
    sliding_window: Optional[PosInt] = None
    attention_chunk_size: Optional[PosInt] = None  # Llama 4's chunked (C) layers
    layer_pattern: Optional[str] = None
    mla: Optional[MLAConfig] = None
    moe: Optional[MoEConfig] = None
    ssm: Optional[SSMConfig] = None
    quantization: Optional[QuantConfig] = None
    notes: Optional[str] = None
    unmapped: Optional[str] = None  # what kvcalc does not map: such a model is refused unless assumed standard

    @field_validator("dtype", mode="before")
    @classmethod
    def _torch_dtype(cls, v: Any) -> Any:
        return TORCH_NAMES.get(v, v) if isinstance(v, str) else v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        problem = name_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("layer_pattern")
    @classmethod
    def _pattern(cls, v: Optional[str]) -> Optional[str]:
        if v is None:
            return v
        v = v.replace(" ", "")
        problem = pattern_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "ModelConfig":
        problem = consistency_problem(self.n_heads, self.n_kv_heads, self.n_layers, self.layer_pattern,
                                      self.sliding_window is not None, self.mla is not None, self.ssm is not None,
                                      self.attention_chunk_size is not None)
        if problem:
            raise _FieldError(*problem)
        return self

    @property
    def layer_kinds(self) -> str:
        """As Model.layer_kinds: layer_pattern repeated over n_layers."""
        return layer_kinds(self.n_layers, self.layer_pattern, self.mla is not None)


class _FieldError(ValueError):
    """A model-level check that belongs to one field, so the message can name it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")


def _key_used(field: str, data: dict[str, Any]) -> str:
    """The key a file used for a field: its Hugging Face name when it used that one."""
    if field in data:
        return field
    return next((k for k, v in HF_ALIASES.items() if v == field and k in data), field)


def _describe(err: ValidationError, data: dict[str, Any]) -> str:
    """The first problem of a ValidationError as 'field.path: message', naming a field by the
    key the file used (num_key_value_heads rather than n_kv_heads)."""
    errors = err.errors(include_url=False)
    first = errors[0]
    parts = [str(p) for p in first["loc"]]
    if parts:
        parts[0] = _key_used(parts[0], data)
    loc = ".".join(parts)
    msg = first["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if first["type"] == "extra_forbidden":
        msg = "unknown field"
    elif "got" not in msg and first["type"] != "missing" and "input" in first and not isinstance(first["input"], (dict, list)):
        msg = f"{msg} (got {first['input']!r})"
    text = f"{loc}: {msg}" if loc else msg
    if not loc and ": " in msg:
        field, rest = msg.split(": ", 1)
        text = f"{_key_used(field, data)}: {rest}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return text


def validate(data: Any, origin: str) -> Model:
    """A Model from a parsed mapping, checked by the strict schema; every failure is one
    ConfigError naming origin and field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping of fields, got {type(data).__name__}")
    try:
        checked = ModelConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{origin}: {_describe(err, data)}") from None
    return from_dict(checked.model_dump(exclude_none=True))


def load_yaml(path: str | Path) -> Model:
    """A Model from a YAML file of the schema above."""
    path = Path(path)
    return validate(parse_yaml(read_text(path), str(path)), str(path))


__all__ = ["ModelConfig", "MLAConfig", "MoEConfig", "SSMConfig", "Source", "load_yaml", "validate", "MODEL_DTYPES"]
