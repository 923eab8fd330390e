"""The ``exact`` profile: what the model itself needs, and the base class of every profile.

- full and MLA layers hold every token; a sliding layer the last min(seq, window);
- a K/V layer caches K and V of n_kv_heads x head_dim per token; an MLA layer one latent of
  kv_lora_rank + qk_rope_head_dim elements;
- a Mamba layer keeps, per sequence, the last d_conv - 1 inputs of its convolution (in the
  model's dtype) and its SSM state of d_inner x d_state (in fp32, the precision the selective
  scan accumulates in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..model import FULL, LAYER_KINDS, MLA_KIND, NONE, RECURRENT, SLIDING, SSM, Model


@dataclass(frozen=True)
class Shape:
    """One layer's cache per token: K of k_heads x k_dim and V of v_heads x v_dim elements."""

    kind: str  # the label reported: full | sliding | mla | none | recurrent
    k_heads: int
    k_dim: int
    v_heads: int
    v_dim: int


@dataclass(frozen=True)
class StateTensor:
    """One recurrent-state tensor of one layer, per sequence: elements in a dtype. dtype None
    means the model's own dtype (the activations')."""

    name: str  # conv | ssm
    shape: tuple[int, ...]
    dtype: Optional[str]

    @property
    def elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class Engine:
    """The exact profile. Runtime profiles subclass it and override what their runtime does
    differently; every method is pure integer arithmetic."""

    name = "exact"
    runtime = "what the model needs"
    version: Optional[str] = None  # the runtime release the profile describes

    @property
    def block_size(self) -> Optional[int]:
        """Tokens per allocation unit (a paged block), None when tokens are allocated singly."""
        return None

    def serving_dtype(self, model: Model) -> str:
        """The dtype the runtime runs the model in (what ``auto`` means): the config's own."""
        return model.dtype

    def dtype_rule(self, model: Model) -> str:
        """What auto meant for this model, in words."""
        return f"auto = {self.serving_dtype(model)}: the checkpoint's own dtype (config.json torch_dtype)"

    def layer_kinds(self, model: Model) -> str:
        """The kind of each layer as this runtime runs it (the model's own, by default)."""
        return model.layer_kinds

    def check(self, model: Model, k_dtype: object, v_dtype: object) -> None:
        """Refuse what the runtime refuses (nothing, by default)."""

    def tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        """Tokens one layer of `kind` holds for a sequence of seq_len tokens."""
        if kind in (NONE, RECURRENT):
            return 0
        if kind == SLIDING:
            assert window is not None  # guaranteed by Model's validator
            return min(seq_len, window)
        return seq_len

    def storage_tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        """Tokens of storage behind those tensors between decode steps (views can pin more)."""
        return self.tokens(kind, seq_len, window)

    def peak_tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        """Tokens allocated at the end of one prefill of seq_len tokens."""
        return self.storage_tokens(kind, seq_len, window)

    def shape(self, model: Model, kind: str, n_kv_heads: Optional[int]) -> Shape:
        """What one token costs in a layer of `kind`; n_kv_heads rebuilds the attention with
        that many KV heads (None: as published)."""
        if kind in (NONE, RECURRENT):
            return Shape(LAYER_KINDS[kind], 0, 0, 0, 0)
        if kind == MLA_KIND:
            mla = model.mla
            assert mla is not None  # guaranteed by Model's validator
            if n_kv_heads is not None:  # rebuilt as per-head attention with MLA's head dims
                return Shape("full", n_kv_heads, mla.qk_nope_head_dim + mla.qk_rope_head_dim, n_kv_heads, mla.v_head_dim)
            return self.mla_shape(model)
        heads = n_kv_heads if n_kv_heads is not None else model.n_kv_heads
        return Shape(LAYER_KINDS[kind], heads, model.head_dim, heads, model.head_dim)

    def mla_shape(self, model: Model) -> Shape:
        """The MLA latent as one K of kv_lora_rank + qk_rope_head_dim elements."""
        assert model.mla is not None
        return Shape("mla", 1, model.mla.latent_dim, 0, 0)

    def state(self, model: Model) -> tuple[StateTensor, ...]:
        """The recurrent state one Mamba layer keeps per sequence (empty without Mamba layers)."""
        return () if model.ssm is None else self.state_tensors(model.ssm)

    def state_tensors(self, s: SSM) -> tuple[StateTensor, ...]:
        """A Mamba layer's state tensors, per sequence."""
        return (StateTensor("conv", (s.conv_channels, s.d_conv - 1), None),
                StateTensor("ssm", (s.d_inner, s.d_state), "fp32"))


__all__ = ["Engine", "Shape", "StateTensor", "FULL"]
