"""The ``hf`` profile: transformers 5.x's DynamicCache, as it allocates (checked against
transformers 5.23.0 by conformance/transformers; source: transformers/cache_utils.py).

- Full layers: DynamicLayer, K and V of [B, H_kv, S, D].
- Sliding layers: DynamicSlidingWindowLayer keeps the last ``window - 1`` tokens (the new token
  makes the window). The kept tensors are views: after a prefill they sit on the whole
  prefill's K/V (``seq`` tokens stay allocated until the next step), and between decode steps
  on the concatenation of ``window - 1`` + 1 tokens.
- MLA (DeepSeek-V2/V3 and kin): the compressed latent, as K of [B, 1, S, kv_lora_rank] and V of
  [B, 1, S, qk_rope_head_dim]: the same bytes as ``exact``. transformers before 5.15 cached it
  decompressed per head (K of qk_nope + qk_rope, V of v_head_dim, for all n_heads).
- Falcon with new_decoder_architecture caches K and V expanded to every query head,
  [B, n_heads, S, head_dim].
- Chunked layers (Llama 4): DynamicSlidingWindowLayer with the chunk as its window, so they
  keep chunk - 1 tokens as sliding layers keep window - 1 (and pin the prefill the same way).
- Recurrent layers (Jamba, Nemotron-H, Bamba, Granite 4.0-H, Falcon-H1, Zamba2, Mamba,
  Mamba-2, Qwen3-Next): LinearAttentionLayer, a conv state of [B, conv_channels, d_conv] in the
  activations' dtype and a state in fp32; LFM2's short convolution only the conv state, of
  [B, hidden_size, conv_L_cache]; MiniMax's lightning layers (MiniMaxCache.linear_cache) one
  [B, heads, head_dim, head_dim] in the activations' dtype. Falcon-H1's layers and Zamba2's
  hybrid layers hold a full layer's K/V beside the state; layers that read another layer's KV
  (Gemma 3n's last num_kv_shared_layers) hold nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from ..models.model import CHUNKED, FULL, HYBRID, RECURRENT, SLIDING, SSM, Model
from .exact import Engine, Shape, StateTensor, rule
from .releases import Era, Runtime

TRANSFORMERS_VERSION = "5.23.0"
RUNTIME = Runtime("hf", "transformers", "release", checked=("4.57.6", "5.17.0", "5.23.0"), eras=(
    Era("4.57.0", "DynamicCache of per-layer tensors; DeepSeek-V2/V3 cache K and V decompressed per head "
                  "(K of n_heads x (qk_nope + qk_rope), V of n_heads x v_head_dim); no nemotron_h; Mamba hybrids "
                  "keep their state in HybridMambaAttentionDynamicCache, in bf16 or fp32 by whether the mamba "
                  "kernels run (kvcalc refuses them)",
        "transformers/models/deepseek_v3/modeling_deepseek_v3.py DeepseekV3Attention.forward, "
        "models/jamba/modeling_jamba.py HybridMambaAttentionDynamicCache (4.57.6)",
        {"mla_cache": "per_head", "lacks": ("nemotron_h",), "mamba_state": "unmodelled", "families_2026": False}),
    Era("5.3.0", "nemotron_h arrives (its own cache, state in the model dtype: kvcalc refuses it until 5.5.0)",
        "transformers/models/nemotron_h (5.3.0)", {"lacks": ()}),
    Era("5.5.0", "Mamba layers in DynamicCache's LinearAttentionLayer: conv state in the activations' dtype, "
                 "SSM state in fp32", "transformers/cache_utils.py LinearAttentionLayer (5.5.0)",
        {"mamba_state": "linear_attention"}),
    Era("5.15.0", "DeepSeek-V2/V3 cache the MLA latent: K of kv_lora_rank, V of qk_rope_head_dim",
        "transformers/models/deepseek_v3/modeling_deepseek_v3.py (5.15.0); conformance/transformers (5.23.0)",
        {"mla_cache": "latent"}),
    Era("5.23.0", "checked by kvcalc from here on: Llama 4's chunked layers as sliding windows of the chunk; "
                  "Falcon-H1, Bamba, Granite 4.0-H, Zamba2, Mamba, Mamba-2 and Qwen3-Next's gated DeltaNet in "
                  "LinearAttentionLayer; LFM2's short convolutions; MiniMax's lightning state (MiniMaxCache); Gemma 3n's "
                  "shared-KV layers hold nothing (kvcalc refuses these families under older releases)",
        "transformers/cache_utils.py DynamicCache, DynamicSlidingWindowLayer, LinearAttentionLayer; "
        "models/minimax/modeling_minimax.py MiniMaxCache (5.23.0); conformance/transformers",
        {"families_2026": True}),
))
# Families whose caches kvcalc has checked from 5.23.0 only (the era above).
NEW_FAMILIES = ("llama4_text", "qwen3_next", "falcon_h1", "bamba", "granitemoehybrid", "zamba2", "gemma3n_text",
                "lfm2", "minimax", "mamba", "mamba2")


@dataclass(frozen=True, eq=False)  # engines are compared by their fields nowhere; fewer generated methods at import
class Transformers(Engine):
    name: ClassVar[str] = "hf"
    runtime: ClassVar[str] = "transformers"
    is_exact: ClassVar[bool] = False
    measure_runtime: ClassVar[Optional[str]] = "transformers"
    version: Optional[str] = TRANSFORMERS_VERSION
    rules_version: Optional[str] = "5.23.0"
    mla_cache: str = rule("latent")  # latent (5.15 on) | per_head (before)
    lacks: tuple[str, ...] = rule(())  # model types the release does not know
    mamba_state: str = rule("linear_attention")  # linear_attention (5.5.0 on) | unmodelled (before)
    families_2026: bool = rule(True)  # NEW_FAMILIES checked (5.23.0 on)

    @classmethod
    def runtime_of(cls, name: str) -> Runtime:
        return RUNTIME

    def dtype_rule(self, model: Model) -> str:
        return (f"auto = {model.dtype}: transformers 5 loads the checkpoint in its config dtype (from_pretrained's "
                f"default dtype='auto') and the cache takes the dtype of the keys and values")

    def tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        if kind in (SLIDING, CHUNKED):  # a chunk is a sliding window of the chunk's size
            assert window is not None
            return min(seq_len, window - 1)
        return super().tokens(kind, seq_len, window)

    def storage_tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        if kind in (SLIDING, CHUNKED):  # the kept view sits on the last step's concatenation
            assert window is not None
            return min(seq_len, window)
        return super().storage_tokens(kind, seq_len, window)

    def peak_tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        if kind in (SLIDING, CHUNKED):  # the view sits on the whole prefill until the next step
            return seq_len
        return super().peak_tokens(kind, seq_len, window)

    def shape(self, model: Model, kind: str, n_kv_heads: Optional[int]) -> Shape:
        shape = super().shape(model, kind, n_kv_heads)
        if expands_kv(model) and shape.k_heads:
            return Shape(shape.kind, model.n_heads, shape.k_dim, model.n_heads, shape.v_dim)
        return shape

    def mla_shape(self, model: Model) -> Shape:
        mla = model.mla
        assert mla is not None
        if self.mla_cache == "per_head":
            return Shape("mla", model.n_heads, mla.qk_nope_head_dim + mla.qk_rope_head_dim, model.n_heads, mla.v_head_dim)
        return Shape("mla", 1, mla.kv_lora_rank, 1, mla.qk_rope_head_dim)

    def state_tensors(self, s: SSM) -> tuple[StateTensor, ...]:
        if s.kind == "short_conv":
            return (StateTensor("conv", (s.d_inner, s.d_conv), None),)
        if s.kind == "lightning":  # no upcast: the activations' dtype
            return (StateTensor("kv", (s.d_inner, s.d_state), None),)
        return (StateTensor("conv", (s.conv_channels, s.d_conv), None),
                StateTensor("ssm", (s.d_inner, s.d_state), "fp32"))

    def unmodelled(self, model: Model) -> Optional[str]:
        if not self.families_2026 and model.family in NEW_FAMILIES:
            return (f"{model.name}: kvcalc checked transformers' cache of {model.family} against 5.23.0 only, "
                    f"not under {self.version} (`kvcalc engines` lists the eras)")
        return super().unmodelled(model)

    def check(self, model: Model, k_dtype: object, v_dtype: object) -> None:
        from ..errors import InputError

        if model.family in ("bamba", "granitemoehybrid") and not {FULL, HYBRID} & set(model.layer_kinds):
            raise InputError(f"transformers {self.version} cannot run {model.name}: a Mamba-2 hybrid with no attention "
                             f"layer fails in its cache (get_seq_length)")
        if model.family in self.lacks:
            raise InputError(f"transformers {self.version} has no {model.family} model: it came with a later release "
                             f"(`kvcalc engines` lists the eras)")
        if self.mamba_state == "unmodelled" and {RECURRENT, HYBRID} & set(model.layer_kinds):
            raise InputError(f"transformers {self.version}: the Mamba state of {model.name} is kept in bf16 or fp32 by "
                             f"whether the mamba kernels run, which kvcalc does not model before transformers 5.5.0")

    def cached_kv_heads(self, model: Model) -> int:
        return model.n_heads if expands_kv(model) else model.n_kv_heads

    def notes(self, model: Model, cache: Any, exact: Any) -> list[str]:
        notes = []
        if model.mla and self.mla_cache == "per_head":
            notes.append(f"transformers before 5.15 caches MLA decompressed per head: K of {model.n_heads} x "
                         f"{model.mla.qk_nope_head_dim + model.mla.qk_rope_head_dim}, V of {model.n_heads} x "
                         f"{model.mla.v_head_dim} elements per layer per token (5.15 on caches the latent)")
        elif model.mla:
            notes.append(f"transformers caches the MLA latent: K of {model.mla.kv_lora_rank} + V of "
                         f"{model.mla.qk_rope_head_dim} elements per layer per token (before 5.15 it "
                         f"decompressed it per head)")
        if expands_kv(model):
            notes.append(f"transformers expands Falcon's {model.n_kv_heads} KV heads to all {model.n_heads} query "
                         f"heads (new_decoder_architecture): {model.n_heads // model.n_kv_heads}x the K/V of exact")
        sliding = next((g for g in cache.groups if g.kind == "sliding"), None)
        if sliding is not None:
            notes.append(f"sliding layers keep window - 1 = {sliding.tokens:,} tokens; at the end of a prefill of "
                         f"{cache.seq_len:,} they still pin the whole prefill: peak {cache.peak_bytes:,} B")
        return notes


def expands_kv(model: Model) -> bool:
    """Falcon's new_decoder_architecture: transformers expands K and V to all query heads.
    (Falcon's other layouts have 1 KV head or n_heads, which kvcalc maps without expansion.)"""
    return model.family == "falcon" and 1 < model.n_kv_heads < model.n_heads
