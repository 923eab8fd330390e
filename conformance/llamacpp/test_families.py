"""Conformance for the architectures of families.py: llama.cpp creates contexts for each tiny GGUF
over n_ctx, sequence slots (unified and not), K/V types and flash attention, and its own log lines
(the KV caches, full then SWA/chunked, and the recurrent state: cells exact, MiB to 0.01) must be
kvcalc's for `--engine llama.cpp`, read through kvcalc's GGUF reader. minicpm3 (K and V of two head
sizes) kvcalc refuses by name.
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path

import pytest

from kvcalc.errors import ConfigError
from kvcalc.models.gguf import load_gguf

from .families import CASES, write
from .test_llamacpp import _kvcalc_lines, _llama_cpp_lines, loaded

LIVE = [name for name in CASES if name != "minicpm3"]
N_CTX = (1000, 4096, 20000)
SLOTS = ((1, False), (3, False), (4, True), (64, False))
TYPES = (("f16", "f16", "on"), ("f16", "f16", "off"), ("q8_0", "q8_0", "on"), ("q8_0", "f16", "auto"))
GRID = [(a, n, s, t) for a in LIVE for n in N_CTX for s in SLOTS for t in TYPES
        if s[0] < 64 or (n == 20000 and t[2] == "on")]  # 64 slots: the recurrent state's scale, once


# What llama.cpp printed, case by case: the main suite checks kvcalc against it from the metadata
# alone (tests/test_llamacpp_families.py). KVCALC_UPDATE_GOLDEN=1 rewrites it from this run.
GOLDENS = Path(__file__).parent / "goldens" / "families-0.3.36.json"
_RECORDED: dict[str, list] = {}


@pytest.fixture(scope="module", autouse=True)
def _record():
    yield
    if os.environ.get("KVCALC_UPDATE_GOLDEN") and _RECORDED:
        GOLDENS.write_text(json.dumps({"llama_cpp_python": "0.3.36", "n_ubatch": 512,
                                       "metadata": {n: {"arch": a, "keys": m} for n, (a, m) in CASES.items()},
                                       "runs": _RECORDED}, indent=1, sort_keys=True) + "\n")


@pytest.fixture(scope="module")
def ggufs(tmp_path_factory):
    yield from loaded(Path(tmp_path_factory.mktemp("gguf-families")), {name: partial(write, name) for name in CASES})


def _id(case) -> str:
    a, n, (slots, unified), (k, v, fa) = case
    return f"{a}-c{n}-np{slots}{'u' if unified else ''}-{k}-{v}-fa{fa}"


@pytest.mark.parametrize("case", GRID, ids=[_id(c) for c in GRID])
def test_llama_cpp_allocates_what_kvcalc_says(ggufs, case):
    a, n_ctx, (slots, unified), (k, v, fa) = case
    path, model = ggufs[a]
    got = _llama_cpp_lines(model, n_ctx, slots, unified, k, v, fa, False)
    _RECORDED.setdefault(a, []).append({"n_ctx": n_ctx, "slots": slots, "unified": unified, "k": k, "v": v,
                                        "fa": fa, "swa_full": False, "lines": got})
    want = _kvcalc_lines(path, n_ctx, slots, unified, k, v, fa, False)
    assert got and want == got


@pytest.mark.parametrize("name", ["llama4", "gemma3n", "cohere2", "lfm2-swa", "olmo2-swa"])
def test_swa_full(ggufs, name):
    path, model = ggufs[name]
    got = _llama_cpp_lines(model, 4096, 2, False, "f16", "f16", "on", True)
    _RECORDED.setdefault(name, []).append({"n_ctx": 4096, "slots": 2, "unified": False, "k": "f16", "v": "f16",
                                           "fa": "on", "swa_full": True, "lines": got})
    assert got == _kvcalc_lines(path, 4096, 2, False, "f16", "f16", "on", True)


def test_minicpm3_is_refused_by_name_where_llama_cpp_caches_two_head_sizes(ggufs):
    path, model = ggufs["minicpm3"]
    assert _llama_cpp_lines(model, 4096, 1, False, "f16", "f16", "on", False)  # llama.cpp runs it
    with pytest.raises(ConfigError, match="minicpm3"):
        load_gguf(path)
