"""--measure on the CPU (CI installs torch 2.13.0, the CPU build); CUDA where a GPU exists."""

from __future__ import annotations

import json

import pytest

from kvcalc.measure import measure as m
from kvcalc.errors import MeasureError
from kvcalc.core.formulas import kv_cache
from kvcalc.models.registry import load_all, load_model

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("model", load_all(), ids=[x.name for x in load_all()])
def test_every_shipped_model_allocates_its_formula(model):
    r = m.measure(model, 64, 2, device="cpu")
    assert r["measured_bytes"] == kv_cache(model, 64, 2).cache_bytes and r["match"] and not r["subset"]  # K/V + state


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
            "path": "re-derivation",
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


def test_decode_step_repeat_kv_materialises_the_groups():
    step = m.decode(load_model("llama3-8b"), 256, 1, device="cpu")
    # llama3-8b: 32 query heads, 8 KV heads of 128, bf16; one layer's K+V: 2 x 256 x 8 x 128 x 2 = 1,048,576 B
    assert step.shape == (1, 8, 256, 128) and step.layer_bytes == 1_048_576
    # repeat_kv copies K and V to 32 heads: 2 x 256 x 32 x 128 x 2 = 4,194,304 B, 4x the layer
    assert step.repeat_kv.copy_bytes == 4_194_304 and step.grouped.copy_bytes == 0
    assert step.repeat_kv.peak_bytes >= 0.9 * 4_194_304  # the resident high-water mark sees the copies
    assert step.grouped.peak_bytes < step.layer_bytes // 4  # enable_gqa attends without copying
    assert step.max_abs_diff < 1e-2


def test_decode_step_without_enable_gqa_views_the_query(monkeypatch):
    from kvcalc.measure import attention

    monkeypatch.setattr(attention, "_has_enable_gqa", lambda torch: False)
    step = m.decode(load_model("mistral-7b"), 128, 2, device="cpu")
    assert step.grouped.method.startswith("sdpa over q viewed") and step.grouped.copy_bytes == 0
    # 2 sequences x 2 (K, V) x 128 tokens x 32 query heads x 128 x 2 B = 4,194,304 B of copies
    assert step.repeat_kv.copy_bytes == 4_194_304
    assert step.max_abs_diff < 1e-2  # the same attention, either way


def test_decode_step_skips_mla_and_says_so(run_cli):
    assert m.decode(load_model("deepseek-v2-lite"), 64, 1, device="cpu") is None
    code, out, _ = run_cli("deepseek-v2-lite", "--seq", "64", "--measure", "--device", "cpu")
    assert code == 0 and "no decode step" in out


def test_cli_json_decode_step(run_cli):
    code, out, _ = run_cli("llama2-70b", "--seq", "1024", "--measure", "--device", "cpu", "-f", "json")
    step = json.loads(out)["decode_step"]
    # 64 query heads over 8 KV heads: repeat_kv copies 2 x 1024 x 64 x 128 x 2 = 33,554,432 B, 8x the layer
    assert code == 0 and step["repeat_kv"]["copy_bytes"] == 33_554_432 == 8 * step["layer_bytes"]
    assert step["grouped"]["method"] == "sdpa(enable_gqa=True)" and step["n_heads"] == 64


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_decode_step_peaks():
    step = m.decode(load_model("llama2-70b"), 4096, 4, device="cuda")
    # repeat_kv: 4 x 2 x 4,096 x 64 x 128 x 2 B = 536,870,912 B of copies; the allocator's peak sees them
    assert step.repeat_kv.copy_bytes == 536_870_912 and step.repeat_kv.peak_bytes >= 536_870_912
    assert step.grouped.peak_bytes < step.layer_bytes  # enable_gqa: no copy of the layer


def test_a_wrong_sliding_rule_in_the_formula_is_a_mismatch(run_cli, monkeypatch):
    """--measure allocates what kvcalc.measure.derive re-derives from the config, never the formula's own
    groups: drop the sliding-window cap from the formula and --measure says MISMATCH."""
    from kvcalc.engines.exact import Engine

    code, out, _ = run_cli("mistral-7b", "--seq", "8192", "--measure", "--device", "cpu", "-f", "json")
    doc = json.loads(out)
    assert code == 0 and doc["match"] and doc["path"] == "re-derivation"
    # the window: 32 layers x 2 x 8 x 128 x 2 B x min(8192, 4096) tokens
    assert doc["measured_bytes"] == 32 * 2 * 8 * 128 * 2 * 4096

    uncapped = Engine.tokens
    monkeypatch.setattr(Engine, "tokens", lambda self, kind, seq, window: seq if kind == "S" else uncapped(self, kind, seq, window))
    code, out, _ = run_cli("mistral-7b", "--seq", "8192", "--measure", "--device", "cpu", "-f", "json")
    doc = json.loads(out)
    assert code == 1 and not doc["match"] and doc["measured_bytes"] == 32 * 2 * 8 * 128 * 2 * 4096
    code, table, _ = run_cli("mistral-7b", "--seq", "8192", "--measure", "--device", "cpu")
    assert code == 1 and "MISMATCH" in table and "re-derivation" in table


@pytest.mark.parametrize("dtype, itemsize", [("fp8_e4m3", 1), ("fp8_e5m2", 1), ("int8", 1), ("bf16", 2), ("fp32", 4)])
def test_a_wrong_dtype_width_is_a_mismatch(monkeypatch, dtype, itemsize):
    """torch allocates the format's real width: a dtype table that says 16 bits for fp8 fails."""
    import dataclasses

    from kvcalc import dtypes

    model = load_model("llama3-8b")
    assert m.measure(model, 16, 1, dtype, device="cpu")["measured_bytes"] == 32 * 2 * 8 * 128 * itemsize * 16
    wrong = dataclasses.replace(dtypes.DTYPES[dtype], bits=8 * itemsize + 8)
    monkeypatch.setitem(dtypes.DTYPES, dtype, wrong)
    assert not m.measure(model, 16, 1, dtype, device="cpu")["match"]
