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
from .exact import Engine, cdiv, rule
from .releases import Era, Runtime

GiB = 1 << 30
_MR = "python/sglang/srt/model_executor/model_runner.py"
_MP = "python/sglang/srt/mem_cache/memory_pool.py"
# Read in the published wheels of each release (files named are python/sglang/srt/... of that release).
RUNTIME = Runtime("sglang", "SGLang", "release", checked=("0.5.6", "0.5.23"), eras=(
    Era("0.3.0", "one token pool: cell = kv heads per GPU x head_dim x 2 x layers x bytes (MLA: kv_lora_rank + "
                 "rope x layers x bytes); max_total_num_tokens = int(rest GiB x 2^30 // cell); K and V buffers of "
                 "tokens + 1 rows a layer; every layer in the pool, sliding ones too; request slots "
                 "min(max(int(tokens / context_len x 512), 2048), 4096) + 1, max_running_requests = min(tokens // 2, "
                 "slots)", f"{_MR} profile_max_num_token, init_memory_pool; managers/tp_worker.py (0.3.0)",
        {"extra_rows": "one", "swa_rule": "none", "slots_plus_one": True, "log": "none", "mem_fraction_rule": "tp",
         "swa_labels": False, "mamba_rule": "none", "graph_cap": False}),
    Era("0.4.2", "log: KV Cache is allocated. K size: X GB, V size: Y GB. (GB = 1024^3)",
        f"{_MP} MHATokenToKVPool (0.4.2)", {"log": "sizes"}),
    Era("0.4.4", "--page-size (default 1): the pool floored to whole pages, K and V buffers of tokens + page_size "
                 "rows; the log counts #tokens", f"{_MR} init_memory_pool, {_MP} (0.4.4)",
        {"extra_rows": "page", "log": "tokens"}),
    Era("0.4.7", "request slots without the + 1 (ReqToTokenPool of max_num_reqs)", f"{_MR} init_memory_pool (0.4.7)",
        {"slots_plus_one": False}),
    Era("0.5.3", "default --mem-fraction-static = round((GPU MiB - reserved) / GPU MiB, 3), reserved = 512 + "
                 "max(chunked_prefill_size, 2048) x 1.5 + cuda_graph_max_bs x 2 + tp x pp / 8 x 1024 MiB, at least "
                 "10 GiB on GPUs over 60 GiB; chunked_prefill_size and cuda_graph_max_bs by the GPU's memory",
        "python/sglang/srt/server_args.py _handle_gpu_memory_settings (0.5.3)", {"mem_fraction_rule": "reserved"}),
    Era("0.5.8", "gpt-oss gets a full pool and a SWA pool (is_hybrid_swa_model lists GptOssForCausalLM; gemma-2 and "
                 "gemma-3 stay in one pool: 'Disable hybrid SWA memory ... not yet supported'): full = int(tokens x "
                 "layers / (0.8 x SWA layers + full layers)), SWA = int(full x 0.8) (--swa-full-tokens-ratio)",
        "python/sglang/srt/configs/model_config.py is_hybrid_swa_model, model_executor/model_runner.py "
        "set_num_token_hybrid (0.5.8)", {"swa_rule": "layers"}),
    Era("0.5.11", "the SWA split priced by memory: cell = full layers x F + 0.8 x SWA layers x S, full = "
                  "budget // cell, SWA = int(full x 0.8)",
        "python/sglang/srt/model_executor/pool_configurator.py HybridSWAPoolConfigurator (0.5.11)",
        {"swa_rule": "cell"}),
    Era("0.5.13", "the log names the dtype: KV Cache is allocated. dtype: torch.bfloat16, #tokens: N, ...",
        f"{_MP} KVCache._finalize_allocation_log (0.5.13)", {"log": "dtype"}),
    Era("0.5.17", "Mamba-2 hybrids (Nemotron-H): of the pool memory R, the state slots take R x 0.9 / 1.9 "
                  "(--mamba-full-memory-ratio 0.9): max_mamba_cache_size = (that - one slot) // slot bytes, the +1 "
                  "padding slot included; the KV pool of the attention layers takes what is left. A SWA hybrid's two "
                  "lines are labelled: Full KV Cache is allocated. ... / SWA KV Cache is allocated. ...",
        "python/sglang/srt/mem_cache/kv_cache_configurator.py _handle_max_mamba_cache, "
        "mem_cache/swa_memory_pool.py allocation_label (0.5.17)", {"mamba_rule": "joint", "swa_labels": True}),
    Era("0.5.23", "GPUs under 35 GiB: chunked_prefill_size 4096, cuda_graph_max_bs 48 (160 at tp 4 and up); the graph "
                  "batch is capped at --max-running-requests (so is the reserve for it)",
        "python/sglang/srt/arg_groups/memory_hook.py handle_gpu_memory_settings (0.5.23)",
        {"small_gpu": "4096/48", "graph_cap": True}),
))
# GPU memory (MiB, under) -> (chunked_prefill_size, cuda_graph_max_bs below tp 4, at tp 4 and up), 0.5.3-0.5.22.
GPU_DEFAULTS = ((20 * 1024, 2048, 8, 8), (35 * 1024, 2048, 24, 80), (60 * 1024, 4096, 32, 160),
                (90 * 1024, 8192, 256, 512), (160 * 1024, 8192, 256, 512), (1 << 40, 16384, 512, 512))


SWA_HYBRIDS = ("gpt_oss",)  # kvcalc families SGLang runs with a SWA pool (is_hybrid_swa_model)


@dataclass(frozen=True, eq=False)  # engines are compared by their fields nowhere; fewer generated methods at import
class Sglang(Engine):
    name: ClassVar[str] = "sglang"
    runtime: ClassVar[str] = "SGLang"
    is_exact: ClassVar[bool] = False
    sizes_pool: ClassVar[bool] = True
    pool_unit: ClassVar[str] = "tokens"  # fit --kv-memory sizes a token pool (vLLM's: blocks)
    layer_letters: ClassVar[str] = "FSNMR"  # chunked (C) and attention-with-state (H) layers: not modelled
    state_kinds: ClassVar[tuple[str, ...]] = ("mamba", "mamba2")
    version: Optional[str] = "0.5.23"
    rules_version: Optional[str] = "0.5.13"
    block_size: int = 1  # type: ignore[assignment]  # SGLang's --page-size (1 on CUDA by default)
    swa_full_tokens_ratio: float = 0.8  # --swa-full-tokens-ratio: SWA pool tokens per full pool token
    # the era's rules (RUNTIME)
    extra_rows: str = rule("page")  # rows beyond the pool in each buffer: one (a padding row) | page
    swa_rule: str = rule("cell")  # none (sliding layers in the one pool) | layers | cell: how the SWA pool is split
    slots_plus_one: bool = rule(False)  # the request-slot pool has one slot more than its estimate
    log: str = rule("dtype")  # none | sizes | tokens | dtype: the "KV Cache is allocated" line's shape
    mem_fraction_rule: str = rule("reserved")  # tp (fixed by tensor parallelism) | reserved (by GPU memory)
    small_gpu: str = rule("4096/48")  # chunked prefill / graph batch of GPUs under 35 GiB: 2048/24 | 4096/48
    swa_labels: bool = rule(True)  # a SWA hybrid's lines say Full / SWA KV Cache
    mamba_rule: str = rule("joint")  # none (Mamba hybrids refused) | joint (slots and KV solved together)
    mamba_full_memory_ratio: float = 0.9  # --mamba-full-memory-ratio: state memory per KV memory
    graph_cap: bool = rule(True)  # the CUDA-graph batch (and its reserve) capped at --max-running-requests

    @classmethod
    def runtime_of(cls, name: str) -> Runtime:
        return RUNTIME

    @property
    def planning_block_size(self) -> int:
        return self.block_size

    def serving_dtype(self, model: Model) -> str:
        """SGLang's dtype "auto": the config's, but an fp32 checkpoint is served in bf16 if it is a
        Gemma, else fp16 (configs/model_config.py _get_and_verify_dtype, 0.4.6 and 0.5.23)."""
        if model.dtype == "fp32":
            return "bf16" if model.family.startswith("gemma") else "fp16"
        return model.dtype

    def dtype_rule(self, model: Model) -> str:
        if model.dtype == "fp32":
            return (f"auto = {self.serving_dtype(model)}: SGLang serves an fp32 checkpoint in "
                    f"{self.serving_dtype(model)} (bf16 for Gemma, fp16 otherwise: configs/model_config.py "
                    f"_get_and_verify_dtype) and caches KV in it")
        return f"auto = {self.serving_dtype(model)}: SGLang serves the checkpoint's own dtype and caches KV in it"

    def splits_swa(self, model: Model) -> bool:
        """Whether SGLang gives this model's sliding layers a pool of their own: its SWA-hybrid
        architectures only (configs/model_config.py is_hybrid_swa_model; gpt-oss among kvcalc's
        families), from 0.5.8. Gemma-2 and Gemma-3 keep one pool (arg_groups/model_overrides/
        gemma2_gemma3.py, 0.5.23: "Disable hybrid SWA memory ... as it is not yet supported")."""
        kinds = model.layer_kinds
        return (self.swa_rule != "none" and model.family in SWA_HYBRIDS and SLIDING in kinds
                and (FULL in kinds or MLA_KIND in kinds))

    def layer_kinds(self, model: Model) -> str:
        """Sliding layers are full ones where SGLang keeps one pool."""
        return model.layer_kinds if self.splits_swa(model) else model.layer_kinds.replace(SLIDING, FULL)

    def unmodelled(self, model: Model) -> Optional[str]:
        from .transformers import NEW_FAMILIES

        if model.family in NEW_FAMILIES:
            return (f"{model.name}: kvcalc has no SGLang goldens for {model.family} (its layers are not plain attention): "
                    f"not modelled")
        return super().unmodelled(model)

    def for_model(self, model: Model) -> "Sglang":
        if RECURRENT in model.layer_kinds or model.ssm is not None:
            if self.mamba_rule == "none":
                raise InputError(f"{model.name}: SGLang {self.rules_version}'s Mamba state pool (max_mamba_cache_size "
                                 f"slots, sized otherwise before 0.5.17) is not modelled by kvcalc")
            if model.ssm is None or model.ssm.kind != "mamba2" or not model.ssm.n_heads or model.family != "nemotron_h":
                raise InputError(f"{model.name}: SGLang's Mamba state pool is modelled for Nemotron-H only (its "
                                 f"goldens); the recurrent layers of {model.family} are not (README: Families kvcalc "
                                 f"refuses)")
        return self

    def default_mem_fraction(self, gpu_bytes: int, tp: int = 1, pp: int = 1,
                             max_running_requests: Optional[int] = None) -> tuple[float, str]:
        """SGLang's default --mem-fraction-static on a GPU of gpu_bytes (what nvidia-smi reports), and how;
        --max-running-requests caps the CUDA-graph batch, and its reserve, in 0.5.23."""
        if self.mem_fraction_rule != "reserved":
            raise InputError(f"SGLang {self.version}'s default --mem-fraction-static (fixed by tp, then by GPU size "
                             f"before 0.5.3) is not modelled: give --mem-fraction-static")
        mib = gpu_bytes / (1 << 20)
        _, chunked, small_bs, big_bs = next(row for row in GPU_DEFAULTS if mib < row[0])
        if mib < 35 * 1024 and self.small_gpu == "4096/48":
            chunked, small_bs, big_bs = 4096, 48, 160
        max_bs = small_bs if tp < 4 else big_bs
        if self.graph_cap and max_running_requests is not None:
            max_bs = min(max_bs, max_running_requests)
        # SGLang also floors the reserve at 10 GiB on GPUs over 60 GiB; at their default chunked prefill
        # (8192 or more) the reserve is over 12 GiB already, so the floor never binds here.
        reserved = 512 + max(chunked, 2048) * 1.5 + max_bs * 2 + tp * pp / 8 * 1024
        fraction = round((mib - reserved) / mib, 3)
        how = (f"round(({mib:,.0f} MiB - {reserved:,.0f} reserved) / {mib:,.0f}, 3): reserved = 512 + "
               f"max({chunked}, 2048) x 1.5 + cuda_graph_max_bs {max_bs} x 2 + tp x pp / 8 x 1024"
               f" (SGLang {self.rules_version} on)")
        return fraction, how

    @property
    def extra(self) -> int:
        """Rows each buffer holds beyond the pool: the padding page (one row before 0.4.4)."""
        return self.block_size if self.extra_rows == "page" else 1

    def tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        """A sequence holds its tokens in whole pages; in a SWA pool, the window's pages and one more
        (SGLang frees the pages that left the window: mem_cache/swa_radix_cache.py)."""
        pages = cdiv(seq_len, self.block_size) * self.block_size
        if kind == SLIDING:
            assert window is not None
            return min(pages, cdiv(window, self.block_size) * self.block_size + self.block_size)
        if kind in (FULL, MLA_KIND):
            return pages
        return super().tokens(kind, seq_len, window)

    def notes(self, model: Model, cache: Any, exact: Any) -> list[str]:
        notes = []
        if self.block_size > 1:
            notes.append(f"pages of {self.block_size} tokens round each sequence up")
        if SLIDING in model.layer_kinds:
            notes.append("sliding layers keep the window's pages and one more (SGLang's SWA pool frees the rest)"
                         if self.splits_swa(model) else
                         f"SGLang {self.rules_version} sizes sliding-window layers as full layers: every layer holds "
                         f"every token")
        return notes


# ----- sizing the pool: what SGLang's startup lines report -------------------------------------


@dataclass(frozen=True)
class Part:
    """One pool of SGLang's: the full one, or the SWA one of a hybrid."""

    kind: str  # full | sliding | mla
    tokens: int  # the pool's tokens (max_total_num_tokens of the full pool)
    layers: int
    k_row_bytes: int  # one token of one layer's K buffer (the latent, for MLA)
    v_row_bytes: int  # 0 for MLA
    extra: int  # rows beyond the pool in each buffer
    pool: str = ""  # Full | SWA: which of a hybrid's two pools ("" for the one pool)

    @property
    def k_bytes(self) -> int:
        """The K buffers as allocated: (tokens + extra) rows in every layer."""
        return (self.tokens + self.extra) * self.layers * self.k_row_bytes

    @property
    def v_bytes(self) -> int:
        return (self.tokens + self.extra) * self.layers * self.v_row_bytes


@dataclass(frozen=True)
class TokenPool:
    """SGLang's KV pools on one GPU for `available_bytes` of pool memory."""

    available_bytes: int
    page_size: int
    cell_bytes: int  # what budget // cell divides by (a float for the SWA split, as SGLang's)
    parts: tuple[Part, ...]
    slots_plus_one: bool
    mamba: Optional["MambaPool"] = None  # the state slots of a Mamba hybrid

    @property
    def max_total_num_tokens(self) -> int:
        return self.parts[0].tokens

    @property
    def latent(self) -> bool:
        return self.parts[0].kind == "mla"

    @property
    def k_bytes(self) -> int:
        return sum(p.k_bytes for p in self.parts)

    @property
    def v_bytes(self) -> int:
        return sum(p.v_bytes for p in self.parts)

    def max_running_requests(self, context_len: int) -> Optional[int]:
        """min(tokens // 2, request slots): slots = min(max(int(tokens / context_len x 512), 2048), 4096)
        (+ 1 before 0.4.7); None for a Mamba hybrid, whose state slots also cap it (by a
        number of slots a request that kvcalc does not model)."""
        if self.mamba is not None:
            return None
        slots = min(max(int(self.max_total_num_tokens / context_len * 512), 2048), 4096) + self.slots_plus_one
        return min(self.max_total_num_tokens // 2, slots)


@dataclass(frozen=True)
class MambaPool:
    """A Mamba-2 hybrid's state slots on one GPU: each slot holds every Mamba layer's conv and SSM state."""

    slots: int  # max_mamba_cache_size (the pool allocates one more, its padding slot)
    layers: int
    conv_bytes: int  # one slot, one layer: ((d_inner + 2 x n_groups x d_state) / tp) x (d_conv - 1) in bf16
    ssm_bytes: int  # one slot, one layer: (n_heads / tp) x head_dim x d_state in fp32

    @property
    def slot_bytes(self) -> int:
        return self.layers * (self.conv_bytes + self.ssm_bytes)

    def line(self) -> str:
        """SGLang's line (mem_cache/memory_pool.py MambaPool: no space before GB, one after)."""
        conv = (self.slots + 1) * self.layers * self.conv_bytes / GiB
        ssm = (self.slots + 1) * self.layers * self.ssm_bytes / GiB
        return (f"Mamba Cache is allocated. max_mamba_cache_size: {self.slots}, conv_state size: {conv:.2f}GB, "
                f"ssm_state size: {ssm:.2f}GB ")


def mamba_slot(model: Model, tp: int) -> tuple[int, int, int]:
    """(Mamba layers, conv bytes, SSM bytes) of one state slot on one GPU of tensor parallelism tp
    (configs/mamba_utils.py Mamba2StateShape: n_groups padded up to tp when tp does not divide it;
    conv in bf16, the SSM state in fp32)."""
    s = model.ssm
    assert s is not None and s.n_heads
    groups = s.n_groups if s.n_groups % tp == 0 else tp
    conv = (s.d_inner + 2 * groups * s.d_state) // tp * (s.d_conv - 1) * 2
    ssm = s.n_heads // tp * (s.d_inner // s.n_heads) * s.d_state * 4
    return model.layer_kinds.count(RECURRENT), conv, ssm


def rows(model: Model, engine: Sglang, kv_dtype: str, tp: int = 1) -> tuple[int, int, bool]:
    """(K row bytes, V row bytes, latent) of one token of one layer on one GPU of tensor parallelism tp."""
    from ..dtypes import resolve

    engine.for_model(model)
    dtype = resolve(kv_dtype, engine.serving_dtype(model))
    if dtype.group_size:
        raise InputError(f"SGLang has no {dtype.name} KV cache")
    if model.mla is not None:
        return model.mla.latent_dim * dtype.bits // 8, 0, True
    heads = max(1, model.n_kv_heads // tp)
    row = heads * model.head_dim * dtype.bits // 8
    return row, row, False


def size_pool(model: Model, available_bytes: int, engine: Sglang, kv_dtype: str = "auto", tp: int = 1,
              max_total_tokens: Optional[int] = None) -> TokenPool:
    """The pools SGLang allocates for `available_bytes` (profile_max_num_token, and the SWA split of
    its era): tokens = budget // cell, capped by --max-total-tokens, floored to the page."""
    engine.admit(model)
    k_row, v_row, latent = rows(model, engine, kv_dtype, tp)
    kinds = engine.layer_kinds(model)
    page, ratio = engine.block_size, engine.swa_full_tokens_ratio
    n_swa = kinds.count(SLIDING)
    n_full = sum(1 for k in kinds if k in (FULL, MLA_KIND))
    per_layer = k_row + v_row

    def floor(n: int) -> int:
        return n // page * page

    mamba = None
    if RECURRENT in kinds:  # 0.5.17+: the state slots first, solved with their padding slot
        layers, conv, ssm = mamba_slot(model, tp)
        slot = layers * (conv + ssm)
        r = engine.mamba_full_memory_ratio
        rest = available_bytes / (1 << 30)  # SGLang works in GiB floats here
        slots = int((rest * r / (1 + r) * (1 << 30) - slot) // slot)
        rest -= (slots + 1) * slot / (1 << 30)
        mamba = MambaPool(slots, layers, conv, ssm)
        available_bytes = int(rest * (1 << 30))
    if not engine.splits_swa(model):
        cell = n_full * per_layer
        tokens = available_bytes // cell
        if max_total_tokens is not None:
            tokens = min(tokens, max_total_tokens)
        part = Part("mla" if latent else "full", floor(tokens), n_full, k_row, v_row, engine.extra)
        return TokenPool(available_bytes, page, cell, (part,), engine.slots_plus_one, mamba)
    if engine.swa_rule == "layers":  # 0.5.8-0.5.10: tokens of the one pool, shared out by layer counts
        cell = (n_full + n_swa) * per_layer
        total = (available_bytes // cell) * (n_full + n_swa)
        full = int(total / (ratio * n_swa + n_full))
    else:  # 0.5.11+: full = budget // (F x full layers + ratio x S x SWA layers)
        cell = n_full * per_layer + ratio * n_swa * per_layer
        full = int(available_bytes // cell)
    if max_total_tokens is not None:
        full = min(full, max_total_tokens)
    full = floor(full)
    swa = floor(int(full * ratio))
    parts = (Part("full", full, n_full, k_row, v_row, engine.extra, "Full"),
             Part("sliding", swa, n_swa, k_row, v_row, engine.extra, "SWA"))
    return TokenPool(available_bytes, page, cell, parts, engine.slots_plus_one)


def part_for(model: Model, engine: Sglang, kv_dtype: str, tp: int, tokens: int, kind: str) -> Part:
    """The buffers of one pool of `tokens` (as a log line states them): the full (or MLA) layers',
    or the sliding layers' of a SWA hybrid."""
    k_row, v_row, latent = rows(model, engine, kv_dtype, tp)
    kinds = engine.layer_kinds(model)
    layers = kinds.count(SLIDING) if kind == "sliding" else sum(1 for k in kinds if k in (FULL, MLA_KIND))
    pool = ("SWA" if kind == "sliding" else "Full") if engine.splits_swa(model) else ""
    return Part("mla" if latent else kind, tokens, layers, k_row, v_row, engine.extra, pool)


_TORCH = {"bf16": "torch.bfloat16", "fp16": "torch.float16", "fp32": "torch.float32", "fp8": "torch.float8_e4m3fn",
          "fp8_e4m3": "torch.float8_e4m3fn", "fp8_e5m2": "torch.float8_e5m2"}


def allocated_line(part: Part, engine: Sglang, kv_name: str) -> Optional[str]:
    """SGLang's "KV Cache is allocated" line for one pool, as the release prints it (memory_pool.py:
    f"{bytes / GB:.2f} GB" with GB = 1024^3); None where it prints none."""
    k, v = part.k_bytes / GiB, part.v_bytes / GiB
    latent = part.kind == "mla"
    if engine.log == "none" or (engine.log == "sizes" and latent):
        return None
    if engine.log == "sizes":
        return f"KV Cache is allocated. K size: {k:.2f} GB, V size: {v:.2f} GB."
    dtype = f"dtype: {_TORCH.get(kv_name, kv_name)}, " if engine.log == "dtype" else ""
    sizes = f"KV size: {k + v:.2f} GB" if latent else f"K size: {k:.2f} GB, V size: {v:.2f} GB"
    label = ""
    if engine.swa_labels and part.pool:
        label = f"{part.pool} "
    return f"{label}KV Cache is allocated. {dtype}#tokens: {part.tokens}, {sizes}"
