"""--measure on the CPU (CI installs torch 2.13.0, the CPU build); CUDA where a GPU exists."""

from __future__ import annotations

import json

import pytest

from kvcalc import measure as m
from kvcalc.errors import MeasureError
from kvcalc.formulas import kv_cache
from kvcalc.registry import load_all, load_model

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("model", load_all(), ids=[x.name for x in load_all()])
def test_every_shipped_model_allocates_its_formula(model):
    r = m.measure(model, 64, 2, device="cpu")
    assert r["measured_bytes"] == kv_cache(model, 64, 2).total_bytes and r["match"] and not r["subset"]


@pytest.mark.parametrize("engine, dtype", [("hf", "bf16"), ("vllm", "fp8"), ("exact", "nvfp4"), ("vllm", "int4")])
def test_engines_and_packed_dtypes(engine, dtype):
    for name in ("gemma-3-4b", "deepseek-v2-lite", "llama3-8b"):
        model = load_model(name)
        r = m.measure(model, 100, 1, kv_dtype=dtype, engine=engine, device="cpu")
        assert r["measured_bytes"] == kv_cache(model, 100, 1, kv_dtype=dtype, engine=engine).total_bytes


def test_cli_json(run_cli):
    code, out, _ = run_cli("llama2-7b", "--seq", "512", "--measure", "--device", "cpu", "--format", "json")
    doc = json.loads(out)
    assert code == 0
    # 2 x 32 layers x 32 heads x 128 x 2 B x 512 tokens
    assert doc["measured_bytes"] == doc["kv_cache_bytes"] == 2 * 32 * 32 * 128 * 2 * 512
    assert doc["device"] == "cpu" and doc["ratio"] == 1.0 and doc["rss_delta_bytes"] > 0


def test_too_big_is_measured_scaled(monkeypatch):
    model = load_model("llama2-70b")
    monkeypatch.setattr(m, "_mem_available", lambda: 200 * 1024**2)  # pretend 200 MiB are free
    r = m.measure(model, 4096, 8, device="cpu")
    # one layer of 8 KV heads x 128 x 2 B x 2 (K, V) x 4096 tokens = 16 MiB per sequence: 8 fit in 160 MiB
    assert (r["allocated_layers"], r["allocated_batch"], r["subset"]) == (1, 8, True)
    assert r["measured_bytes"] == 8 * 1_342_177_280


def test_too_big_even_for_one_layer(monkeypatch):
    monkeypatch.setattr(m, "_mem_available", lambda: 1024)
    with pytest.raises(MeasureError, match="does not fit"):
        m.measure(load_model("llama2-70b"), 4096, device="cpu")


def test_mismatch_exits_1(run_cli, monkeypatch):
    monkeypatch.setattr(m, "measure", lambda *a, **kw: {**_fake(), "measured_bytes": 1, "match": False, "ratio": 0.0})
    code, _, _ = run_cli("llama2-7b", "--seq", "8", "--measure", "--device", "cpu", "-f", "json")
    assert code == 1


def test_without_torch(run_cli, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "torch", None)  # import torch now fails
    code, _, err = run_cli("llama2-7b", "--seq", "8", "--measure")
    assert code == 2 and "install 'kvcalc[measure]'" in err


def _fake():
    return {"device": "cpu", "formula_bytes": 2 * 32 * 32 * 128 * 2 * 8, "kv_dtype": "fp16", "subset": False, "rss_delta_bytes": 0,
            "allocated_layers": 32, "allocated_batch": 1, "shapes": [], "allocated_raw_bytes": 0}


def test_no_cuda_is_a_clean_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(MeasureError, match="no CUDA device"):
        m.pick_device(torch, "cuda")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_allocation_matches():
    r = m.measure(load_model("llama2-70b"), 4096, device="cuda")
    assert r["measured_bytes"] == r["allocated_delta_bytes"] == 1_342_177_280


def test_measure_all(run_cli):
    code, out, _ = run_cli("measure", "--all", "--seq", "32", "-f", "json")
    rows = json.loads(out)["models"]
    assert code == 0 and len(rows) == len(load_all())
    assert all(r["measured_bytes"] == r["kv_cache_bytes"] and r["verdict"] == "match" for r in rows)
