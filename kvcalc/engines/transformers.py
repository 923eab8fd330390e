"""The ``hf`` profile: transformers 5.x's DynamicCache, as it allocates (checked against
transformers 5.23.0 by conformance/transformers; source: transformers/cache_utils.py).

- Full layers: DynamicLayer, K and V of [B, H_kv, S, D].
- Sliding layers: DynamicSlidingWindowLayer keeps the last ``window - 1`` tokens (the new token
  makes the window). The kept tensors are views: after a prefill they sit on the whole
  prefill's K/V (``seq`` tokens stay allocated until the next step), and between decode steps
  on the concatenation of ``window - 1`` + 1 tokens.
- MLA (DeepSeek-V2/V3 and kin): the compressed latent, as K of [B, 1, S, kv_lora_rank] and V of
  [B, 1, S, qk_rope_head_dim]: the same bytes as ``exact``. transformers 4.x cached it
  decompressed per head (K of qk_nope + qk_rope, V of v_head_dim, for all n_heads).
- Falcon with new_decoder_architecture caches K and V expanded to every query head,
  [B, n_heads, S, head_dim].
- Mamba layers (Jamba, Nemotron-H): LinearAttentionLayer, a conv state of
  [B, conv_channels, d_conv] in the activations' dtype and an SSM state in fp32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..model import SLIDING, SSM, Model
from .exact import Engine, Shape, StateTensor

TRANSFORMERS_VERSION = "5.23.0"


@dataclass(frozen=True)
class Transformers(Engine):
    name = "hf"
    runtime = "transformers"
    version: Optional[str] = TRANSFORMERS_VERSION

    def dtype_rule(self, model: Model) -> str:
        return (f"auto = {model.dtype}: transformers 5 loads the checkpoint in its config dtype (from_pretrained's "
                f"default dtype='auto') and the cache takes the dtype of the keys and values")

    def tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        if kind == SLIDING:
            assert window is not None
            return min(seq_len, window - 1)
        return super().tokens(kind, seq_len, window)

    def storage_tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        if kind == SLIDING:  # the kept view sits on the last step's concatenation
            assert window is not None
            return min(seq_len, window)
        return super().storage_tokens(kind, seq_len, window)

    def peak_tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        if kind == SLIDING:  # the view sits on the whole prefill until the next step
            return seq_len
        return super().peak_tokens(kind, seq_len, window)

    def shape(self, model: Model, kind: str, n_kv_heads: Optional[int]) -> Shape:
        shape = super().shape(model, kind, n_kv_heads)
        if expands_kv(model) and shape.k_heads:
            return Shape(shape.kind, model.n_heads, shape.k_dim, model.n_heads, shape.v_dim)
        return shape

    def mla_shape(self, model: Model) -> Shape:
        assert model.mla is not None
        return Shape("mla", 1, model.mla.kv_lora_rank, 1, model.mla.qk_rope_head_dim)

    def state_tensors(self, s: SSM) -> tuple[StateTensor, ...]:
        return (StateTensor("conv", (s.conv_channels, s.d_conv), None),
                StateTensor("ssm", (s.d_inner, s.d_state), "fp32"))


def expands_kv(model: Model) -> bool:
    """Falcon's new_decoder_architecture: transformers expands K and V to all query heads.
    (Falcon's other layouts have 1 KV head or n_heads, which kvcalc maps without expansion.)"""
    return model.family == "falcon" and 1 < model.n_kv_heads < model.n_heads
