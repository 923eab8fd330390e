"""The ``sglang`` engine: SGLang's token pool (sources: python/sglang/srt/model_executor/model_runner.py
profile_max_num_token and init_memory_pool, python/sglang/srt/mem_cache/memory_pool.py
MHATokenToKVPool / MLATokenToKVPool, python/sglang/srt/configs/model_config.py, read in the
published wheels of each release in RUNTIME; checked by the goldens in conformance/sglang).

- A token costs, in every layer: K and V of max(1, n_kv_heads // tp) heads x head_dim
  (MHATokenToKVPool), or one latent of kv_lora_rank + qk_rope_head_dim (MLATokenToKVPool, whole on
  every GPU). cell = that x layers x the KV dtype's bytes.
- The pool: max_total_num_tokens = budget // cell (the budget: the memory left after the weights
  less total x (1 - mem_fraction_static)), capped by --max-total-tokens, floored to --page-size.
- Each layer's K and V buffers hold max_total_num_tokens + page_size rows (the extra page is the
  padding slot 0); "K size" / "V size" in the log are those bytes in GiB (SGLang's GB = 1024^3).
- A sequence of seq tokens holds cdiv(seq, page_size) pages in every layer.
- Sliding-window layers are sized as full layers (every layer in one pool), the pool kvcalc
  models; the SWA pool of the hybrid models SGLang splits (gpt-oss, gemma-3, Llama 4) and Mamba
  state pools are refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from ..errors import InputError
from ..models.model import FULL, MLA_KIND, RECURRENT, SLIDING, Model
from .exact import Engine, rule
from .releases import Era, Runtime

GiB = 1 << 30
_MR = "python/sglang/srt/model_executor/model_runner.py"
_MP = "python/sglang/srt/mem_cache/memory_pool.py"
RUNTIME = Runtime("sglang", "SGLang", "release", checked=("0.4.6",), eras=(
    Era("0.4.0", "one token pool: cell = kv heads per GPU x head_dim x 2 x layers x bytes (MLA: kv_lora_rank + "
                 "rope x layers x bytes); max_total_num_tokens = int(rest GiB x 2^30 // cell), floored to the "
                 "page size; K and V buffers of max_total_num_tokens + page_size rows a layer",
        f"{_MR} profile_max_num_token, init_memory_pool; {_MP} MHATokenToKVPool, MLATokenToKVPool (0.4.6)",
        {"swa_pool": False}),
))


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True, eq=False)  # engines are compared by their fields nowhere; fewer generated methods at import
class Sglang(Engine):
    name: ClassVar[str] = "sglang"
    runtime: ClassVar[str] = "SGLang"
    is_exact: ClassVar[bool] = False
    sizes_pool: ClassVar[bool] = True
    pool_unit: ClassVar[str] = "tokens"  # fit --kv-memory sizes a token pool (vLLM's: blocks)
    version: Optional[str] = "0.4.6"
    rules_version: Optional[str] = "0.4.0"
    block_size: int = 1  # type: ignore[assignment]  # SGLang's --page-size (1 on CUDA by default)
    swa_pool: bool = rule(False)  # a separate pool for sliding-window layers (not modelled: refused)

    @classmethod
    def runtime_of(cls, name: str) -> Runtime:
        return RUNTIME

    @property
    def planning_block_size(self) -> int:
        return self.block_size

    def dtype_rule(self, model: Model) -> str:
        return f"auto = {self.serving_dtype(model)}: SGLang serves the checkpoint's own dtype and caches KV in it"

    def layer_kinds(self, model: Model) -> str:
        """Every attention layer in the one pool: SGLang sizes a sliding layer as a full one."""
        return model.layer_kinds.replace(SLIDING, FULL)

    def for_model(self, model: Model) -> "Sglang":
        if RECURRENT in model.layer_kinds or model.ssm is not None:
            raise InputError(f"{model.name}: SGLang's Mamba state pool (max_mamba_cache_size slots) is not "
                             f"modelled by kvcalc yet")
        return self

    def tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        if kind in (FULL, MLA_KIND, SLIDING):
            return cdiv(seq_len, self.block_size) * self.block_size
        return super().tokens(kind, seq_len, window)

    def notes(self, model: Model, cache: Any, exact: Any) -> list[str]:
        notes = []
        if self.block_size > 1:
            notes.append(f"pages of {self.block_size} tokens round each sequence up")
        if SLIDING in model.layer_kinds:
            notes.append("SGLang sizes sliding-window layers as full layers: every layer holds every token")
        return notes


# ----- sizing the pool: what SGLang's startup lines report -------------------------------------


@dataclass(frozen=True)
class TokenPool:
    """SGLang's KV pool on one GPU for `available_bytes` of pool memory."""

    available_bytes: int
    page_size: int
    cell_bytes: int  # one token, every layer, K and V (or the latent)
    max_total_num_tokens: int
    layers: int
    k_row_bytes: int  # one token of one layer's K buffer (the latent, for MLA)
    v_row_bytes: int  # 0 for MLA
    latent: bool

    @property
    def k_bytes(self) -> int:
        """The K buffers as allocated: (tokens + page_size) rows in every layer."""
        return (self.max_total_num_tokens + self.page_size) * self.layers * self.k_row_bytes

    @property
    def v_bytes(self) -> int:
        return (self.max_total_num_tokens + self.page_size) * self.layers * self.v_row_bytes

    def max_running_requests(self, context_len: int) -> int:
        """The request slots (req_to_token_pool): min(max(int(tokens / context_len x 512), 2048), 4096)."""
        return min(max(int(self.max_total_num_tokens / context_len * 512), 2048), 4096)


def cell(model: Model, engine: Sglang, kv_dtype: str, tp: int = 1) -> tuple[int, int, int, bool]:
    """(layers, K row bytes, V row bytes, latent) of one token on one GPU of tensor parallelism tp."""
    from ..dtypes import resolve

    engine.for_model(model)
    dtype = resolve(kv_dtype, engine.serving_dtype(model))
    if dtype.group_size:
        raise InputError(f"SGLang has no {dtype.name} KV cache")
    layers = sum(1 for k in engine.layer_kinds(model) if k in (FULL, MLA_KIND))
    if model.mla is not None:
        return layers, model.mla.latent_dim * dtype.bits // 8, 0, True
    heads = max(1, model.n_kv_heads // tp)
    row = heads * model.head_dim * dtype.bits // 8
    return layers, row, row, False


def size_pool(model: Model, available_bytes: int, engine: Sglang, kv_dtype: str = "auto", tp: int = 1,
              max_total_tokens: Optional[int] = None) -> TokenPool:
    """max_total_num_tokens = budget // cell, capped, floored to the page (profile_max_num_token)."""
    layers, k_row, v_row, latent = cell(model, engine, kv_dtype, tp)
    per_token = layers * (k_row + v_row)
    tokens = available_bytes // per_token
    if max_total_tokens is not None:
        tokens = min(tokens, max_total_tokens)
    tokens = tokens // engine.block_size * engine.block_size
    return TokenPool(available_bytes, engine.block_size, per_token, tokens, layers, k_row, v_row, latent)
