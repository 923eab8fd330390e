"""Conformance: llama.cpp itself creates a context for tiny GGUFs of every architecture kvcalc
maps, over a grid of n_ctx (non-multiples of 256 included), sequence slots (1, 3, 4; unified and
not), K/V types and flash attention on/off; its own log lines (cells exact, sizes in MiB to 0.01)
must equal kvcalc's for `--engine llama.cpp`, and what it refuses kvcalc refuses.

kvcalc reads each GGUF through its own reader (kvcalc.models.gguf), so the mapper is checked too.
Run with llama-cpp-python's bindings over a libllama built from its sdist (conformance/README.md).
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

import llama_cpp as L  # a missing runtime fails the suite, never skips it

from kvcalc.engines import LlamaCpp  # noqa: E402
from kvcalc.errors import InputError  # noqa: E402
from kvcalc.core.formulas import kv_cache  # noqa: E402
from kvcalc.models.gguf import load_gguf  # noqa: E402
from kvcalc.engines.llamacpp import log_document  # noqa: E402

from .tiny_gguf import ARCHS, EDGES, write  # noqa: E402

LOG: list[str] = []


@L.llama_log_callback
def _log(level, text, user):  # noqa: ANN001
    LOG.append(text.decode(errors="replace"))


L.llama_log_set(_log, ctypes.c_void_p(0))
L.llama_backend_init()

GGML = {"f16": 1, "q4_0": 2, "q8_0": 8}
FA = {"on": 1, "off": 0, "auto": -1}
N_CTX = (1000, 4096, 5000)
SLOTS = ((1, False), (3, False), (4, False), (4, True))
TYPES = (("f16", "f16", "on"), ("f16", "f16", "off"), ("q8_0", "q8_0", "on"), ("q4_0", "q8_0", "auto"),
         ("q8_0", "q4_0", "off"), ("q8_0", "f16", "on"))
LIVE = ARCHS + EDGES
GRID = [(a, n, s, t) for a in LIVE for n in N_CTX for s in SLOTS for t in TYPES]
LINE = re.compile(r"^(llama_kv_cache|llama_memory_recurrent): size = .*$")


def loaded(folder: Path, writers: dict) -> Iterator[dict]:
    """Each GGUF written (writers: name -> a function of the path) and loaded by llama.cpp:
    name -> (path, model), the models freed afterwards."""
    out = {}
    for name, writer in writers.items():
        path = writer(folder / f"{name}.gguf")
        LOG.clear()
        model = L.llama_model_load_from_file(str(path).encode(), L.llama_model_default_params())
        assert model, "".join(LOG[-5:])
        out[name] = (path, model)
    yield out
    for _, model in out.values():
        L.llama_model_free(model)


@pytest.fixture(scope="module")
def ggufs(tmp_path_factory):
    yield from loaded(Path(tmp_path_factory.mktemp("gguf")), {a.name: partial(write, a) for a in LIVE})


def _llama_cpp_lines(model, n_ctx: int, slots: int, unified: bool, k: str, v: str, fa: str, swa_full: bool):
    params = L.llama_context_default_params()
    params.n_ctx, params.n_seq_max, params.kv_unified = n_ctx, slots, unified
    params.n_batch = params.n_ubatch = 512
    params.type_k, params.type_v, params.flash_attn_type, params.swa_full = GGML[k], GGML[v], FA[fa], swa_full
    LOG.clear()
    ctx = L.llama_init_from_model(model, params)
    if not ctx:
        return None
    L.llama_free(ctx)
    return [" ".join(line.split()) for line in "".join(LOG).splitlines() if LINE.match(line)]


def _kvcalc_lines(path: Path, n_ctx: int, slots: int, unified: bool, k: str, v: str, fa: str, swa_full: bool):
    model = load_gguf(path)
    engine = LlamaCpp(n_parallel=slots, kv_unified=unified, n_ubatch=512, flash_attn=fa, swa_full=swa_full)
    try:
        cache = kv_cache(model, n_ctx, 1, kv_dtype=k, v_dtype=v, engine=engine)
    except InputError:
        return None
    return [" ".join(line.split()) for line in log_document(cache, engine)["log"]]


def _id(case) -> str:
    a, n, (slots, unified), (k, v, fa) = case
    return f"{a.name}-c{n}-np{slots}{'u' if unified else ''}-{k}-{v}-fa{fa}"


@pytest.mark.parametrize("case", GRID, ids=[_id(c) for c in GRID])
def test_llama_cpp_allocates_what_kvcalc_says(ggufs, case):
    a, n_ctx, (slots, unified), (k, v, fa) = case
    path, model = ggufs[a.name]
    got = _llama_cpp_lines(model, n_ctx, slots, unified, k, v, fa, False)
    want = _kvcalc_lines(path, n_ctx, slots, unified, k, v, fa, False)
    assert want == got  # None on both sides: refused by both


@pytest.mark.parametrize("name", ["gemma2", "gemma3", "gemma3-swa0"])
@pytest.mark.parametrize("slots, unified", [(1, False), (4, True)])
def test_swa_full(ggufs, name, slots, unified):
    path, model = ggufs[name]
    got = _llama_cpp_lines(model, 4096, slots, unified, "f16", "f16", "on", True)
    assert got == _kvcalc_lines(path, 4096, slots, unified, "f16", "f16", "on", True)
