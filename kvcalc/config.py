"""Model configs: strict pydantic schemas, and loading them from YAML.

A config holds what the KV cache and the weights depend on. Hugging Face key names are
accepted as aliases (``num_hidden_layers`` for ``n_layers``, ...), so a YAML file can be
written straight from a config.json; ``kvcalc.hf`` maps whole config.json files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .dtypes import MODEL_DTYPES, TORCH_NAMES
from .errors import ConfigError

PosInt = Annotated[int, Field(strict=True, gt=0)]
NonNegInt = Annotated[int, Field(strict=True, ge=0)]

# Layer kinds in ``layer_pattern``: one letter a layer, the pattern repeating over n_layers.
FULL, SLIDING, NONE, MLA_KIND = "F", "S", "N", "M"
LAYER_KINDS = {FULL: "full", SLIDING: "sliding", NONE: "none", MLA_KIND: "mla"}


def _alias(*names: str) -> Any:
    return AliasChoices(*names)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


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

    @property
    def latent_dim(self) -> int:
        """Elements cached per token per layer: kv_lora_rank + qk_rope_head_dim."""
        return self.kv_lora_rank + self.qk_rope_head_dim


class MoEConfig(_Strict):
    """Mixture of experts: layer i is an expert layer when i >= first_dense_layers and
    i % layer_period == layer_offset; other layers use the dense intermediate_size."""

    n_experts: PosInt = Field(validation_alias=_alias("n_experts", "num_local_experts", "num_experts", "n_routed_experts"))
    n_experts_per_tok: PosInt = Field(validation_alias=_alias("n_experts_per_tok", "num_experts_per_tok"))
    expert_intermediate_size: PosInt = Field(
        validation_alias=_alias("expert_intermediate_size", "moe_intermediate_size")
    )
    n_shared_experts: NonNegInt = 0
    shared_expert_intermediate_size: Optional[PosInt] = None
    first_dense_layers: NonNegInt = 0
    layer_period: PosInt = 1
    layer_offset: NonNegInt = 0

    def is_expert_layer(self, i: int) -> bool:
        return i >= self.first_dense_layers and i % self.layer_period == self.layer_offset


class ModelConfig(_Strict):
    """One model's architecture, as far as memory is concerned."""

    name: str
    aliases: tuple[str, ...] = ()
    hf_id: Optional[str] = None
    source: Optional[Source] = None
    family: str = Field(default="custom", validation_alias=_alias("family", "model_type"))
    n_layers: PosInt = Field(validation_alias=_alias("n_layers", "num_hidden_layers"))
    n_heads: PosInt = Field(validation_alias=_alias("n_heads", "num_attention_heads"))
    n_kv_heads: PosInt = Field(validation_alias=_alias("n_kv_heads", "num_key_value_heads"))
    head_dim: PosInt
    hidden_size: PosInt
    intermediate_size: PosInt
    vocab_size: PosInt
    tie_embeddings: bool = Field(default=False, strict=True, validation_alias=_alias("tie_embeddings", "tie_word_embeddings"))
    dtype: Literal["fp32", "fp16", "bf16"] = Field(validation_alias=_alias("dtype", "torch_dtype"))
    max_context: PosInt = Field(validation_alias=_alias("max_context", "max_position_embeddings"))
    sliding_window: Optional[PosInt] = None
    layer_pattern: Optional[str] = None
    mla: Optional[MLAConfig] = None
    moe: Optional[MoEConfig] = None
    notes: Optional[str] = None

    @field_validator("dtype", mode="before")
    @classmethod
    def _torch_dtype(cls, v: Any) -> Any:
        return TORCH_NAMES.get(v, v) if isinstance(v, str) else v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v

    @field_validator("layer_pattern")
    @classmethod
    def _pattern(cls, v: Optional[str]) -> Optional[str]:
        if v is None:
            return v
        v = v.replace(" ", "")
        bad = sorted(set(v) - set(LAYER_KINDS))
        if not v or bad:
            raise ValueError(
                "letters must be F (full), S (sliding), M (MLA) or N (no attention)"
            )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "ModelConfig":
        if self.n_heads % self.n_kv_heads:
            raise _FieldError(
                "n_kv_heads",
                f"{self.n_heads} query heads do not split evenly over {self.n_kv_heads} KV heads "
                "(n_heads must be a multiple of n_kv_heads)",
            )
        kinds = set(self.layer_kinds)
        if SLIDING in kinds and self.sliding_window is None:
            raise _FieldError("layer_pattern", "has sliding (S) layers but sliding_window is not set")
        if self.sliding_window is not None and SLIDING not in kinds:
            raise _FieldError("sliding_window", "is set but no layer is sliding (add S to layer_pattern)")
        if MLA_KIND in kinds and self.mla is None:
            raise _FieldError("layer_pattern", "has MLA (M) layers but the mla block is missing")
        if self.layer_pattern and len(self.layer_pattern) > self.n_layers:
            raise _FieldError(
                "layer_pattern", f"has {len(self.layer_pattern)} letters for {self.n_layers} layers"
            )
        return self

    @property
    def layer_kinds(self) -> str:
        """One letter per layer (F, S, N, M): layer_pattern repeated over n_layers; by default
        every layer is full attention, or MLA when the config has an mla block."""
        pattern = self.layer_pattern or (MLA_KIND if self.mla else FULL)
        reps = -(-self.n_layers // len(pattern))
        return (pattern * reps)[: self.n_layers]

    @property
    def group_size(self) -> int:
        """Query heads that share one KV head: n_heads / n_kv_heads."""
        return self.n_heads // self.n_kv_heads

    @property
    def names(self) -> tuple[str, ...]:
        """Every name this model answers to."""
        return (self.name, *self.aliases, *((self.hf_id,) if self.hf_id else ()))


class _FieldError(ValueError):
    """A model-level check that belongs to one field, so the message can name it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")


def _describe(err: ValidationError) -> str:
    """The first problem of a ValidationError as 'field.path: message'."""
    errors = err.errors(include_url=False)
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = first["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if first["type"] == "extra_forbidden":
        msg = "unknown field"
    elif first["type"] not in ("missing",) and "input" in first and not isinstance(first["input"], (dict, list)):
        msg = f"{msg} (got {first['input']!r})"
    text = f"{loc}: {msg}" if loc else msg
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return text


def validate(data: Any, origin: str) -> ModelConfig:
    """A ModelConfig from a parsed mapping; every failure is one ConfigError naming origin and field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping of fields, got {type(data).__name__}")
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{origin}: {_describe(err)}") from None


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read ({err.__class__.__name__}: {err})") from None


def parse_yaml(text: str, origin: str) -> Any:
    """yaml.safe_load (the C loader when present), errors as one line naming origin."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{origin}: malformed YAML{where}: {problem}") from None
    if data is None:
        raise ConfigError(f"{origin}: empty file, expected a model config")
    return data


def load_yaml(path: str | Path) -> ModelConfig:
    """A ModelConfig from a YAML file of the schema above."""
    path = Path(path)
    return validate(parse_yaml(read_text(path), str(path)), str(path))


def to_yaml(model: ModelConfig, header: str = "") -> str:
    """The config as YAML of this schema, fields in schema order, empty ones left out."""
    import yaml

    data = model.model_dump(mode="json", exclude_none=True)
    if not data.get("aliases"):
        data.pop("aliases", None)
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=100, allow_unicode=True)
    return header + body


__all__ = ["ModelConfig", "MLAConfig", "MoEConfig", "Source", "load_yaml", "validate", "MODEL_DTYPES"]
