"""Conformance: every buffer llama.cpp prints when it loads a model and creates a context on the
CPU, against kvcalc's figures for `fit --engine llama.cpp`: the model buffer (the GGUF's tensor
table, read by kvcalc.models.gguf_tensors), the KV buffer, the output buffer and the compute buffer
(kvcalc.planning.llamacpp_buffers: on the CPU its high-water mark is exact, to the 4 decimals
llama.cpp's context destructor prints). The models have real models' widths (Llama-3.2-1B,
Llama-3.1-8B, Qwen3-30B-A3B; 2 layers: the compute buffer does not depend on depth) and zero
weights in sparse files, so each loads in a moment."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from kvcalc.core.formulas import kv_cache
from kvcalc.engines import get_engine
from kvcalc.models.gguf import load_gguf
from kvcalc.models.gguf_tensors import from_file
from kvcalc.planning.llamacpp_buffers import cpu_compute_buffer, output_buffer

from .real_shapes import SHAPES, write
from .test_llamacpp import LOG, L, loaded

GRID = [(s.name, *g) for s in SHAPES for g in itertools.product(
    (2048, 8192, 33000), (128, 512), ("on", "off"), ((1, False, 0), (4, False, 4), (4, True, 4), (3, False, 0)))]
EXACT = re.compile(r"(\S+) compute buffer size is\s+([\d.]+) MiB")
MIB = r"\s+=\s+([\d.]+) MiB"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    for found in loaded(Path(tmp_path_factory.mktemp("shapes")), {s.name: partial(write, s) for s in SHAPES}):
        yield {name: (path, model, load_gguf(path)) for name, (path, model) in found.items()}  # read once


def _context(model, n_ctx, n_ubatch, fa, n_seq, unified, n_outputs_max) -> str:
    p = L.llama_context_default_params()
    p.n_ctx, p.n_batch, p.n_ubatch, p.n_seq_max, p.kv_unified = n_ctx, 2048, n_ubatch, n_seq, unified
    p.flash_attn_type = {"on": 1, "off": 0}[fa]
    p.n_threads = p.n_threads_batch = 1
    p.n_outputs_max = n_outputs_max  # llama-server sets -np; 0: the C API's default, n_batch
    LOG.clear()
    ctx = L.llama_init_from_model(model, p)
    assert ctx, "".join(LOG[-5:])
    L.llama_free(ctx)  # its destructor prints the compute buffer to 4 decimals
    return "".join(LOG)


@pytest.mark.parametrize("name, n_ctx, n_ubatch, fa, slots", GRID, ids=lambda v: str(v))
def test_every_buffer(models, name, n_ctx, n_ubatch, fa, slots):
    path, model, cfg = models[name]
    n_seq, unified, n_outputs_max = slots
    text = _context(model, n_ctx, n_ubatch, fa, n_seq, unified, n_outputs_max)
    eng = get_engine("llama.cpp", n_parallel=n_seq, kv_unified=unified, flash_attn=fa, n_ubatch=n_ubatch)
    eng = replace(eng, c_api=n_outputs_max == 0)
    computed = {m.group(1): float(m.group(2)) for m in EXACT.finditer(text)}
    assert round(cpu_compute_buffer(cfg, eng, n_ctx) / 2**20, 4) == computed["CPU"]
    assert round(output_buffer(cfg, eng) / 2**20, 2) == float(re.search(r"CPU\s+output buffer size" + MIB, text)[1])
    kv = kv_cache(cfg, n_ctx, 1, "f16", eng)
    assert round(kv.cache_bytes / 2**20, 2) == float(re.search(r"CPU KV buffer size" + MIB, text)[1])


def test_model_buffer_is_the_tensor_table(models, tmp_path):
    for name, (path, _, _) in models.items():
        LOG.clear()
        params = L.llama_model_default_params()
        model = L.llama_model_load_from_file(str(path).encode(), params)
        try:
            mapped = float(re.search(r"CPU_Mapped model buffer size" + MIB, "".join(LOG))[1])
        finally:
            L.llama_model_free(model)
        assert round(from_file(path).total_bytes / 2**20, 2) == mapped, name
