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
- Chunked layers (Llama 4) hold the chunk plus the tokens in flight: cdiv(min(chunk + in flight,
  max_model_len), block) blocks (ChunkedLocalAttentionSpec).
- Recurrent layers (Mamba, Mamba-2, gated DeltaNet, short convolutions) and the hybrid block size:
  kvcalc.engines.vllm_hybrid.
- "auto" dtypes: the config's, but an fp32 checkpoint is served in bf16.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from ..models.model import CHUNKED, FULL, HYBRID, MLA_KIND, NONE, RECURRENT, SLIDING, SSM, Model
from .exact import DEFAULT_BLOCK_SIZE
from .exact import Engine, StateTensor, cdiv, rule
from .releases import Era, Runtime

VLLM_VERSION = "0.32.0"
DEFAULT_MAX_NUM_BATCHED_TOKENS = 8192  # `vllm serve` on an H100 / H200 (EngineArgs' defaults by device)
DEFAULT_CONCURRENT_BATCHES = 2  # async scheduling, on by default: two batches in flight


_SRC = "https://github.com/vllm-project/vllm/"
# Read in the published wheels of each release (files named are vllm/... of that release).
_KCU = "vllm/v1/core/kv_cache_utils.py"
RUNTIME = Runtime("vllm", "vLLM", "release", checked=("0.8.5", "0.10.1.1", "0.32.0"), eras=(
    Era("0.8.4", "V1 engine (the default since 0.8.0): every sliding layer cached as a full layer "
                 "(unify_hybrid_kv_cache_specs); num_blocks = available // (layers x page); KV cache size = num_blocks "
                 "x block_size; maximum concurrency = that / max_model_len; an fp32 checkpoint is served in fp16. "
                 "(Where 0.8-0.10 fall back to the V0 engine, kvcalc does not model it.)",
        f"{_KCU} get_kv_cache_config, vllm/config.py _get_and_verify_dtype (0.8.5)",
        {"hybrid": False, "concurrency_rule": "tokens", "tokens_rule": "blocks", "fp32_dtype": "fp16", "families_2026": False,
         "grouping": "chunks", "grouping_ratio": 0.0, "null_block": False, "sliding_reserve": "batched",
         "max_concurrent_batches": 1, "default_utilization": 0.9, "large_gpu": "70", "graph_memory": "none",
         "non_kv": "peak", "sampler": "sort", "non_torch_gib": (0.13, 0.55)}),
    Era("0.9.0", "the large profile defaults (8192 batched tokens, 1024 sequences for vllm serve) skip the A100",
        "vllm/engine/arg_utils.py _set_default_args (0.9.0, PR #17885)", {"large_gpu": "70_not_a100"}),
    Era("0.9.1", "the hybrid KV-cache manager: a group per layer spec, contiguous slices of the smallest bucket; "
                 "a sliding layer reserves window - 1 + max_num_batched_tokens, + 1 block; KV cache size = num_blocks "
                 "// groups x block_size; maximum concurrency = num_blocks / blocks a request takes; an fp32 "
                 "checkpoint is served in bf16",
        f"{_KCU} _get_kv_cache_config_uniform_page_size, get_max_concurrency_for_kv_cache_config; "
        "vllm/v1/kv_cache_interface.py SlidingWindowSpec (0.10.1.1)",
        {"hybrid": True, "concurrency_rule": "blocks", "fp32_dtype": "bf16"}),
    Era("0.11.0", "a bucket is split strided (layers[i::groups]), and num_blocks divides by the largest group",
        f"{_KCU} _get_kv_cache_groups_uniform_page_size (0.11.0)", {"grouping": "strided"}),
    Era("0.12.0", "groups take the largest bucket's size when it is under 1.25x the smallest",
        f"{_KCU} (0.12.0)", {"grouping_ratio": 1.25}),
    Era("0.14.0", "async scheduling on by default: two batches in flight (the sizing uses them from 0.26.0)",
        "vllm/config/scheduler.py async_scheduling, vllm/config/vllm.py (0.14.0)", {"max_concurrent_batches": 2}),
    Era("0.17.0", "the sampler's top-k/top-p is a Triton kernel (no sort of the logits) in the profile run",
        "vllm/v1/sample/ops/topk_topp_sampler.py apply_top_k_top_p, topk_topp_triton.py (0.17.0)",
        {"sampler": "triton"}),
    Era("0.18.0", "groups take the largest bucket's size when it is under 1.5x the smallest",
        f"{_KCU} (0.18.0)", {"grouping_ratio": 1.5}),
    Era("0.19.0", "non-torch memory measured at 0.25 GiB on one GPU and about 2.07 GiB under tensor parallelism "
                  "(was 0.13 and 0.55 in 0.11.0's logs; the release between that changed it is not pinned)",
        "the 'non-torch forward increase memory' debug lines of vLLM 0.19.0 on H100s (tests/fixtures/budget)",
        {"non_torch_gib": (0.25, 2.07)}),
    Era("0.20.0", "--gpu-memory-utilization defaults to 0.92; the CUDA graphs' memory is estimated at profiling "
                  "and taken from the KV budget", "vllm/config/cache.py, vllm/v1/worker/gpu_worker.py (0.20.0)",
        {"default_utilization": 0.92, "graph_memory": "subtracted"}),
    Era("0.20.1", "\"GPU KV cache size: N tokens\" is int(concurrency x max_model_len) (was num_blocks // "
                  "groups x block_size)", f"{_KCU} _report_kv_cache_config (0.20.1)",
        {"tokens_rule": "concurrency"}),
    Era("0.26.0", "a sliding layer reserves window - 1 + max_in_flight_tokens (max_concurrent_batches x "
                  "max_num_batched_tokens), + 1 block",
        "vllm/v1/kv_cache_interface.py SlidingWindowSpec, vllm/config/vllm.py max_in_flight_tokens (0.26.0)",
        {"sliding_reserve": "in_flight"}),
    Era("0.27.0", "maximum concurrency sums each group's blocks rounded on its own page (the same figure for "
                  "the equal pages kvcalc models); non-KV memory is the drop in free memory plus the transient "
                  "peak",
        f"{_KCU} get_max_concurrency_for_kv_cache_config, vllm/v1/worker/gpu_worker.py (0.27.0)",
        {"non_kv": "free_drop"}),
    Era("0.28.0", "one log line: GPU KV cache size: N tokens, Maximum concurrency for L tokens per request: Cx; "
                  "GPUs of 160 GiB and more profile 16384 batched tokens under vllm serve too",
        f"{_KCU} update_kv_cache_capacity, vllm/engine/arg_utils.py _set_default_args (0.28.0)", {"large_gpu": "160"}),
    Era("0.29.0", "vLLM starts only if one request of max_model_len fits beside the null block the pool holds back; "
                  "Model Runner V2 for every model: its profile run samples without top-k/top-p",
        f"{_KCU} check_enough_kv_cache_memory, vllm/config/vllm.py, vllm/v1/worker/gpu/sample (0.29.0)",
        {"null_block": True, "sampler": "mrv2"}),
    Era("0.30.0", "the log line names the pool's device: GPU KV cache size (CPU on CPU)",
        f"{_KCU} (0.30.0)", {}),
    Era("0.32.0", "checked by kvcalc from here on: Llama 4's chunked layers (chunk + tokens in flight); Mamba, "
                  "Mamba-2, gated DeltaNet and short-convolution states padded to the attention page, the hybrid's "
                  "attention block grown to hold a state page, 2-3 state blocks a request (kvcalc refuses chunked "
                  "and hybrid layers under older releases)",
        "vllm/model_executor/layers/mamba/mamba_utils.py, vllm/platforms/interface.py _align_hybrid_block_size, "
        "vllm/v1/kv_cache_interface.py MambaSpec, ChunkedLocalAttentionSpec (0.32.0); conformance/vllm",
        {"families_2026": True}),
))


@dataclass(frozen=True, eq=False)  # engines are compared by their fields nowhere; fewer generated methods at import
class Vllm(Engine):
    name: ClassVar[str] = "vllm"
    runtime: ClassVar[str] = "vLLM"
    is_exact: ClassVar[bool] = False
    sizes_pool: ClassVar[bool] = True
    measure_runtime: ClassVar[Optional[str]] = "vllm"
    state_kinds: ClassVar[tuple[str, ...]] = ("mamba", "mamba2", "gated_delta", "short_conv")
    version: Optional[str] = VLLM_VERSION
    rules_version: Optional[str] = "0.32.0"
    block_size: int = DEFAULT_BLOCK_SIZE  # type: ignore[assignment]  # a field here, a property on Engine
    max_num_batched_tokens: int = DEFAULT_MAX_NUM_BATCHED_TOKENS
    max_concurrent_batches: int = DEFAULT_CONCURRENT_BATCHES
    # the era's rules (RUNTIME)
    hybrid: bool = rule(True)  # sliding layers in groups of their own (else cached as full layers)
    sliding_reserve: str = rule("in_flight")  # beside the window: in_flight (batches x batched) | batched
    concurrency_rule: str = rule("blocks")  # blocks (num_blocks / a request's blocks) | tokens (x block / max len)
    tokens_rule: str = rule("concurrency")  # "GPU KV cache size": concurrency | blocks (num_blocks // groups x block)
    grouping: str = rule("strided")  # a bucket split strided (layers[i::k]) | chunks (contiguous)
    grouping_ratio: float = rule(1.5)  # the largest bucket's size sets the group size under this x the smallest
    null_block: bool = rule(True)  # the pool holds back one block: a request needs blocks + 1 to start
    fp32_dtype: str = rule("bf16")  # what "auto" serves an fp32 checkpoint in
    # the budget's rules (kvcalc.planning.vllm_budget)
    default_utilization: float = rule(0.92)  # --gpu-memory-utilization when not given
    large_gpu: str = rule("160")  # which GPUs get the large profile defaults: 70 | 70_not_a100 | 160 (GiB)
    graph_memory: str = rule("subtracted")  # CUDA graphs in the KV budget: none | subtracted
    non_kv: str = rule("free_drop")  # non-KV memory: peak (weights + torch peak + non-torch) | free_drop
    sampler: str = rule("mrv2")  # the profile run's sampler: sort (PyTorch) | triton | mrv2 (Model Runner V2)
    non_torch_gib: tuple = rule((0.25, 2.07))  # memory outside PyTorch, GiB, as logged: (one GPU, tensor parallel)
    families_2026: bool = rule(True)  # chunked, hybrid and recurrent layers as 0.32.0 sizes them

    def profile_defaults(self, cuda_total_bytes: int, gpu_name: str, entrypoint: str = "serve") -> tuple[int, int]:
        """(max_num_batched_tokens, max_num_seqs) the release picks when not given, by the GPU's
        memory as CUDA reports it and the entry point (EngineArgs._set_default_args)."""
        gib = cuda_total_bytes / 2**30
        llm = entrypoint == "llm"
        if self.large_gpu == "160" and gib >= 160:
            return 16384, 1024
        if gib >= 70 and not (self.large_gpu != "70" and "a100" in gpu_name.lower()):
            return (16384 if llm else 8192), 1024
        return (8192 if llm else 2048), 256

    @classmethod
    def runtime_of(cls, name: str) -> Runtime:
        return RUNTIME

    def serving_dtype(self, model: Model) -> str:
        """vLLM's "auto" dtype: the config's, but an fp32 checkpoint is served in the platform's
        preferred dtype, bf16 on GPUs since Ampere (config/model.py, _resolve_auto_dtype), fp16
        before 0.9.1."""
        return self.fp32_dtype if model.dtype == "fp32" else model.dtype

    def dtype_rule(self, model: Model) -> str:
        if model.dtype == "fp32":
            return (f"auto = {self.fp32_dtype}: vLLM serves an fp32 checkpoint in {self.fp32_dtype} (its dtype 'auto' "
                    f"rule, config/model.py _resolve_auto_dtype), and caches KV in the model dtype")
        return f"auto = {model.dtype}: vLLM serves the checkpoint's own dtype and caches KV in it"

    def layer_kinds(self, model: Model) -> str:
        """Before the hybrid KV-cache manager (0.9.1), sliding layers beside full ones were cached
        as full layers (a model of sliding layers only kept its window)."""
        kinds = model.layer_kinds
        return kinds if self.hybrid or FULL not in kinds else kinds.replace(SLIDING, FULL)

    @property
    def in_flight_tokens(self) -> int:
        """Tokens a sliding layer keeps beside its window: vLLM's max_in_flight_tokens (tokens
        scheduled but not yet settled) from 0.26.0, max_num_batched_tokens before."""
        if self.sliding_reserve == "batched":
            return self.max_num_batched_tokens
        return self.max_concurrent_batches * self.max_num_batched_tokens

    @property
    def in_flight_text(self) -> str:
        """How in_flight_tokens was reckoned, for the notes."""
        if self.sliding_reserve == "batched":
            return f"--max-num-batched-tokens {self.max_num_batched_tokens:,}, rules before vLLM 0.26.0"
        return f"{self.max_concurrent_batches} x --max-num-batched-tokens {self.max_num_batched_tokens:,}"

    def sliding_blocks(self, window: int, max_len: int) -> int:
        """Blocks a sliding layer holds for one request of max_len tokens (at most)."""
        return cdiv(min(window - 1 + self.in_flight_tokens, max_len), self.block_size) + 1

    def chunked_blocks(self, chunk: int, max_len: int) -> int:
        """Blocks a chunked layer holds for one request of max_len tokens (at most)."""
        return cdiv(min(chunk + self.in_flight_tokens, max_len), self.block_size)

    def tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        if kind == SLIDING:
            assert window is not None
            return min(cdiv(seq_len, self.block_size), self.sliding_blocks(window, seq_len)) * self.block_size
        if kind == CHUNKED:
            assert window is not None
            return self.chunked_blocks(window, seq_len) * self.block_size
        if kind in (FULL, MLA_KIND):
            return cdiv(seq_len, self.block_size) * self.block_size
        return super().tokens(kind, seq_len, window)

    def state(self, model: Model) -> tuple[StateTensor, ...]:
        from .vllm_hybrid import state_tensors

        return () if model.ssm is None else state_tensors(model, model.ssm)

    def unmodelled(self, model: Model) -> Optional[str]:
        from .vllm_hybrid import REMOVED

        if model.family in REMOVED:
            return f"{model.name}: vLLM {self.version} does not serve {model.family}: {REMOVED[model.family]}"
        new = {CHUNKED, HYBRID} & set(model.layer_kinds) or (model.ssm is not None and model.ssm.kind not in
                                                            ("mamba", "mamba2"))
        if new and not self.families_2026:
            return (f"{model.name}: kvcalc checked vLLM's cache of {model.family} against 0.32.0 only, not under "
                    f"{self.version} (`kvcalc engines` lists the eras)")
        return super().unmodelled(model)

    def for_dtype(self, model: Model, dtype: Any, tp: int = 1, n_kv_heads: Optional[int] = None) -> "Vllm":
        """A hybrid's attention block grown to hold one state page (vllm_hybrid.hybrid_block_size)."""
        from dataclasses import replace

        from .vllm_hybrid import hybrid_block_size, state_page_bytes

        attention = [k for k in self.layer_kinds(model) if k not in (RECURRENT, NONE)]
        if model.ssm is None or not attention:
            return self
        per_token = token_bytes(self.shape(model, FULL if attention[0] == HYBRID else attention[0], n_kv_heads), dtype, tp)
        block = hybrid_block_size(self.block_size, per_token, state_page_bytes(model, self.serving_dtype(model), tp))
        return replace(self, block_size=block)

    def notes(self, model: Model, cache: Any, exact: Any) -> list[str]:
        notes = [f"paged blocks of {cache.block_size} tokens round each sequence up"]
        if model.ssm is not None and {FULL, HYBRID, SLIDING, CHUNKED} & set(model.layer_kinds):
            notes[0] = (f"a hybrid: vLLM grows the attention blocks from {self.block_size} to {cache.block_size} tokens, "
                        f"so that one attention page holds a layer's recurrent state (padded to it); in its pool a "
                        f"request also holds 2 state blocks a group (3 for Mamba-2)")
        sliding = next((g for g in cache.groups if g.kind == "sliding"), None)
        if sliding is not None:
            notes.append(f"sliding layers keep window - 1 + the tokens in flight, + 1 block: {sliding.tokens:,} tokens")
        return notes


# ----- sizing the pool: what vLLM's startup lines report -------------------------------------


@dataclass(frozen=True)
class PoolGroup:
    """One KV-cache group: layers that share a block table."""

    kind: str  # full | sliding | mla
    n_layers: int
    page_bytes: int  # one layer's page of block_size tokens
    blocks_per_request: int  # blocks a request of max_model_len takes in this group


@dataclass(frozen=True)
class Pool:
    """vLLM's KV-cache pool on one GPU for `available` bytes of KV memory."""

    available_bytes: int
    block_size: int
    max_model_len: int
    groups: tuple[PoolGroup, ...]
    block_bytes: int  # one block across the largest group
    num_blocks: int
    tokens_rule: str = "concurrency"  # the release's "GPU KV cache size" rule (Vllm.tokens_rule)
    null_block: bool = True  # the release holds one block back (Vllm.null_block)
    concurrency_rule: str = "blocks"  # the release's concurrency rule (Vllm.concurrency_rule)

    @property
    def blocks_per_request(self) -> int:
        return sum(g.blocks_per_request for g in self.groups)

    @property
    def max_concurrency(self) -> float:
        """"Maximum concurrency for max_model_len tokens per request" (a float, as vLLM logs it):
        num_blocks over the blocks one request takes; before 0.9.1, the pool's tokens over max_model_len."""
        if self.concurrency_rule == "tokens":
            return self.num_blocks * self.block_size / self.max_model_len
        return self.num_blocks / self.blocks_per_request

    @property
    def kv_cache_tokens(self) -> int:
        """"KV cache size: N tokens": int(max_concurrency x max_model_len) from vLLM 0.20.1;
        num_blocks // groups x block_size before."""
        if self.tokens_rule == "blocks":
            return self.num_blocks // len(self.groups) * self.block_size
        return int(self.max_concurrency * self.max_model_len)

    @property
    def fits(self) -> bool:
        """vLLM starts only if one request of max_model_len fits beside the null block the pool
        holds back: blocks per request + 1 <= num_blocks (else "To serve at least one request...")."""
        return self.blocks_per_request + self.null_block <= self.num_blocks


def token_bytes(shape: Any, dtype: Any, tp: int = 1) -> int:
    """K + V bytes of one token in one layer of `shape` on one GPU of tensor parallelism tp: K/V
    heads split max(1, heads // tp); an MLA latent whole."""
    latent = shape.kind == "mla"
    k_heads = shape.k_heads if latent else max(1, shape.k_heads // tp)
    v_heads = shape.v_heads if latent else max(1, shape.v_heads // tp) if shape.v_heads else 0
    return k_heads * sum(dtype.vector_bytes(shape.k_dim)) + v_heads * sum(dtype.vector_bytes(shape.v_dim))


def layer_specs(model: Model, engine: Vllm, kv_dtype: str, tp: int = 1,
                n_kv_heads: Optional[int] = None) -> list[tuple[str, Optional[int], int]]:
    """(kind, window, page bytes) of every layer with a cache on one GPU of tensor parallelism tp:
    K/V heads split max(1, n_kv_heads // tp); an MLA latent whole; a recurrent state ("mamba")
    padded to the attention page (an H layer gives both). `engine` carries the block size."""
    from ..dtypes import resolve
    from ..errors import InputError
    from ..models.model import LAYER_KINDS
    from .vllm_hybrid import state_page_bytes

    engine.admit(model)
    if model.n_heads % tp:
        raise InputError(f"--tp {tp} does not divide the {model.n_heads} query heads of {model.name}")
    kv = n_kv_heads if n_kv_heads is not None else model.n_kv_heads
    kinds = engine.layer_kinds(model)
    if (model.mla is None or n_kv_heads is not None) and set(kinds) - {RECURRENT, NONE}:
        if (tp <= kv and kv % tp) or (tp > kv and tp % kv):
            raise InputError(f"--tp {tp} and {kv} KV heads: vLLM needs one to divide the other")
    dtype = resolve(kv_dtype, engine.serving_dtype(model))
    out, state = [], []
    for kind in kinds:
        if kind in (RECURRENT, HYBRID):
            state.append(len(out) + len(state))
        if kind in (NONE, RECURRENT):
            continue
        kind = FULL if kind == HYBRID else kind  # an H layer's attention is a full layer's
        shape = engine.shape(model, kind, n_kv_heads)
        window = model.sliding_window if kind == SLIDING else model.attention_chunk_size if kind == CHUNKED else None
        out.append(("mla" if shape.kind == "mla" else LAYER_KINDS[kind], window,
                    engine.block_size * token_bytes(shape, dtype, tp)))
    if state:  # padded to the attention page; an attention-free model's own page
        page = out[0][2] if out else state_page_bytes(model, engine.serving_dtype(model), tp)
        for i in state:
            out.insert(i, ("mamba", None, page))
    return out


def estimate_max_model_len(model: Model, available_bytes: int, engine: Vllm, max_model_len: int,
                           kv_dtype: str = "auto", tp: int = 1, n_kv_heads: Optional[int] = None) -> int:
    """The longest max_model_len that would fit (vLLM's own bisection over 1..max_model_len;
    0 when not even one token fits), what vLLM suggests when it refuses to start."""
    def fits(n: int) -> bool:
        return size_pool(model, available_bytes, engine, n, kv_dtype, tp, n_kv_heads).fits

    if not fits(1):
        return 0
    lo, hi, best = 1, max_model_len, 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if fits(mid):
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def size_pool(model: Model, available_bytes: int, engine: Vllm, max_model_len: int, kv_dtype: str = "auto",
              tp: int = 1, n_kv_heads: Optional[int] = None) -> Pool:
    """num_blocks, groups and concurrency as vLLM's get_kv_cache_configs computes them, on one GPU
    of tensor parallelism tp; n_kv_heads rebuilds the attention (None: as published)."""
    from ..dtypes import resolve
    from ..errors import InputError
    from .vllm_hybrid import state_blocks_per_request

    engine = engine.for_dtype(model, resolve(kv_dtype, engine.serving_dtype(model)), tp, n_kv_heads)
    specs = layer_specs(model, engine, kv_dtype, tp, n_kv_heads)
    if not specs:
        raise InputError(f"{model.name}: no attention layer, so vLLM allocates no KV cache")
    attention_free = all(kind == "mamba" for kind, _, _ in specs)
    if len({page for _, _, page in specs}) > 1:
        raise InputError(f"{model.name}: layers of different page sizes are not modelled by kvcalc yet")
    buckets: dict[tuple[str, Optional[int]], int] = {}
    for kind, window, _ in specs:  # same spec, same bucket, in the order vLLM meets them
        buckets[(kind, window)] = buckets.get((kind, window), 0) + 1
    page = specs[0][2]
    sizes = list(buckets.values())
    if len(buckets) == 1:
        group_size = sizes[0]
    else:
        group_size = min(sizes)
        if max(sizes) < min(sizes) * engine.grouping_ratio:  # few padding layers: the largest bucket's size
            group_size = max(sizes)
    groups = []
    for (kind, window), n in buckets.items():
        k = cdiv(n, group_size)
        for i in range(k):  # layers[i::k]; before, consecutive chunks of group_size
            layers = len(range(i, n, k)) if engine.grouping == "strided" else min(group_size, n - i * group_size)
            if kind == "sliding":
                assert window is not None
                need = engine.sliding_blocks(window, max_model_len)
            elif kind == "chunked":
                assert window is not None
                need = engine.chunked_blocks(window, max_model_len)
            elif kind == "mamba":
                need = state_blocks_per_request(model, attention_free)
            else:
                need = cdiv(max_model_len, engine.block_size)
            groups.append(PoolGroup(kind, layers, page, need))
    block_bytes = max(g.n_layers * g.page_bytes for g in groups)
    return Pool(available_bytes, max_model_len if attention_free else engine.block_size, max_model_len, tuple(groups), block_bytes,
                available_bytes // block_bytes, engine.tokens_rule, engine.null_block, engine.concurrency_rule)
