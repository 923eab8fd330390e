"""Local inference: what llama.cpp puts on one GPU (or a Mac's GPU) and in host memory, and the
largest context or the most offloaded layers that fit. Pure integers.

Per device, as llama.cpp allocates at load and context creation (src/llama-model.cpp load_tensors,
src/llama-context.cpp, of the build the engine names):
- weights: `-ngl N` puts blocks n_layer-N ... n_layer-1 on the GPU and, when N > n_layer, the
  output layer (output_norm and output.weight; a tied model's copy of token_embd). token_embd
  stays in host memory. `--n-cpu-moe N` keeps the routed experts (ffn_*_exps) of blocks 0 ... N-1
  in host memory.
- KV cache: each layer's K/V where its block is (offload_kqv, the default), sized by the
  llama.cpp engine (kvcalc.engines.llamacpp).
- compute buffers: the graph's worst case (kvcalc.planning.llamacpp_buffers), an estimate.
- output buffer: the logits of n_seq_max rows, in host memory.
- margin: what to leave free on the GPU, 1 GiB by default (llama.cpp's --fit target, PR #16653).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.formulas import kv_cache
from ..engines.llamacpp import LlamaCpp
from ..dtypes import resolve
from ..models.gguf_tensors import Weights, cuda_bytes, is_expert
from ..models.model import CHUNKED, FULL, HYBRID, MLA_KIND, NONE, RECURRENT, SLIDING, Model
from .gpus import GPU
from .llamacpp_buffers import compute_buffers, output_buffer

DEFAULT_MARGIN = 1 << 30  # llama.cpp's --fit keeps 1 GiB free per device (common/arg.cpp --fit-target 1024)
CTX_STEP = 256  # llama.cpp pads n_ctx to 256: the contexts worth asking for
DEFAULT_CTX = 4096  # the context asked of an -ngl search when none is given


@dataclass(frozen=True)
class Local:
    """The machine and llama.cpp's settings a model is planned on."""

    gpu: GPU
    engine: LlamaCpp  # n_parallel, kv_unified, n_ubatch, flash_attn: the build's rules and defaults
    device_bytes: int  # what llama.cpp may use on the GPU (CUDA's total, Metal's working set)
    device_rule: str
    k_dtype: str = "auto"
    v_dtype: str = "auto"
    margin_bytes: int = DEFAULT_MARGIN
    n_cpu_moe: int = 0
    embeddings: bool = False  # the context also extracts embeddings (Ollama's runner does): a bigger output buffer


@dataclass(frozen=True)
class Device:
    """What llama.cpp allocates on one device."""

    weights_bytes: int
    kv_cache_bytes: int
    compute_buffer_bytes: int
    output_buffer_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.compute_buffer_bytes + self.output_buffer_bytes


@dataclass(frozen=True)
class Placement:
    """One answer: a context and a layer split, and what each side holds."""

    n_ctx: int
    ngl: int  # layers offloaded, n_layer + 1 = all (the output layer too)
    gpu: Device
    host: Device
    usable_bytes: int  # device_bytes less the margin

    @property
    def fits(self) -> bool:
        return self.gpu.total_bytes <= self.usable_bytes

    @property
    def free_bytes(self) -> int:
        return self.usable_bytes - self.gpu.total_bytes


def gpu_layers(n_layers: int, ngl: int) -> range:
    """The blocks -ngl N offloads: the last min(N, n_layer)."""
    return range(max(n_layers - ngl, 0), n_layers)


def layer_kv(model: Model, eng: LlamaCpp, n_ctx: int, k_dtype: str, v_dtype: str) -> list[int]:
    """K/V (and recurrent state) bytes of each layer at n_ctx cells, as the engine sizes the cache."""
    cache = kv_cache(model, n_ctx, 1, k_dtype, eng, v_dtype=v_dtype)
    kinds = eng.for_model(model).layer_kinds(model)
    per_kind, groups = {}, iter(cache.groups)
    for kind in (SLIDING, CHUNKED, FULL, MLA_KIND, NONE, RECURRENT):  # kv_cache's group order
        if kinds.count(kind) + (kinds.count(HYBRID) if kind == FULL else 0):
            g = next(groups)
            per_kind[kind] = g.tokens * g.bytes_per_token
    state_layers = kinds.count(RECURRENT) + kinds.count(HYBRID)
    state = cache.state_bytes // state_layers if state_layers else 0
    out = []
    for k in kinds:
        out.append(per_kind.get(FULL if k == HYBRID else k, 0) + (state if k in (RECURRENT, HYBRID) else 0))
    out[0] += cache.cache_bytes - sum(out)  # the state's remainder of an uneven split, if any
    return out


def place(model: Model, w: Weights, local: Local, n_ctx: int, ngl: int) -> Placement:
    """What llama.cpp allocates on the GPU and in host memory for -c n_ctx and -ngl ngl."""
    n = model.n_layers
    on_gpu = gpu_layers(n, ngl)
    metal = local.gpu.unified  # Metal maps the file (MTL0_Mapped): the tensors' own bytes
    size = (lambda t: t.n_bytes) if metal else cuda_bytes
    layers, experts = w.layer_bytes(n, size=size), w.layer_bytes(n, experts=True, size=size)
    gpu_w = sum(layers[i] for i in on_gpu) - sum(experts[i] for i in on_gpu if i < local.n_cpu_moe)
    head = w.tensor("output.weight") or w.tensor("token_embd.weight")
    if ngl > n:  # the output layer: its norm and head (a tied head is a copy of token_embd on the GPU)
        norm = w.tensor("output_norm.weight")
        gpu_w += (size(head) if head else 0) + (size(norm) if norm else 0)
    on_host = [t for t in w.tensors if not (0 <= t.layer < n and t.layer in on_gpu)
               and not (ngl > n and t.name in ("output.weight", "output_norm.weight"))]
    host_w = sum(t.n_bytes for t in on_host) + sum(
        t.n_bytes for t in w.tensors if t.layer in on_gpu and t.layer < local.n_cpu_moe and is_expert(t.name))
    kv = layer_kv(model, local.engine, n_ctx, local.k_dtype, local.v_dtype)
    gpu_kv = sum(kv[i] for i in on_gpu)
    quantized = [resolve(d, "fp16").group_size > 0 for d in (local.k_dtype, local.v_dtype)]
    compute = compute_buffers(model, local.engine, n_ctx, ngl, local.gpu.unified, head.n_bytes if head else 0,
                              *quantized)
    out = output_buffer(model, local.engine, local.embeddings)
    return Placement(n_ctx, ngl, Device(gpu_w, gpu_kv, compute.device_bytes, 0),
                     Device(host_w, sum(kv) - gpu_kv, compute.host_bytes, out),
                     local.device_bytes - local.margin_bytes)


def max_context(model: Model, w: Weights, local: Local, ngl: int, limit: int) -> Placement | None:
    """The largest -c (a multiple of 256, at most `limit`) that fits with -ngl ngl; None if not even 256."""
    lo, hi = 0, limit // CTX_STEP
    best = None
    while lo < hi:  # the largest k with place(k x 256) fitting: memory grows with the context
        mid = (lo + hi + 1) // 2
        p = place(model, w, local, mid * CTX_STEP, ngl)
        if p.fits:
            lo, best = mid, p
        else:
            hi = mid - 1
    if best is None and lo:
        best = place(model, w, local, lo * CTX_STEP, ngl)
    if best is not None and limit % CTX_STEP and best.n_ctx == limit // CTX_STEP * CTX_STEP:
        top = place(model, w, local, limit, ngl)  # the model's own limit, not a multiple of 256
        best = top if top.fits else best
    return best


def max_ngl(model: Model, w: Weights, local: Local, n_ctx: int) -> Placement:
    """The most layers offloaded (n_layer + 1 = all) for which -c n_ctx fits; -ngl 0 if none does."""
    for ngl in range(model.n_layers + 1, -1, -1):
        p = place(model, w, local, n_ctx, ngl)
        if p.fits:
            return p
    return place(model, w, local, n_ctx, 0)


def check_ngl(model: Model, ngl: int) -> int:
    """-ngl as llama.cpp takes it: any number above n_layer (999, -1 = all) offloads everything."""
    if ngl < 0 or ngl > model.n_layers:
        return model.n_layers + 1
    return ngl
