"""The ``vllm`` profile: vLLM's v1 KV-cache manager (checked against vLLM 0.32.0 by the goldens
in conformance/vllm; source: vllm/v1/kv_cache_interface.py and vllm/v1/core/kv_cache_utils.py).

Per layer, a page holds block_size tokens: K and V of [block_size, H_kv, D] (FullAttentionSpec,
SlidingWindowSpec), or one latent of kv_lora_rank + qk_rope_head_dim (MLAAttentionSpec).

- One request at ``seq`` tokens holds cdiv(seq, block) blocks in a full or MLA layer; a sliding
  layer frees blocks that left the window, but keeps the last window - 1 tokens plus every
  token still in flight (max_concurrent_batches x max_num_batched_tokens), + 1 block because
  the window need not start on a block boundary.
- Sizing (``kvcalc fit --engine vllm --kv-memory``): the layers are put into KV-cache groups of
  equal size (all layers in one group when every layer has the same spec; otherwise buckets
  of one spec, split into groups of the smallest bucket's size, or of the largest when it is
  under 1.5x the smallest). A block of the pool spans the largest group:
  num_blocks = available // (layers in that group x page bytes).
- A request of max_model_len needs, in each group, cdiv(its max memory, page) blocks; the
  maximum concurrency is num_blocks / the sum over groups, and "KV cache size: N tokens" is
  int(concurrency x max_model_len).
- Tensor parallelism splits KV heads: max(1, n_kv_heads // tp) per GPU; an MLA latent is whole
  on every GPU.
- Mamba layers keep (d_conv - 1) x conv_channels and d_inner x d_state, both in the model's
  dtype (mamba_cache_dtype / mamba_ssm_cache_dtype "auto").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..model import FULL, MLA_KIND, SLIDING, Model
from .exact import Engine, StateTensor

VLLM_VERSION = "0.32.0"
DEFAULT_MAX_NUM_BATCHED_TOKENS = 8192  # `vllm serve` on an H100 / H200 (EngineArgs' defaults by device)
DEFAULT_CONCURRENT_BATCHES = 2  # async scheduling, on by default: two batches in flight


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Vllm(Engine):
    name = "vllm"
    runtime = "vLLM"
    version: Optional[str] = VLLM_VERSION
    block_size: int = 16  # type: ignore[assignment]  # a field here, a property on Engine
    max_num_batched_tokens: int = DEFAULT_MAX_NUM_BATCHED_TOKENS
    max_concurrent_batches: int = DEFAULT_CONCURRENT_BATCHES

    @property
    def in_flight_tokens(self) -> int:
        """vLLM's max_in_flight_tokens: tokens scheduled but not yet settled."""
        return self.max_concurrent_batches * self.max_num_batched_tokens

    def sliding_blocks(self, window: int, max_len: int) -> int:
        """Blocks a sliding layer holds for one request of max_len tokens (at most)."""
        return cdiv(min(window - 1 + self.in_flight_tokens, max_len), self.block_size) + 1

    def tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        if kind == SLIDING:
            assert window is not None
            return min(cdiv(seq_len, self.block_size), self.sliding_blocks(window, seq_len)) * self.block_size
        if kind in (FULL, MLA_KIND):
            return cdiv(seq_len, self.block_size) * self.block_size
        return super().tokens(kind, seq_len, window)

    def state(self, model: Model) -> tuple[StateTensor, ...]:
        if model.ssm is None:
            return ()
        s = model.ssm
        return (StateTensor("conv", (s.d_conv - 1, s.conv_channels), None),
                StateTensor("ssm", (s.d_inner, s.d_state), None))
