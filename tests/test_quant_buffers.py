"""kvcalc's buffers against what llama.cpp printed when it loaded real quantized files on the CPU
(conformance/llamacpp/quant/buffers-0.3.36.json, made by make_quant_goldens.py with libllama of
llama-cpp-python 0.3.36): the model buffer (the quantizer's tensors, from kvcalc's port), the KV,
output and compute buffers, for each file type and context."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from kvcalc.core.formulas import kv_cache
from kvcalc.engines import get_engine
from kvcalc.models.gguf_tensors import from_config
from kvcalc.models.registry import load_model
from kvcalc.planning.llamacpp_buffers import cpu_compute_buffer, output_buffer

BUFFERS = json.loads((Path(__file__).resolve().parents[1] / "conformance" / "llamacpp" / "quant"
                      / "buffers-0.3.36.json").read_text())
MODEL = {"llama-3.2-1b": "llama3.2-1b"}
MIB = r"\s+=\s+([\d.]+) MiB"
LOADS = [(name, ft, load) for name, fts in BUFFERS["models"].items() if name in MODEL for ft, load in fts.items()]


def _mib(lines: list[str], what: str) -> float:
    found = [float(m[1]) for line in lines if (m := re.search(what + MIB, line))]
    assert found, what
    return found[-1]


@pytest.mark.parametrize("name, ftype, load", LOADS, ids=lambda v: v if isinstance(v, str) else "")
def test_model_buffer(name, ftype, load):
    if load.get("repacked"):  # the CPU backend re-lays some types out, as the host's CPU allows: not compared
        pytest.skip(f"{ftype}: repacked by this CPU")
    w = from_config(load_model(MODEL[name]), ftype)
    assert round(w.total_bytes / 2**20, 2) == _mib(load["model_lines"], "CPU_Mapped model buffer size")


@pytest.mark.parametrize("name, ftype, load", LOADS, ids=lambda v: v if isinstance(v, str) else "")
def test_kv_output_and_compute_buffers(name, ftype, load):
    model = load_model(MODEL[name])
    for ctx in load["contexts"]:
        s, lines = ctx["settings"], ctx["lines"]
        eng = get_engine("llama.cpp", n_parallel=s["n_seq_max"], kv_unified=s["kv_unified"], flash_attn=s["flash_attn"],
                         n_ubatch=s["n_ubatch"])
        eng = replace(eng, c_api=True, n_batch=s["n_batch"])  # the C API's n_outputs_max: n_batch
        assert round(cpu_compute_buffer(model, eng, s["n_ctx"]) / 2**20, 2) == _mib(lines, "CPU compute buffer size")
        assert round(output_buffer(model, eng) / 2**20, 2) == _mib(lines, "CPU output buffer size")
        kv = kv_cache(model, s["n_ctx"], 1, s["type_k"], eng, v_dtype=s["type_v"])
        assert round(kv.cache_bytes / 2**20, 2) == _mib(lines, "CPU KV buffer size")
