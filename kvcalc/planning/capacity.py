"""Capacity planning: what fits on which GPUs, and how fast decoding can be at best. Pure integers.

Per GPU, as vLLM sizes it:
    KV budget = floor(memory x gpu_memory_utilization) - the GPU's share of the weights - reserve
- Tensor parallelism (tp) splits query heads and KV heads; when tp > n_kv_heads each KV head
  is replicated, so a GPU holds max(1, n_kv_heads // tp) KV heads (never a fraction). An MLA
  latent is not split: every GPU of the group holds it whole.
- Pipeline parallelism (pp) splits the layers into pp stages (the first n_layers % pp stages
  take one layer more); the first stage also holds the embedding, the last the LM head.
- The engine's rules size the cache (``Setup.engine``, vllm by default): under vllm, paged blocks
  round every sequence up to whole blocks of block_size tokens, so a sequence of S tokens takes
  cdiv(S, block_size) blocks per layer; under hf and exact, tokens are allocated one by one.
  Recurrent (Mamba) state counts with each sequence.
- Decode speed bound: a decode step reads each GPU's weights and the KV cache of the whole
  batch once, so tokens/s <= batch / sum over stages of (weights + KV bytes per GPU) / bandwidth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from ..engines import Engine, get_engine
from ..errors import InputError
from ..core.formulas import DEFAULT_BLOCK_SIZE, KVCache, check_kv_heads, divisors, kv_cache, layout_name
from .gpus import GPU
from ..models.model import Model
from ..models.params import ParamCount, count_params
from ..models.quantization import FORMATS as QUANT_FORMATS

WEIGHT_BITS = {"fp32": 32, "fp16": 16, "bf16": 16, "fp8": 8, "int8": 8, "int4": 4}
# --weights-dtype formats that quantize the weight matrices only, with their block scales (the
# embeddings, LM head, norms and biases stay in the model's dtype), as checkpoints store them.
WEIGHT_FORMATS = QUANT_FORMATS
DEFAULT_RESERVE = 2 * 1024**3  # CUDA context, activations, CUDA graphs: 2 GiB per GPU unless told
DEFAULT_UTILIZATION = 0.9  # vLLM's default gpu_memory_utilization
MAX_TOKENS = 1 << 40  # the search bound of max_context


@dataclass(frozen=True)
class Setup:
    """The hardware and runtime settings a model is planned on."""

    gpu: GPU
    tp: int = 1
    pp: int = 1
    replicas: int = 1  # data-parallel copies of the tp x pp group
    gpu_memory_utilization: float = DEFAULT_UTILIZATION
    reserve_bytes: int = DEFAULT_RESERVE
    block_size: int = DEFAULT_BLOCK_SIZE
    kv_dtype: str = "auto"
    weights_dtype: str = "auto"
    engine: Engine = field(default_factory=lambda: get_engine("vllm"))  # whose rules size the KV cache
    requested_bytes: int | None = None  # vLLM's requested memory (kvcalc.planning.vllm_budget), when predicted
    buffers_bytes: int = 0  # per GPU, loaded beside the parameters (rotary caches), when predicted

    @property
    def n_gpus(self) -> int:
        return self.tp * self.pp * self.replicas

    @property
    def usable_bytes(self) -> int:
        """floor(memory x utilization), per GPU; vLLM's requested memory when predicted."""
        if self.requested_bytes is not None:
            return self.requested_bytes
        return math.floor(self.gpu.memory_bytes * self.gpu_memory_utilization)


def parallel_setup(model: Model, gpus: int | None, tp: int | None, pp: int) -> tuple[int, int, int]:
    """(tp, pp, replicas) from --gpus / --tp / --pp: tp defaults to the GPUs left after pp."""
    if gpus is not None and tp is None:
        if gpus % pp:
            raise InputError(f"--gpus {gpus} is not a multiple of --pp {pp}")
        tp = gpus // pp
    tp = tp or 1
    total = gpus if gpus is not None else tp * pp
    if total % (tp * pp):
        raise InputError(f"--gpus {total} is not a multiple of --tp {tp} x --pp {pp}")
    if pp > model.n_layers:
        raise InputError(f"--pp {pp}: {model.name} has only {model.n_layers} layers to split")
    if model.n_heads % tp:
        raise InputError(f"--tp {tp} does not divide the {model.n_heads} query heads of {model.name}")
    return tp, pp, total // (tp * pp)


def kv_heads_per_gpu(n_kv_heads: int, tp: int) -> int:
    """KV heads one GPU holds: n_kv_heads // tp, or 1 (replicated) when tp > n_kv_heads.
    vLLM needs one to divide the other (8 KV heads over 16 GPUs: each head on 2 GPUs)."""
    if tp <= n_kv_heads and n_kv_heads % tp:
        raise InputError(f"--tp {tp} does not divide {n_kv_heads} KV heads (vLLM needs one to divide the other)")
    if tp > n_kv_heads and tp % n_kv_heads:
        raise InputError(f"{n_kv_heads} KV heads do not divide --tp {tp} (vLLM needs one to divide the other)")
    return max(1, n_kv_heads // tp)


def stages(n_layers: int, pp: int) -> list[range]:
    """Layer ranges of the pp pipeline stages; the first n_layers % pp take one layer more."""
    base, extra = divmod(n_layers, pp)
    out, start = [], 0
    for i in range(pp):
        size = base + (i < extra)
        out.append(range(start, start + size))
        start += size
    return out


def serving_dtype(model: Model, engine: "Engine | str" = "exact") -> str:
    """The dtype `engine` runs the model in (what auto means): vLLM serves an fp32 checkpoint in
    bf16; transformers and the exact engine keep the checkpoint's torch_dtype."""
    return get_engine(engine).serving_dtype(model)


def dtype_rule(model: Model, engine: "Engine | str" = "exact") -> str:
    """What `auto` meant, in words: the engine's rule for this model's dtype."""
    return get_engine(engine).dtype_rule(model)


def weight_bits(model: Model, weights_dtype: str, engine: "Engine | str" = "exact") -> tuple[str, int]:
    """(name, bits) of the dtype the weights are counted in: under auto, the dtype the engine
    serves the model in; for a quantized checkpoint (or mxfp4 / nvfp4) the dtype of what stays
    unquantized, weight_quant() saying the rest."""
    own = serving_dtype(model, engine)
    name = own if weights_dtype == "auto" else weights_dtype.strip().lower()
    if name in WEIGHT_FORMATS:
        name = own
    if name not in WEIGHT_BITS:
        raise InputError(f"unknown --weights-dtype {weights_dtype!r} (choose from: auto, "
                         f"{', '.join([*WEIGHT_BITS, *WEIGHT_FORMATS])})")
    return name, WEIGHT_BITS[name]


def weight_quant(model: Model, weights_dtype: str):  # type: ignore[no-untyped-def]
    """The Quant the weight matrices are stored in: the checkpoint's own under auto, mxfp4 /
    nvfp4 when asked; None when every parameter has one dtype."""
    from ..models.model import Quant

    name = weights_dtype.strip().lower()
    if name == "auto":
        return model.quantization
    if name in WEIGHT_FORMATS:
        return Quant(name, **WEIGHT_FORMATS[name])
    return None


def mixed_bytes(quant, matrices: list[int], total: int, bits: int) -> int:  # type: ignore[no-untyped-def]
    """Bytes of `total` parameters of which `matrices` (each counted apart) are stored by the Quant
    and the rest at `bits`."""
    return sum(quant.bytes_of(n) for n in matrices) + -(-(total - sum(matrices)) * bits // 8)


def layer_bytes(params: ParamCount, bits: int, quant, i: int) -> int:  # type: ignore[no-untyped-def]
    """Bytes of layer i's parameters: its quantized matrices by the Quant, the rest at bits."""
    if quant is None:
        return -(-params.layers[i] * bits // 8)
    q = [n for n, on in ((params.attn_linear[i], quant.attention), (params.mlp_linear[i], quant.mlp),
                         (params.expert_linear[i], quant.experts)) if on]
    return mixed_bytes(quant, q, params.layers[i], bits)


@dataclass(frozen=True)
class Stage:
    """One pipeline stage, as one of its tp GPUs sees it."""

    layers: range
    weights_bytes_per_gpu: int
    kv_budget_bytes: int  # per GPU; negative when the weights alone do not fit


@dataclass(frozen=True)
class Weights:
    params: ParamCount | None  # None when given as bytes
    dtype: str
    total_bytes: int
    stages: tuple[Stage, ...]

    @property
    def per_gpu_bytes(self) -> int:
        """The largest stage's share of the weights on one GPU."""
        return max(s.weights_bytes_per_gpu for s in self.stages)


def weights(model: Model, setup: Setup, weights_bytes: int | None = None) -> Weights:
    """The weights per stage and GPU: counted from the architecture, or `weights_bytes` in all
    (spread over the stages by their share of layers)."""
    dtype, bits = weight_bits(model, setup.weights_dtype, setup.engine)
    ranges = stages(model.n_layers, setup.pp)
    out = []
    if weights_bytes is not None:
        params = None
        total = weights_bytes
        for r in ranges:
            share = weights_bytes * len(r) // model.n_layers
            out.append((r, -(-share // setup.tp) + setup.buffers_bytes))
    else:
        params = count_params(model)
        quant = weight_quant(model, setup.weights_dtype)
        per_layer = [layer_bytes(params, bits, quant, i) for i in range(model.n_layers)]
        outside = -(-(params.embedding + params.head + params.final_norm) * bits // 8)
        total = sum(per_layer) + outside
        for i, r in enumerate(ranges):
            b = sum(per_layer[r.start:r.stop])
            n = 0
            if i == 0:
                n += params.embedding
            if i == len(ranges) - 1:  # the LM head (its own copy when tied and pp > 1) and final norm
                n += params.final_norm + (params.head or (params.embedding if setup.pp > 1 else 0))
            out.append((r, -(-(b + -(-n * bits // 8)) // setup.tp) + setup.buffers_bytes))
        if quant is not None:
            from ..models.quantization import label

            dtype = f"{label(quant)} + {dtype}"
    return Weights(params, dtype, total, tuple(
        Stage(r, w, setup.usable_bytes - w - setup.reserve_bytes) for r, w in out))


def stage_model(model: Model, layers: range, tp: int, engine: "Engine | str" = "exact") -> Model:
    """The part of `model` one GPU of a stage holds: its layers, n_heads / tp query heads. Where
    the engine caches K/V for every query head (transformers' Falcon), a GPU holds n_heads / tp."""
    kv = get_engine(engine).cached_kv_heads(model)
    return replace(model, n_layers=len(layers), layer_pattern=model.layer_kinds[layers.start:layers.stop],
                   n_heads=model.n_heads // tp, n_kv_heads=max(1, kv // tp) if not model.mla else model.n_kv_heads)


def stage_cache(model: Model, stage: Stage, setup: Setup, seq_len: int, batch_size: int,
                n_kv_heads: int | None) -> KVCache:
    """One GPU's KV cache in `stage` (paged blocks): n_kv_heads None keeps the model's attention."""
    part = stage_model(model, stage.layers, setup.tp, setup.engine)
    heads = kv_heads_per_gpu(n_kv_heads, setup.tp) if n_kv_heads is not None else None
    return kv_cache(part, seq_len, batch_size, kv_dtype=setup.kv_dtype, engine=setup.engine,
                    block_size=setup.block_size, n_kv_heads=heads)


@dataclass(frozen=True)
class LayoutFit:
    """One layout (the model, or a rebuild with n_kv_heads) on a setup."""

    layout: str
    n_kv_heads: int
    kv_heads_per_gpu: int  # 0 for an MLA latent (not split)
    bytes_per_token_per_gpu: int  # largest stage, all its layers, before block rounding
    block_bytes: int  # one block of block_size tokens, largest stage
    num_blocks_per_gpu: int  # kv budget // block bytes (smallest over stages)
    seq_bytes_per_gpu: int | None  # one sequence of seq_len tokens, block-rounded, largest stage
    max_seqs: int | None  # concurrent sequences of seq_len tokens, over all replicas
    max_seqs_per_replica: int | None
    max_context: int | None  # tokens per sequence at batch_size (None: no --batch)
    decode_batch: int | None
    decode_seq_len: int | None
    kv_bytes_per_gpu: int | None  # KV of the decode batch, per GPU (largest stage)
    decode_tokens_per_s: float | None  # upper bound, one replica; None for a batch that does not fit
    fits: bool | None = None  # --batch sequences of --seq tokens in one replica (None unless both given)


def _per_seq(model: Model, w: Weights, setup: Setup, seq_len: int, n_kv_heads: int | None) -> list[int]:
    """One sequence's cache on a GPU of each stage: K/V and any recurrent state."""
    return [stage_cache(model, s, setup, seq_len, 1, n_kv_heads).cache_bytes for s in w.stages]


def max_seqs(w: Weights, per_seq: list[int]) -> int:
    """Concurrent sequences one replica holds: min over stages of budget // (one sequence's
    block-rounded KV bytes on a GPU of that stage, as _per_seq gives them)."""
    return max(0, min(s.kv_budget_bytes // b if b else MAX_TOKENS for s, b in zip(w.stages, per_seq)))


def max_context(model: Model, w: Weights, setup: Setup, batch_size: int, n_kv_heads: int | None) -> int:
    """The longest sequence (tokens) a batch of batch_size holds in one replica: the largest S
    with batch x KV(S) <= budget on every stage (KV is non-decreasing in S: bisection)."""
    def fits(s: int) -> bool:
        return all(batch_size * b <= st.kv_budget_bytes for st, b in zip(w.stages, _per_seq(model, w, setup, s, n_kv_heads)))

    if not fits(1):
        return 0
    lo, hi = 1, MAX_TOKENS
    if fits(hi):
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def weights_read(model: Model, w: Weights, setup: Setup, batch_size: int) -> list[int]:
    """Weights bytes one GPU of each stage reads in a decode step. MoE layers read only the
    experts the batch is routed to, taken as min(n_experts, batch x experts per token): routing
    that spreads tokens over experts, as at serving batch sizes."""
    if model.moe is None or w.params is None:
        return [s.weights_bytes_per_gpu for s in w.stages]
    moe, p = model.moe, w.params
    _, bits = weight_bits(model, setup.weights_dtype, setup.engine)
    quant = weight_quant(model, setup.weights_dtype)
    idle = moe.n_experts - min(moe.n_experts, batch_size * moe.n_experts_per_tok)
    spare = moe.n_experts - moe.n_experts_per_tok  # experts one token does not use
    out = []
    for s in w.stages:
        unread = 0
        for i in s.layers:
            if not (spare and moe.is_expert_layer(i)):
                continue
            per_expert = (p.layers[i] - p.active_layers[i]) // spare  # parameters of one routed expert
            if quant is not None and quant.experts:
                unread += idle * mixed_bytes(quant, [p.expert_linear[i] // moe.n_experts], per_expert, bits)
            else:
                unread += idle * per_expert * bits // 8
        out.append(s.weights_bytes_per_gpu - unread // setup.tp)
    return out


def decode_bound(model: Model, w: Weights, setup: Setup, seq_len: int, batch_size: int,
                 n_kv_heads: int | None) -> tuple[float | None, int]:
    """(tokens/s upper bound of one replica, KV bytes per GPU of the largest stage) for a batch of
    batch_size sequences at seq_len tokens: batch / sum over stages of (weights read + KV) / bandwidth;
    no bound (None) for a GPU of a user's catalog without its bandwidth."""
    kv = [stage_cache(model, s, setup, seq_len, batch_size, n_kv_heads).cache_bytes for s in w.stages]
    if setup.gpu.hbm_bandwidth_bytes_per_s is None:
        return None, max(kv)
    read = weights_read(model, w, setup, batch_size)
    seconds = sum(r + k for r, k in zip(read, kv)) / setup.gpu.hbm_bandwidth_bytes_per_s
    return (batch_size / seconds if seconds else math.inf), max(kv)


def layout_fit(model: Model, w: Weights, setup: Setup, layout: str, n_kv_heads: int | None,
               seq_len: int | None, batch_size: int | None) -> LayoutFit:
    """Everything `fit` answers for one layout; n_kv_heads None is the model as published."""
    if n_kv_heads is not None:
        check_kv_heads(model, n_kv_heads)
    heads = n_kv_heads if n_kv_heads is not None else model.n_kv_heads
    per_gpu = 0 if (model.mla and n_kv_heads is None) else kv_heads_per_gpu(heads, setup.tp)
    one = [stage_cache(model, s, setup, 1, 1, n_kv_heads) for s in w.stages]
    per_token = max(c.bytes_per_token for c in one)
    block_bytes = setup.block_size * per_token
    blocks = min((s.kv_budget_bytes // (setup.block_size * c.bytes_per_token) if c.bytes_per_token else MAX_TOKENS)
                 for s, c in zip(w.stages, one))
    seq_bytes = seqs = ctx = tps = kv = None
    if seq_len is not None:
        per_seq = _per_seq(model, w, setup, seq_len, n_kv_heads)
        seq_bytes, seqs = max(per_seq), max_seqs(w, per_seq)
    if batch_size is not None:
        ctx = max_context(model, w, setup, batch_size, n_kv_heads)
    d_batch = batch_size if batch_size is not None else seqs
    d_seq = seq_len if seq_len is not None else ctx
    fits = None if seq_len is None or batch_size is None or seqs is None else seqs >= batch_size
    if d_batch and d_seq and fits is not False:  # a bound only for what fits
        tps, kv = decode_bound(model, w, setup, d_seq, d_batch, n_kv_heads)
    return LayoutFit(
        layout=layout, n_kv_heads=heads, kv_heads_per_gpu=per_gpu, bytes_per_token_per_gpu=per_token,
        block_bytes=block_bytes, num_blocks_per_gpu=max(0, blocks), seq_bytes_per_gpu=seq_bytes,
        max_seqs=None if seqs is None else seqs * setup.replicas, max_seqs_per_replica=seqs,
        max_context=ctx, decode_batch=d_batch or None, decode_seq_len=d_seq or None,
        kv_bytes_per_gpu=kv, decode_tokens_per_s=tps, fits=fits,
    )


def fit_layouts(model: Model) -> list[tuple[str, int | None]]:
    """(layout, n_kv_heads) rows of `fit`: the model as published, then its MHA and MQA rebuilds."""
    from ..core.formulas import published_label

    return [(published_label(model), None), ("MHA", model.n_heads), ("MQA", 1)]


def plan_layouts(model: Model) -> list[tuple[str, int]]:
    """Every group count of `plan`: each divisor of n_heads, MHA first."""
    return [(layout_name(model, d), d) for d in divisors(model.n_heads)]


def make_setup(model: Model, gpu: GPU, gpus: int | None = None, tp: int | None = None, pp: int = 1,
               gpu_memory_utilization: float = DEFAULT_UTILIZATION, reserve_bytes: int = DEFAULT_RESERVE,
               block_size: int = DEFAULT_BLOCK_SIZE, kv_dtype: str = "auto", weights_dtype: str = "auto",
               engine: "Engine | str" = "vllm") -> Setup:
    """A Setup with its parallelism checked against the model."""
    tp, pp, replicas = parallel_setup(model, gpus, tp, pp)
    weight_bits(model, weights_dtype)
    engine = get_engine(engine, block_size)
    if not engine.plans_capacity:
        raise InputError(f"--engine {engine.name} does not plan serving capacity (fit, plan and compare --gpu take: "
                         f"{', '.join(planning_engines())})")
    block_size = engine.planning_block_size  # without paged blocks, tokens are allocated one by one
    setup = Setup(gpu, tp, pp, replicas, gpu_memory_utilization, reserve_bytes, block_size, kv_dtype, weights_dtype,
                  engine)
    if not model.mla:
        kv_heads_per_gpu(model.n_kv_heads, tp)
    return setup
