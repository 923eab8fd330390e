"""The runtime model: plain frozen dataclasses the formula engine reads.

Files are validated by the strict pydantic schema in ``kvcalc.models.config`` and converted to these;
shipped configs (validated by the test suite) are built directly, so answering for a shipped
model builds no pydantic validator at start-up. tests/test_config.py keeps both field lists equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Optional

# Layer kinds in ``layer_pattern``: one letter a layer, the pattern repeating over n_layers.
# R is a recurrent layer (Mamba, gated DeltaNet, a short convolution, linear attention: the ssm
# block says which): a fixed state per sequence, no KV; N holds nothing (an MLP layer, or a layer
# that reads another layer's KV); C is chunked local attention (Llama 4: attention_chunk_size);
# H holds both a full-attention KV and a recurrent state (Falcon-H1's parallel heads, Zamba2's
# Mamba layers that run the shared attention block).
FULL, SLIDING, NONE, MLA_KIND, RECURRENT, CHUNKED, HYBRID = "F", "S", "N", "M", "R", "C", "H"
# Bounds checked before anything is built: each layer is a letter of layer_kinds, and every
# divisor of n_heads is a layout to list; no model comes near.
MAX_LAYERS, MAX_HEADS, MAX_INT = 100_000, 1_000_000, 10**15
LAYER_KINDS = {FULL: "full", SLIDING: "sliding", NONE: "none", MLA_KIND: "mla", RECURRENT: "recurrent",
               CHUNKED: "chunked", HYBRID: "hybrid"}
# The recurrent layers' kinds of state (SSM.kind).
STATE_KINDS = ("mamba", "mamba2", "gated_delta", "short_conv", "lightning")
STATE_NAMES = {"mamba": "Mamba", "mamba2": "Mamba-2", "gated_delta": "gated DeltaNet", "short_conv": "short-conv",
               "lightning": "lightning-attention"}


@dataclass(frozen=True)
class Source:
    """Where a config's numbers come from: the upstream config.json and its revision."""

    url: str
    revision: str = "main"
    note: Optional[str] = None


@dataclass(frozen=True)
class MLA:
    """Multi-head latent attention (DeepSeek-V2/V3): one compressed latent cached per token."""

    kv_lora_rank: int
    qk_rope_head_dim: int
    qk_nope_head_dim: int
    v_head_dim: int
    q_lora_rank: Optional[int] = None
    # A GGUF converted before llama.cpp's MLA (no attention.key_length_mla): llama.cpp runs it
    # unabsorbed and caches K and V per head; None elsewhere.
    gguf_per_head: Optional[bool] = None

    @property
    def latent_dim(self) -> int:
        """Elements cached per token per layer: kv_lora_rank + qk_rope_head_dim."""
        return self.kv_lora_rank + self.qk_rope_head_dim


@dataclass(frozen=True)
class SSM:
    """The state a recurrent layer keeps per sequence, whatever the sequence's length.

    - mamba (Mamba-1, Jamba, Falcon-Mamba): a convolution window of d_conv columns over d_inner
      channels, and an SSM state of d_inner x d_state; n_groups 0.
    - mamba2 (Nemotron-H, Bamba, Falcon-H1, Granite 4.0-H, Zamba2): the convolution also runs
      over B and C, n_groups x d_state channels each; d_inner = n_heads x head_dim.
    - gated_delta (Qwen3-Next's gated DeltaNet): the same two tensors in the same terms:
      d_inner = value heads x value head dim, d_state = key head dim, n_groups = key heads (the
      convolution runs over q, k and v), n_heads = value heads.
    - short_conv (LFM2): a convolution window of d_conv columns over d_inner (hidden_size)
      channels only; d_state 0.
    - lightning (MiniMax's linear attention): one state of d_inner x d_state per layer, n_heads
      heads of d_state x d_state (d_inner = n_heads x d_state); d_conv 0."""

    kind: str  # one of STATE_KINDS
    d_inner: int
    d_state: int = 0
    d_conv: int = 0
    n_groups: int = 0
    n_heads: Optional[int] = None  # Mamba-2: d_inner = n_heads x head_dim

    @property
    def conv_channels(self) -> int:
        """d_inner + 2 x n_groups x d_state (x, and Mamba-2's B and C); 0 without a convolution."""
        return self.d_inner + 2 * self.n_groups * self.d_state if self.d_conv else 0

    @property
    def state_elements(self) -> int:
        """d_inner x d_state (Mamba-2: n_heads x head_dim x d_state, the same count)."""
        return self.d_inner * self.d_state


@dataclass(frozen=True)
class MoE:
    """Mixture of experts: layer i is an expert layer when i >= first_dense_layers and
    i % layer_period == layer_offset; other layers use the dense intermediate_size."""

    n_experts: int
    n_experts_per_tok: int
    expert_intermediate_size: int
    n_shared_experts: int = 0
    shared_expert_intermediate_size: Optional[int] = None
    first_dense_layers: int = 0
    layer_period: int = 1
    layer_offset: int = 0

    def is_expert_layer(self, i: int) -> bool:
        return i >= self.first_dense_layers and i % self.layer_period == self.layer_offset


@dataclass(frozen=True)
class Quant:
    """How a checkpoint stores its weight matrices (config.json's quantization_config): each
    quantized matrix of n parameters takes n x weight_bits, plus scale_bits (scale and any zero
    point) per group of group_size parameters (0: one scale per tensor or row, not counted).
    attention / mlp / experts say which matrices are quantized; embeddings, the LM head, norms,
    biases and routers stay in the model's dtype."""

    method: str  # fp8 | mxfp4 | nvfp4 | awq | gptq | compressed-tensors | bitsandbytes | ...
    weight_bits: int
    group_size: int = 0
    scale_bits: int = 0
    attention: bool = True
    mlp: bool = True
    experts: bool = True

    def bytes_of(self, n: int) -> int:
        """Bytes of n quantized parameters: data, then the groups' scales."""
        groups = n // self.group_size if self.group_size else 0
        return -(-(n * self.weight_bits + groups * self.scale_bits) // 8)


@dataclass(frozen=True)
class Model:
    """One model's architecture, as far as memory is concerned."""

    name: str
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    hidden_size: int
    intermediate_size: int
    dtype: str  # fp32 | fp16 | bf16: the config's torch_dtype
    vocab_size: Optional[int] = None  # None: unknown (a config.json without it): weights need it, the cache does not
    max_context: Optional[int] = None  # None: unknown (no max_position_embeddings): no context warnings
    aliases: tuple[str, ...] = ()
    hf_id: Optional[str] = None
    source: Optional[Source] = None
    family: str = "custom"
    tie_embeddings: bool = False
    sliding_window: Optional[int] = None
    attention_chunk_size: Optional[int] = None  # chunked (C) layers attend within chunks of this many tokens
    layer_pattern: Optional[str] = None
    mla: Optional[MLA] = None
    moe: Optional[MoE] = None
    ssm: Optional[SSM] = None
    quantization: Optional[Quant] = None
    notes: Optional[str] = None
    # what kvcalc does not map in the source it was read from (a model_type, a config field that
    # changes the cache), in words: commands refuse such a model unless told to assume standard
    # attention (kvcalc.models.registry.admit)
    unmapped: Optional[str] = None
    layer_kinds: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pattern = self.layer_pattern or (MLA_KIND if self.mla else FULL)
        reps = -(-self.n_layers // len(pattern))
        object.__setattr__(self, "layer_kinds", (pattern * reps)[: self.n_layers])

    @property
    def group_size(self) -> int:
        """Query heads that share one KV head: n_heads / n_kv_heads."""
        return self.n_heads // self.n_kv_heads

    @property
    def names(self) -> tuple[str, ...]:
        """Every name this model answers to."""
        return (self.name, *self.aliases, *((self.hf_id,) if self.hf_id else ()))

    def to_dict(self) -> dict[str, Any]:
        """Plain data in the schema's field order, empty fields left out."""
        out: dict[str, Any] = {}
        for f in SCHEMA_ORDER:
            value = getattr(self, f)
            if value is None or (f == "aliases" and not value):
                continue
            if isinstance(value, (Source, MLA, MoE, SSM, Quant)):
                value = {k.name: getattr(value, k.name) for k in fields(value) if getattr(value, k.name) is not None}
            out[f] = list(value) if isinstance(value, tuple) else value
        return out


SCHEMA_ORDER = (
    "name", "aliases", "hf_id", "source", "family", "n_layers", "n_heads", "n_kv_heads", "head_dim",
    "hidden_size", "intermediate_size", "vocab_size", "tie_embeddings", "dtype", "max_context",
    "sliding_window", "attention_chunk_size", "layer_pattern", "mla", "moe", "ssm", "quantization", "notes", "unmapped",
)


def from_dict(data: dict[str, Any]) -> Model:
    """A Model from data already known to be valid (kvcalc's own field names)."""
    kw = dict(data)
    for key, cls in (("source", Source), ("mla", MLA), ("moe", MoE), ("ssm", SSM), ("quantization", Quant)):
        if isinstance(kw.get(key), dict):
            kw[key] = cls(**kw[key])
    if "aliases" in kw:
        kw["aliases"] = tuple(kw["aliases"])
    return Model(**kw)
