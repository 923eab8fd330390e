"""vLLM's KV budget, predicted before launch: the memory lines it prints at startup.

vLLM (V1 engine, vllm/v1/worker/gpu_worker.py determine_available_memory) gives the KV cache
    available = requested - weights - peak activation - non-torch [- CUDA graphs]
- requested = gpu_memory_utilization x the total memory CUDA reports (torch.cuda.mem_get_info,
  less than nvidia-smi's figure: the catalog's cuda_total_bytes).
- weights: what "Model loading took" measures: the parameters as loaded on one rank, and the
  buffers the model registers beside them (the rotary cos/sin cache, max positions x rotary
  dim in the model dtype).
- peak activation: the torch peak of the profile run above what was allocated before it
  (vllm/v1/worker/gpu_model_runner.py profile_run): a dummy forward of max_num_batched_tokens
  tokens, then the sampler over one row per request, max_num_seqs rows of vocab logits
  (_dummy_sampler_run: temperature, top-p and top-k all on, so the PyTorch sampler sorts the
  logits); the forward's hidden states stay alive while the sampler runs. kvcalc counts the
  tensors alive at each peak (kvcalc.planning.vllm_budget.sampler_peak, forward_peak).
- non-torch: memory CUDA allocates outside PyTorch (NCCL, custom all-reduce, cuBLAS
  workspaces): figures read from public logs of the release's era, not from the source.
- CUDA graphs: subtracted from 0.20.0 on, unless --enforce-eager (an estimate).
Every figure is per GPU of the largest stage; the activation, non-torch and graph figures are
estimates, and the output says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import InputError
from ..models.model import Model

GIB = 1 << 30
ENTRYPOINTS = ("serve", "llm")
# Allocated during the profile run and kept (counted in its peak up to 0.26, in the drop of free
# memory from 0.27): PyTorch's cuBLAS workspace, 32 MiB on Hopper, and small tensors; 36 MiB in
# all, read off llm-d-benchmark's five H100 runs (the one figure of the model taken from logs).
KEPT = 36 << 20
SMS = 132  # streaming multiprocessors of an H100 / H200 SXM: rows of the Triton sampler's buffer
# CUDA graphs, from vLLM 0.20.0 on: vLLM measures them by capturing two graphs per mode and
# extrapolating (profile_cudagraph_memory); public logs show 0.10 to 1.03 GiB (llm-d-benchmark's
# H100 runs, tests/fixtures/logs' "Estimated CUDA graph memory: 0.79 GiB total"). kvcalc takes
# 0.5 GiB and says it is an estimate; --enforce-eager captures none.
CUDA_GRAPHS = GIB // 2


@dataclass(frozen=True)
class Profile:
    """The profile run's settings, as given or as the release picks them for the GPU."""

    max_num_batched_tokens: int
    max_num_seqs: int
    entrypoint: str
    enforce_eager: bool
    rule: str  # where the defaults came from, in words

    @property
    def rows(self) -> int:
        """The sampler's rows: one per dummy request, min(max_num_seqs, max_num_batched_tokens)."""
        return min(self.max_num_seqs, self.max_num_batched_tokens)


@dataclass(frozen=True)
class Budget:
    """One GPU's budget, term by term, as vLLM would log it."""

    rules_version: str
    cuda_total_bytes: int
    cuda_total_source: str
    utilization: float
    utilization_given: bool
    requested_bytes: int
    weights_bytes: int  # as loaded on one rank: parameters + buffers
    buffers_bytes: int  # of which: rotary caches
    forward_peak_bytes: int
    sampler_peak_bytes: int
    peak_activation_bytes: int
    non_torch_bytes: int
    cuda_graph_bytes: int
    available_kv_bytes: int
    profile: Profile
    sampler: str

    def document(self) -> dict[str, Any]:
        return {
            "rules_version": self.rules_version, "cuda_total_bytes": self.cuda_total_bytes,
            "cuda_total_source": self.cuda_total_source, "gpu_memory_utilization": self.utilization,
            "requested_bytes": self.requested_bytes, "weights_bytes": self.weights_bytes,
            "buffers_bytes": self.buffers_bytes, "peak_activation_bytes": self.peak_activation_bytes,
            "forward_peak_bytes": self.forward_peak_bytes, "sampler_peak_bytes": self.sampler_peak_bytes,
            "sampler": self.sampler, "non_torch_bytes": self.non_torch_bytes,
            "cuda_graph_bytes": self.cuda_graph_bytes, "available_kv_bytes": self.available_kv_bytes,
            "max_num_batched_tokens": self.profile.max_num_batched_tokens,
            "max_num_seqs": self.profile.max_num_seqs, "entrypoint": self.profile.entrypoint,
            "enforce_eager": self.profile.enforce_eager,
            "estimates": ["peak_activation_bytes", "non_torch_bytes", "cuda_graph_bytes"],
        }


def gib(n: int) -> str:
    """Bytes as vLLM prints them: GiB, 2 decimals."""
    return f"{n / GIB:.2f}"


def profile(engine: Any, cuda_total: int, gpu_name: str, entrypoint: str, max_num_batched_tokens: Optional[int],
            max_num_seqs: Optional[int], enforce_eager: bool) -> Profile:
    """The profile run's token and sequence counts: given, or the release's defaults for the GPU."""
    if entrypoint not in ENTRYPOINTS:
        raise InputError(f"--entrypoint {entrypoint!r}: choose serve (vllm serve) or llm (the LLM class)")
    tokens, seqs = engine.profile_defaults(cuda_total, gpu_name, entrypoint)
    picked = [x for x, given in (("max_num_batched_tokens", max_num_batched_tokens), ("max_num_seqs", max_num_seqs))
              if given is None]
    who = "`vllm serve`" if entrypoint == "serve" else "the LLM class"
    rule = (f"{', '.join(picked)}: vLLM {engine.version}'s defaults for {who} on a GPU of {cuda_total / GIB:.2f} GiB "
            f"(EngineArgs._set_default_args)") if picked else "given"
    return Profile(max_num_batched_tokens or tokens, max_num_seqs or seqs, entrypoint, enforce_eager, rule)


def rotary_bytes(model: Model, dtype_bytes: int) -> int:
    """The rotary cos/sin cache a model registers (vllm/model_executor/layers/rotary_embedding:
    max positions x rotary dim, in the model dtype); none for a model without rotary positions."""
    if model.family in ("gpt2", "gpt_bigcode", "jamba"):  # learned positions; Jamba has none
        return 0
    rotary = model.mla.qk_rope_head_dim if model.mla is not None else model.head_dim
    return (model.max_context or 0) * rotary * dtype_bytes


def sampler_peak(rows: int, vocab: int, sampler: str, sms: int = SMS) -> int:
    """The logits' bytes alive at the peak of _dummy_sampler_run over `rows` requests
    (vllm/v1/sample/sampler.py; top-k vocab - 1 and top-p 0.9 both on), per row x vocab element:
    - sort (PyTorch's top-k/top-p, ops/topk_topp_sampler.py apply_top_k_top_p, to 0.16): the
      logits in bf16 (2), their fp32 copy (4), logits.sort()'s values (4) and int64 indices (8),
      the int64 index input PyTorch's segmented sort builds for 128 rows or more (8) and CUB's
      spare keys and values (12): 38 B; 50 B under 128 rows (PyTorch's other sort route).
    - triton (0.17 on, and FlashInfer's first call from 0.21): bf16 2 + fp32 4 + softmax 4 +
      the exponential draw 4 = 14 B, and a cached buffer of min(rows, SMs) fp32 rows.
    - mrv2 (Model Runner V2, every model from 0.29): no top-k/top-p; the bf16 logits, 2 B."""
    n = rows * vocab
    if sampler == "sort":
        return (38 if rows >= 128 else 50) * n
    if sampler == "triton":
        return 14 * n + 4 * min(rows, sms) * vocab
    return 2 * n


def forward_peak(model: Model, tokens: int, tp: int, dtype_bytes: int) -> int:
    """The dummy forward's largest moment on one rank: the residual stream and the layer's input
    (2 x tokens x hidden), with the MLP's fused gate_up output and its activation
    (tokens x 3 x intermediate / tp), or the attention's qkv and output."""
    h = model.hidden_size
    inter = model.moe.expert_intermediate_size * model.moe.n_experts_per_tok if model.moe else model.intermediate_size
    mlp = 3 * inter // tp
    attn = (2 * model.n_heads + 2 * max(1, model.n_kv_heads)) * model.head_dim // tp
    return tokens * (2 * h + max(mlp, attn)) * dtype_bytes


def predict(model: Model, engine: Any, gpu: Any, tp: int, weights_per_gpu: int, dtype_bytes: int,
            utilization: Optional[float], max_num_batched_tokens: Optional[int], max_num_seqs: Optional[int],
            entrypoint: str = "serve", enforce_eager: bool = False) -> Budget:
    """vLLM's budget on one GPU of `gpu`, by the rules of `engine`'s release."""
    cuda_total, source = gpu.cuda_total
    prof = profile(engine, cuda_total, gpu.name, entrypoint, max_num_batched_tokens, max_num_seqs, enforce_eager)
    util = utilization if utilization is not None else engine.default_utilization
    requested = math.ceil(cuda_total * util)
    buffers = rotary_bytes(model, dtype_bytes)
    weights = weights_per_gpu + buffers
    if model.vocab_size is None:
        raise InputError(f"{model.name}: vocab_size is not in its config, and vLLM's profile run needs it "
                         f"(the sampler's logits): give --reserve BYTES for kvcalc's own budget")
    rows = prof.rows
    fwd = forward_peak(model, prof.max_num_batched_tokens, tp, dtype_bytes)
    # alive beside the logits: the forward's output (N x hidden) and the requests' rows of it, twice
    held = (prof.max_num_batched_tokens + 2 * rows) * model.hidden_size * dtype_bytes
    smp = sampler_peak(rows, model.vocab_size, engine.sampler) + held
    peak = max(fwd, smp) + KEPT
    # memory CUDA allocates outside PyTorch on one rank (NCCL, custom all-reduce), as the release's
    # logs show it (Vllm.non_torch_gib): an estimate, not a rule of the source
    non_torch = int(engine.non_torch_gib[tp > 1] * GIB)
    graphs = CUDA_GRAPHS if engine.graph_memory == "subtracted" and not enforce_eager else 0
    available = requested - weights - peak - non_torch - graphs
    return Budget(engine.rules_version, cuda_total, source, util, utilization is not None, requested, weights,
                  buffers, fwd, smp, peak, non_torch, graphs, available, prof, engine.sampler)


def budget_setup(model: Model, setup: Any, weights_bytes: Optional[int], utilization: Optional[float],
                 max_num_batched_tokens: Optional[int], max_num_seqs: Optional[int], entrypoint: str,
                 enforce_eager: bool) -> tuple[Budget, Any]:
    """(the predicted budget, `setup` sized by it): requested memory as the usable share, the
    buffers beside the weights, and the peak activation, non-torch and CUDA graphs as reserve."""
    from dataclasses import replace

    from ..dtypes import resolve
    from .capacity import serving_dtype, weights

    if setup.pp > 1:
        raise InputError("vLLM's budget is predicted for one pipeline stage (--pp 1); with --pp give --reserve, "
                         "or vLLM's 'Available KV cache memory' as --kv-memory")
    w = weights(model, setup, weights_bytes)
    dtype_bytes = resolve("auto", serving_dtype(model, setup.engine)).bits // 8
    b = predict(model, setup.engine, setup.gpu, setup.tp, w.per_gpu_bytes, dtype_bytes, utilization,
                max_num_batched_tokens, max_num_seqs, entrypoint, enforce_eager)
    sized = replace(setup, gpu_memory_utilization=b.utilization, requested_bytes=b.requested_bytes,
                    buffers_bytes=b.buffers_bytes,
                    reserve_bytes=b.peak_activation_bytes + b.non_torch_bytes + b.cuda_graph_bytes)
    return b, sized


def startup(model: Model, b: Budget, setup: Any, max_model_len: Optional[int],
            weights_from: str = "counted from the architecture") -> tuple[list[str], dict[str, Any], bool]:
    """(the notes: each budget line vLLM prints, then its pool and its verdict; the JSON fields
    they add; whether vLLM starts) for one GPU of `setup`."""
    from ..engines.vllm import estimate_max_model_len, size_pool

    eng = setup.engine
    graphs = (f"CUDA graphs {gib(b.cuda_graph_bytes)} GiB (an estimate: vLLM captures to measure them; public logs show "
              f"0.10 to 1.03 GiB)" if eng.graph_memory == "subtracted" and not b.profile.enforce_eager
              else "CUDA graphs not taken from it (--enforce-eager)" if b.profile.enforce_eager
              else f"CUDA graphs not taken from it (before vLLM 0.20.0)")
    out = [
        f"vLLM {eng.version}'s budget per GPU, predicted (rules of {eng.rules_version}; GiB as vLLM prints them; an "
        f"estimate where marked: give vLLM's 'Available KV cache memory' as --kv-memory for its exact pool):",
        f"  requested memory {gib(b.requested_bytes)} GiB = {b.cuda_total_bytes / GIB:.2f} GiB CUDA total x "
        f"{b.utilization:g} ({'given' if b.utilization_given else 'the release default'}); CUDA total: "
        + (b.cuda_total_source if b.cuda_total_source.startswith("derived") else
           "the catalog's, from a public log (kvcalc gpus --format yaml)"),
        f"  Model loading took {gib(b.weights_bytes)} GiB memory ({b.weights_bytes - b.buffers_bytes:,} B of weights, "
        f"{weights_from}, and {b.buffers_bytes:,} B of rotary cache beside them)",
        f"  peak activation {gib(b.peak_activation_bytes)} GiB (an estimate: the profile run of "
        f"{b.profile.max_num_batched_tokens:,} tokens, then the {b.sampler} sampler over "
        f"{b.profile.rows:,} requests x {model.vocab_size:,} vocab; "
        f"forward {gib(b.forward_peak_bytes)}, sampler {gib(b.sampler_peak_bytes)})",
        f"  non-torch memory {gib(b.non_torch_bytes)} GiB (an estimate, from public logs of vLLM {eng.rules_version}'s "
        f"era); {graphs}",
        f"  Available KV cache memory: {gib(b.available_kv_bytes)} GiB ({b.available_kv_bytes:,} B)",
        f"  profile settings: max_num_batched_tokens {b.profile.max_num_batched_tokens:,}, max_num_seqs "
        f"{b.profile.max_num_seqs:,} ({b.profile.rule})",
    ]
    said: dict[str, Any] = {"max_model_len": max_model_len}
    if b.available_kv_bytes <= 0:
        msg = ("No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing "
               "the engine.")
        out.append(f"vLLM would refuse to start: {msg} (available {gib(b.available_kv_bytes)} GiB)")
        said.update(starts=False, refusal=msg)
        return out, said, False
    if max_model_len is None:
        said.update(starts=None, refusal=None)
        return out, said, True
    try:
        pool = size_pool(model, b.available_kv_bytes, eng, max_model_len, setup.kv_dtype, setup.tp)
    except InputError as err:  # a layout whose pool kvcalc does not size the vLLM way: said, not guessed
        out.append(f"  (vLLM's pool lines not predicted: {err})")
        said.update(starts=None, refusal=None)
        return out, said, True
    out.append(f"  GPU KV cache size: {pool.kv_cache_tokens:,} tokens")
    out.append(f"  Maximum concurrency for {max_model_len:,} tokens per request: {pool.max_concurrency:.2f}x")
    said.update(num_blocks=pool.num_blocks, kv_cache_tokens=pool.kv_cache_tokens,
                max_concurrency=pool.max_concurrency)
    if not pool.fits:
        longest = estimate_max_model_len(model, b.available_kv_bytes, eng, max_model_len, setup.kv_dtype, setup.tp)
        msg = (f"To serve at least one request with the models's max seq len ({max_model_len}), "
               f"({gib(pool.blocks_per_request * pool.block_bytes)} GiB KV cache is needed, which is larger than the "
               f"available KV cache memory ({gib(b.available_kv_bytes)} GiB). Based on the available memory, the "
               f"estimated maximum model length is {longest}.")
        out.append(f"vLLM would refuse to start: {msg}")
        said.update(starts=False, refusal=msg, estimated_max_model_len=longest)
        return out, said, False
    out.append("vLLM would start")
    said.update(starts=True, refusal=None)
    return out, said, True
