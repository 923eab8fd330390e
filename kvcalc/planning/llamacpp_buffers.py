"""llama.cpp's buffers beside the weights and the KV cache: the output buffer (exact) and the
compute buffers (an estimate of the graph allocator's high-water mark), for the graph of build
b11312 (the llama.cpp llama-cpp-python 0.3.36 vendors: src/llama-context.cpp sched_reserve,
graph_reserve, output_reserve; src/llama-graph.cpp) and the four inputs older builds lacked
(the engine's eras: k/v_idxs from b6071, inp_embd from b7774, an f16 mask from b9410,
n_outputs_max from b9460).

At context creation llama.cpp builds the worst-case prompt graph once and sizes each backend's
compute buffer to its high-water mark. Its shape:
    T = min(n_ctx, n_ubatch), rounded up to a multiple of n_seq       tokens of the worst ubatch
    n_out = min(T, n_outputs_max)   n_outputs_max = n_parallel in llama-server, n_batch in the C API
    n_kv = the cells of one KV stream (n_ctx unified, else n_ctx / n_seq, padded to 256)
With E = n_embd, Hq = n_head x head_dim, Vg = n_head_kv x head_dim, F = n_ff, V = n_vocab (f32,
4 B an element), the graph's inputs
    In = tokens 4T + inp_embd 4ET + pos 4T + k_idxs 8T + v_idxs (8T Vg | 8T with FA)
         + the KQ mask (4 n_kv T f32 | 2 n_kv T f16 with FA) + out_ids 4 n_out
stay alive while four stages peak in turn; the buffer is the largest:
    attention = In + 2 x 4ET + 2 x 4 Hq T + KQ (4 n_kv T n_head without flash attention, else 0)
    ffn       = In + 2 x 4ET (+ 4 Hq T with FA) + 3 x 4 F T                          (SwiGLU)
    moe       = In + 2 x 4ET (+ 4 Hq T with FA | + 2 x 4 n_expert T without) + 3G + (D if D > 2G)
                G = 4 n_ff_exp n_used T, D = 4 E n_used T
    logits    = 4T + 4ET + 4E n_out + 4V n_out
All layers on the GPU: the token embeddings are looked up on the CPU, so the host buffer
(CUDA_Host) holds In + 4ET and the GPU's the same stages without tokens and inp_embd (Metal: the
logits stage + 4ET). Fewer layers on the GPU: the GPU runs the large matmuls of the CPU's layers
too (op offload), so its buffer also holds a copy of the output weight; the host buffer In + 8ET.

Checked: exact to the MiB decimals llama.cpp prints on 129 CPU contexts of Llama-3.2-1B,
Llama-3.1-8B and Qwen3-30B-A3B shapes (n_ctx 2k-32k, n_ubatch 128-1024, flash attention on and
off, 1 and 4 sequences; conformance/llamacpp), within 8.5 MiB on unusual shapes (a small vocab,
Hq = 2E); 25 of 26 figures of public CUDA / Vulkan / Metal logs exact (README). Not modelled:
sliding-window, MLA and recurrent graphs (sized as full attention: an upper bound), fused QKV,
pipeline parallelism over several GPUs, -nkvo."""

from __future__ import annotations

from dataclasses import dataclass

from ..engines.llamacpp import LlamaCpp
from ..models.model import Model


@dataclass(frozen=True)
class Compute:
    """The compute buffers llama.cpp reserves: on the GPU (CUDA0 / MTL0 compute buffer) and in host
    memory (CUDA_Host or CPU compute buffer). An estimate."""

    device_bytes: int
    host_bytes: int


def _pad(n: int, to: int) -> int:
    return -(-n // to) * to


def output_buffer(model: Model, eng: LlamaCpp, embeddings: bool = False) -> int:
    """4 x n_seq_max x (n_vocab [+ n_embd when embeddings are extracted, as Ollama does]):
    output_reserve's f32 logits, one row a sequence slot, at context creation. Exact."""
    return 4 * eng.n_parallel * ((model.vocab_size or 0) + (model.hidden_size if embeddings else 0))


def reserve_shape(eng: LlamaCpp, n_ctx: int) -> tuple[int, int, int]:
    """(T, n_out, n_kv) of the graph llama.cpp reserves for -c n_ctx (sched_reserve)."""
    n_seq = eng.n_parallel
    cells = eng.cells_per_stream(n_ctx)
    total = cells * eng.streams()
    t0 = min(total, eng.n_batch, eng.n_ubatch)
    return _pad(t0, n_seq), max(1, min(t0, eng.n_outputs_max)), cells


@dataclass(frozen=True)
class _Graph:
    """The tensors of the reserved graph that set its high-water marks, each padded to `align`."""

    tokens: int
    inp_embd: int
    inputs_on_device: int  # pos, k_idxs, v_idxs, the KQ mask, out_ids: copied to every backend
    act: int  # one [n_embd, T] f32 activation
    stages: tuple[int, ...]  # attention, ffn / moe (above the inputs); logits (above nothing)
    logits: int


def _graph(model: Model, eng: LlamaCpp, n_ctx: int, align: int, k_quantized: bool, v_quantized: bool,
           cuda: bool) -> _Graph:
    t, n_out, n_kv = reserve_shape(eng, n_ctx)
    fa = eng.flash_attn != "off"  # auto: on where the backend supports it (CUDA, Metal, Vulkan, CPU)
    p = lambda x: _pad(x, align)  # noqa: E731 - every tensor starts on the buffer's alignment
    e, hq = model.hidden_size, model.n_heads * model.head_dim
    vg = model.n_kv_heads * model.head_dim
    idxs = (p(8 * t) + (p(8 * t) if fa else p(8 * t * vg))) if eng.graph_idxs else 0  # k_idxs, v_idxs
    if fa and eng.graph_mask_f16:
        mask, cast = p(2 * n_kv * t), 0
    elif fa:  # an f32 mask input and its f16 cast
        mask, cast = p(4 * n_kv * t), p(2 * n_kv * t)
    else:
        mask, cast = p(4 * n_kv * t), 0
    inputs = p(4 * t) + idxs + mask + p(4 * n_out)  # pos, k/v_idxs, the KQ mask, out_ids
    act, q = p(4 * e * t), p(4 * hq * t)
    extra = 0  # CUDA flash attention on a quantized cache: f16 copies of the K and V views it reads
    if fa and cuda and (k_quantized or v_quantized):
        streams = 1 if eng.kv_unified else eng.n_parallel
        extra = q + sum(p(2 * n_kv * streams * vg) for quantized in (k_quantized, v_quantized) if quantized)
    attention = cast + 2 * act + 2 * q + (0 if fa else p(4 * n_kv * t * model.n_heads)) + extra
    start = cast + 2 * act + (q if fa else 0)
    stages = [attention]
    moe = model.moe
    if moe is not None:
        used = moe.n_experts_per_tok
        g, d = p(4 * moe.expert_intermediate_size * used * t), p(4 * e * used * t)
        stages.append(start + (0 if fa else 2 * p(4 * moe.n_experts * t)) + 3 * g + (d if d > 2 * g else 0))
    if moe is None or moe.first_dense_layers or moe.layer_period > 1:
        stages.append(start + 3 * p(4 * model.intermediate_size * t))
    logits = p(4 * e * n_out) + p(4 * (model.vocab_size or 0) * n_out) + (act if v_quantized and fa else 0)
    return _Graph(p(4 * t), p(4 * e * t) if eng.graph_inp_embd else 0, inputs, act, tuple(stages), logits)


def cpu_compute_buffer(model: Model, eng: LlamaCpp, n_ctx: int, k_quantized: bool = False,
                       v_quantized: bool = False) -> int:
    """The CPU compute buffer of a build without a GPU backend: every stage on the CPU, 32-byte
    aligned. The figure the live suite compares."""
    g = _graph(model, eng, n_ctx, 32, k_quantized, v_quantized, cuda=False)
    inputs = g.tokens + g.inp_embd + g.inputs_on_device
    return max(max(inputs + s for s in g.stages), g.tokens + g.inp_embd + g.logits)


def compute_buffers(model: Model, eng: LlamaCpp, n_ctx: int, ngl: int, metal: bool = False,
                    output_weight_bytes: int = 0, k_quantized: bool = False, v_quantized: bool = False) -> Compute:
    """The compute buffers on the GPU and in host memory for -c n_ctx with -ngl ngl (n_layer + 1:
    every layer and the output), an estimate."""
    g = _graph(model, eng, n_ctx, 32 if metal else 128, k_quantized, v_quantized, cuda=not metal)
    host = g.tokens + g.inp_embd + g.inputs_on_device + g.act  # inputs, and the token embeddings' rows
    below_logits = g.act if metal else 0  # Metal reorders the graph: one more activation below the logits
    if ngl <= model.n_layers:  # the output layer on the CPU: the GPU runs its matmul on a copy of its weight
        below_logits += output_weight_bytes
        host += g.act
    device = max(max(g.inputs_on_device + s for s in g.stages), below_logits + g.logits)
    return Compute(device, host)
