"""The sglang engine: SGLang's token pool, with the arithmetic of its sources in comments
(python/sglang/srt/model_executor/model_runner.py, mem_cache/memory_pool.py; goldens from its own
code in conformance/sglang)."""

from __future__ import annotations

import json

import pytest

from kvcalc.engines import get_engine
from kvcalc.engines.sglang import allocated_line, part_for, size_pool
from kvcalc.errors import InputError
from kvcalc.models.registry import load_model
from .conftest import HF

GiB = 1 << 30


def test_deepseek_v3_per_token_is_the_latent(run_cli):
    code, out, _ = run_cli("deepseek-v3", "--seq", "4096", "--engine", "sglang", "-f", "json")
    assert code == 0
    assert json.loads(out)["kv_cache_bytes"] == 4096 * 61 * 576 * 2 == 287_834_112


def test_vllm_21348_sglang_line():
    # Qwen3-235B-A22B at tp 4: 94 layers x 1 KV head a GPU x 128 x 2 B = 24,064 B a row, K and V apart;
    # (367,404 + 1 page) rows x 94 layers x 256 B = 8,841,233,920 B = 8.234 GiB: "8.23 GB"
    model, eng = load_model("qwen3-235b-a22b"), get_engine("sglang@0.4.6")
    part = part_for(model, eng, "auto", 4, 367_404, "full")
    assert part.k_bytes == part.v_bytes == (367_404 + 1) * 94 * 256 == 8_841_233_920
    assert allocated_line(part, eng, "bf16") == "KV Cache is allocated. #tokens: 367404, K size: 8.23 GB, V size: 8.23 GB"
    assert allocated_line(part, get_engine("sglang@0.5.23"), "bf16") == (
        "KV Cache is allocated. dtype: torch.bfloat16, #tokens: 367404, K size: 8.23 GB, V size: 8.23 GB")


def test_pool_floor_and_page_rows():
    model = load_model("llama3.1-8b")  # 32 layers x 8 KV heads x 128 x 2 B x 2 = 131,072 B a token
    pool = size_pool(model, 10 * GiB + 5, get_engine("sglang", 64))
    assert pool.cell_bytes == 131_072 and pool.max_total_num_tokens == 81_920  # 10 GiB // 131,072, a page multiple
    assert pool.parts[0].k_bytes == (81_920 + 64) * 32 * 2048  # one page of padding rows
    assert size_pool(model, 10 * GiB, get_engine("sglang@0.4.0", 64)).parts[0].extra == 1  # before --page-size
    capped = size_pool(model, 10 * GiB, get_engine("sglang"), max_total_tokens=1000)
    assert capped.max_total_num_tokens == 1000


def test_swa_pools_by_era():
    model = load_model(str(HF / "gpt-oss-120b.json"))  # 18 full + 18 sliding layers, 8 KV heads x 64 x 2 B
    row = 8 * 64 * 2
    budget = 40 * GiB
    new = size_pool(model, budget, get_engine("sglang@0.5.23"))
    # 0.5.11+: full = budget // (18 x 2,048 + 0.8 x 18 x 2,048), SWA = int(full x 0.8)
    assert new.max_total_num_tokens == int(budget // (18 * 2 * row + 0.8 * 18 * 2 * row))
    assert new.parts[1].tokens == int(new.max_total_num_tokens * 0.8)
    old = size_pool(model, budget, get_engine("sglang@0.5.9"))
    # 0.5.8-0.5.10: T = budget // (36 x 2,048); full = int(T x 36 / (0.8 x 18 + 18))
    t = budget // (36 * 2 * row)
    assert old.max_total_num_tokens == int(t * 36 / (0.8 * 18 + 18))
    one = size_pool(model, budget, get_engine("sglang@0.5.6"))  # one pool before 0.5.8: sliding layers held as full
    assert len(one.parts) == 1 and one.parts[0].layers == 36
    gemma = size_pool(load_model("gemma-3-12b"), budget, get_engine("sglang"))  # gemma-3: one pool, still
    assert len(gemma.parts) == 1 and gemma.parts[0].layers == 48


def test_fp32_checkpoint_dtype():
    gemma = load_model("gemma-2-9b")  # torch_dtype float32: SGLang serves Gemma in bf16, others in fp16
    assert get_engine("sglang").serving_dtype(gemma) == "bf16"


def test_refusals():
    with pytest.raises(InputError, match="Mamba state pool"):
        get_engine("sglang").for_model(load_model("jamba-v0.1"))
    with pytest.raises(InputError, match="give --mem-fraction-static"):
        get_engine("sglang@0.4.6").default_mem_fraction(80 << 30)


def test_default_mem_fraction_h100():
    # 0.5.3+: reserved = 512 + 8192 x 1.5 + 256 x 2 + 1 / 8 x 1024 = 13,440 MiB; round((81,559 - 13,440) / 81,559, 3)
    fraction, _ = get_engine("sglang").default_mem_fraction(81_559 << 20)
    assert fraction == round((81_559 - 13_440) / 81_559, 3) == 0.835


def test_fit_token_pool_json(run_cli):
    code, out, _ = run_cli("fit", "qwen3-235b-a22b", "--engine", "sglang", "--kv-memory", "17716740096", "--tp", "4",
                           "-f", "json")
    doc = json.loads(out)
    assert code == 0 and doc["max_total_num_tokens"] == 17_716_740_096 // 48_128 == 368_117
    assert doc["log"] == ["KV Cache is allocated. dtype: torch.bfloat16, #tokens: 368117, K size: 8.25 GB, V size: 8.25 GB"]


def test_fit_gpu_uses_the_static_fraction(run_cli):
    code, out, _ = run_cli("fit", "llama3.1-8b", "--gpu", "h100-80gb", "--engine", "sglang", "--seq", "16k", "-f", "json")
    doc = json.loads(out)
    assert code == 0 and doc["mem_fraction_static"] == 0.835
    code, _, err = run_cli("fit", "llama3.1-8b", "--gpu", "h100-80gb", "--seq", "16k", "--mem-fraction-static", "0.8")
    assert code == 2 and "--mem-fraction-static is SGLang's" in err


def test_swa_lines_labelled_from_0_5_17():
    model = load_model(str(HF / "gpt-oss-120b.json"))
    for version, label in (("0.5.16", ""), ("0.5.17", "Full ")):
        eng = get_engine(f"sglang@{version}")
        line = allocated_line(size_pool(model, 40 * GiB, eng).parts[0], eng, "bf16")
        assert line.startswith(f"{label}KV Cache is allocated. dtype: torch.bfloat16, #tokens: ")


def test_fit_engines_side_by_side(run_cli):
    code, out, _ = run_cli("fit", "llama3.1-8b", "--gpu", "h100-80gb", "--engine", "vllm,sglang", "--seq", "16k",
                           "--batch", "8", "-f", "json")
    doc = json.loads(out)
    assert code == 0 and [r["engine"] for r in doc["rows"]] == ["vllm 0.32.0", "sglang 0.5.23"]
    vllm, sglang = doc["engines"]
    assert doc["rows"][0]["kv_budget_bytes_per_gpu"] == vllm["kv_budget_bytes_per_gpu"]
    assert sglang["mem_fraction_static"] == 0.835 and sglang["reserve_bytes"] == 0
    code, _, err = run_cli("fit", "llama3.1-8b", "--kv-memory", "8GiB", "--engine", "vllm,sglang")
    assert code == 2 and "give one --engine" in err
