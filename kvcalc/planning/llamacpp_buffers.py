"""llama.cpp's buffers beside the weights and the KV cache: the output buffer (exact) and the
compute buffers (an estimate of the graph allocator's worst case).

Output buffer (src/llama-context.cpp output_reserve, at context creation): the logits of
n_seq_max rows, n_vocab x n_seq_max x 4 bytes, in host memory.

Compute buffers: PLACEHOLDER, replaced by the calibrated estimate."""

from __future__ import annotations

from dataclasses import dataclass

from ..engines.llamacpp import LlamaCpp
from ..models.model import Model


@dataclass(frozen=True)
class Compute:
    """The compute buffers llama.cpp reserves: on the GPU (CUDA0 / MTL0 compute buffer) and in host
    memory (CPU or CUDA_Host compute buffer). An estimate."""

    device_bytes: int
    host_bytes: int


def output_buffer(model: Model, eng: LlamaCpp) -> int:
    """n_vocab x n_seq_max x 4 bytes: one row of f32 logits a sequence slot (output_reserve)."""
    return (model.vocab_size or 0) * eng.n_parallel * 4


def compute_buffers(model: Model, eng: LlamaCpp, n_ctx: int, ngl: int) -> Compute:
    """The compute buffers for -c n_ctx with -ngl ngl (an estimate)."""
    n_ub = eng.n_ubatch
    cells = eng.cells_per_stream(n_ctx)
    scores = 0 if eng.flash_attn != "off" else cells * n_ub * model.n_heads * 4
    logits = (model.vocab_size or 0) * n_ub * 4
    peak = max(scores, logits)
    if ngl == 0:
        return Compute(0, peak)
    return Compute(peak, model.hidden_size * n_ub * 4)
