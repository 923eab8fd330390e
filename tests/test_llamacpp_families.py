"""llama.cpp's caches for the chunked, hybrid and recurrent architectures and the plain ones kvcalc
refused before (issue #20), from the GGUF metadata alone: the lines llama.cpp (0c1e57098, as
llama-cpp-python 0.3.36 vendors it) printed for each tiny GGUF and context, recorded by
conformance/llamacpp/test_families.py, must be kvcalc's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kvcalc.core.formulas import kv_cache
from kvcalc.engines import LlamaCpp
from kvcalc.engines.llamacpp import log_document
from kvcalc.models.gguf import MISSING, model_from_metadata

GOLDENS = json.loads((Path(__file__).parents[1] / "conformance" / "llamacpp" / "goldens" /
                      "families-0.3.36.json").read_text())
CASES = [(name, run) for name, runs in sorted(GOLDENS["runs"].items()) for run in runs]


def _model(name: str):
    meta = GOLDENS["metadata"][name]
    keys = {"general.architecture": meta["arch"], **{f"{meta['arch']}.{k}": v for k, v in meta["keys"].items()}}
    return model_from_metadata(lambda key: keys.get(key, MISSING), name, name)


def _id(case) -> str:
    name, r = case
    return f"{name}-c{r['n_ctx']}-np{r['slots']}{'u' if r['unified'] else ''}-{r['k']}-{r['v']}-fa{r['fa']}" + \
        ("-swafull" if r["swa_full"] else "")


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_llama_cpp_printed_what_kvcalc_says(case):
    name, r = case
    engine = LlamaCpp(n_parallel=r["slots"], kv_unified=r["unified"], n_ubatch=GOLDENS["n_ubatch"], flash_attn=r["fa"],
                      swa_full=r["swa_full"])
    cache = kv_cache(_model(name), r["n_ctx"], 1, kv_dtype=r["k"], v_dtype=r["v"], engine=engine)
    assert [" ".join(line.split()) for line in log_document(cache, engine)["log"]] == r["lines"]


def test_the_goldens_cover_every_architecture():
    archs = {GOLDENS["metadata"][name]["arch"] for name in GOLDENS["runs"]}
    assert archs >= {"llama4", "gemma3n", "lfm2", "mamba", "mamba2", "granitehybrid", "falcon-h1", "nemotron_h",
                     "qwen3next", "jamba", "cohere2", "command-r", "olmo2", "starcoder2"}
