"""The runtime profiles through the command line: what issue #9 asks to see, with the arithmetic."""

from __future__ import annotations

import json

import pytest

from kvcalc.engines import Transformers, Vllm, get_engine
from kvcalc.errors import InputError
from kvcalc.core.formulas import kv_cache
from kvcalc.models.registry import load_model

from .conftest import HF


def test_vllm_fit_from_kv_memory_llama2_70b(run_cli):
    code, out, err = run_cli("fit", str(HF / "Llama-2-70b.json"), "--engine", "vllm", "--kv-memory", "4GiB",
                             "--block-size", "16", "--max-model-len", "4096", "-f", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    # a page: 16 tokens x 8 KV heads x (128 K + 128 V) x 2 B = 65,536 B; a block spans all 80 layers
    assert doc["page_bytes"] == 16 * 8 * 256 * 2 == 65_536
    assert doc["num_blocks"] == 4 * 2**30 // (80 * 65_536) == 819
    # 4,096 tokens = 256 blocks a request: 819 / 256 = 3.199..., and int(3.199... x 4096) tokens
    assert doc["max_concurrency"] == 819 / 256 and f"{doc['max_concurrency']:.2f}" == "3.20"
    assert doc["kv_cache_tokens"] == 13_104
    assert doc["groups"] == [{"kind": "full", "n_layers": 80, "page_bytes": 65_536, "blocks_per_request": 256}]
    mha, mqa = doc["layouts"][1], doc["layouts"][2]
    assert mha["num_blocks"] == 4 * 2**30 // (80 * 8 * 65_536) == 102 and not mha["fits"]
    assert mqa["num_blocks"] == 4 * 2**30 // (80 * 65_536 // 8) == 6553


def test_vllm_fit_table_explains_and_refuses_like_vllm(run_cli):
    code, out, _ = run_cli("fit", "llama3-8b", "--kv-memory", "4GiB", "--max-model-len", "32768")
    # 32 layers x 16 x 8 x 256 x 2 B = 2 MiB a block: 2,048 blocks, but a request of 32,768 tokens takes
    # 2,048 blocks + vLLM's null block: vLLM refuses to start, and suggests (2,048 - 1) x 16 tokens
    assert code == 0 and "DOES NOT FIT" in out and "32,752" in out
    code, out, _ = run_cli("fit", "mistral-7b", "--kv-memory", "4GiB", "--max-model-len", "32768")
    assert "window - 1 + 16,384 tokens in flight" in out  # 2 x 8,192


def test_fit_without_gpu_or_kv_memory_is_one_line(run_cli):
    code, _, err = run_cli("fit", "llama3-8b", "--seq", "1k")
    assert code == 2 and "--kv-memory" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("fit", "llama3-8b", "--kv-memory", "4GiB", "--engine", "hf")
    assert code == 2 and "use it with --engine vllm" in err
    code, _, err = run_cli("fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "1k", "--engine", "tgi")
    assert code == 2 and "unknown engine 'tgi'" in err
    code, out, _ = run_cli("fit", "jamba", "--kv-memory", "4GiB", "--max-model-len", "4096")
    assert code == 0 and "grows the attention block from 16 to 80 tokens" in " ".join(out.split())


def test_gpu_budget_says_it_is_an_estimate(run_cli):
    _, out, _ = run_cli("fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "4k")
    assert "an estimate" in out and "--kv-memory" in out


def test_deepseek_v3_hf_is_the_latent(run_cli):
    _, out, _ = run_cli("deepseek-v3", "--seq", "4096", "--engine", "hf", "-f", "json")
    doc = json.loads(out)
    assert doc["kv_cache_bytes"] == 61 * 576 * 2 * 4096 == doc["exact_kv_cache_bytes"]


def test_falcon_40b_hf_is_16x_exact_and_says_why(run_cli):
    _, out, _ = run_cli("falcon-40b", "--seq", "2048", "--engine", "hf", "-f", "json")
    doc = json.loads(out)
    # K and V expanded from 8 KV heads to all 128 query heads: 60 layers x 2 x 128 x 64 x 2 B per token
    assert doc["kv_cache_bytes"] == 60 * 2 * 128 * 64 * 2 * 2048 == 16 * doc["exact_kv_cache_bytes"]
    _, table, _ = run_cli("falcon-40b", "--seq", "2048", "--engine", "hf")
    assert "16x the exact" in table and "expands Falcon's 8 KV heads to all 128 query" in table


def test_mistral_hf_keeps_window_minus_one_and_peaks_at_the_prefill(run_cli):
    _, out, _ = run_cli("mistral-7b", "--seq", "5000", "--engine", "hf", "-f", "json")
    doc = json.loads(out)
    per_token = 32 * 2 * 8 * 128 * 2  # 32 layers, K + V, 8 KV heads x 128, bf16
    assert doc["layers"][0]["tokens"] == 4095  # window 4096 - 1
    assert doc["kv_cache_bytes"] == per_token * 4095
    assert doc["peak_bytes"] == per_token * 5000  # the prefill's K/V stay under the kept views
    assert doc["storage_bytes"] == per_token * 4096  # between steps: the last concatenation, 4095 + 1
    assert doc["engine_version"] == "5.23.0" and doc["state_bytes"] == 0


def test_jamba_hf_state_bytes(run_cli):
    _, out, _ = run_cli("jamba", "--seq", "1k", "--batch", "2", "--engine", "hf", "-f", "json")
    doc = json.loads(out)
    # 28 Mamba layers, per sequence: conv [8192, 4] bf16 = 65,536 B + SSM [8192, 16] fp32 = 524,288 B
    assert doc["state_bytes"] == 2 * 28 * (8192 * 4 * 2 + 8192 * 16 * 4) == 33_030_144
    assert doc["kv_cache_bytes"] == 2 * 4 * 2 * 8 * 128 * 2 * 1024  # 4 attention layers, 8 KV heads
    assert doc["cache_bytes"] == doc["kv_cache_bytes"] + doc["state_bytes"]
    assert [t["shape"] for t in doc["state"]["tensors"]] == [[8192, 4], [8192, 16]]


def test_nemotron_h_mamba2_state():
    m = load_model("nemotron-h-56b")
    c = kv_cache(m, 1, engine="hf")
    # Mamba-2: conv over d_inner 16384 + 2 x 8 groups x d_state 256 = 20,480 channels x 4 (bf16);
    # SSM 256 heads x 64 x 256 = 16384 x 256 elements in fp32; 54 Mamba layers
    assert c.state.n_layers == 54
    assert c.state_bytes == 54 * (20480 * 4 * 2 + 16384 * 256 * 4)
    vllm = kv_cache(m, 1, engine="vllm")  # vLLM: d_conv - 1 columns, SSM in the model's dtype
    assert vllm.state_bytes == 54 * (3 * 20480 * 2 + 16384 * 256 * 4)  # vLLM: Nemotron-H's SSM state in fp32


def test_engines_by_name_and_options():
    assert isinstance(get_engine("hf"), Transformers) and get_engine("transformers").name == "hf"
    assert get_engine("vllm", 32).block_size == 32
    with pytest.raises(InputError, match="unknown engine 'tgi'"):
        get_engine("tgi")
    # vLLM serves an fp32 checkpoint in bf16; transformers in its own dtype
    gemma = load_model("gemma-2-9b")
    assert gemma.dtype == "fp32"
    assert kv_cache(gemma, 1, engine=Vllm()).kv_dtype == "bf16"
    assert kv_cache(gemma, 1, engine="hf").kv_dtype == "fp32"


def test_capacity_planning_uses_the_engine_asked_for(run_cli):
    # falcon-40b under hf caches K and V for all 128 query heads: 16x exact's bytes, in fits and decode too
    def rows(engine):
        _, out, _ = run_cli("compare", "falcon-40b", "--engine", engine, "--gpu", "h100-80gb", "--tp", "8",
                            "--seq", "2048", "--batch", "64", "-f", "json")
        return json.loads(out)["rows"][0]

    hf, exact = rows("hf"), rows("exact")
    assert hf["kv_cache_bytes"] == 16 * exact["kv_cache_bytes"]
    assert hf["decode_tokens_per_s"] < exact["decode_tokens_per_s"]
    # deepseek-v3: transformers 5 caches the latent, so hf's planning bytes are exact's
    _, out, _ = run_cli("compare", "deepseek-v3", "--engine", "hf", "--gpu", "b200", "--tp", "8", "--seq", "4k", "-f", "json")
    assert json.loads(out)["rows"][0]["kv_cache_bytes"] == 61 * 576 * 2 * 4096

    _, out, _ = run_cli("fit", "mistral-7b", "--gpu", "h100-80gb", "--seq", "32k", "--engine", "hf", "-f", "json")
    doc = json.loads(out)
    # hf: one sequence holds window - 1 = 4,095 tokens in each of 32 layers: 32 x 4095 x 2 x 8 x 128 x 2 B
    assert doc["engine"] == "hf" and doc["layouts"][0]["seq_bytes_per_gpu"] == 32 * 4095 * 2 * 8 * 128 * 2
    _, out, _ = run_cli("fit", "mistral-7b", "--gpu", "h100-80gb", "--seq", "32k", "-f", "json")
    # vllm (the default): cdiv(4095 + 16,384 in flight, 16) + 1 = 1,281 blocks of 16 tokens
    assert json.loads(out)["layouts"][0]["seq_bytes_per_gpu"] == 32 * 1281 * 16 * 2 * 8 * 128 * 2
    _, out, _ = run_cli("plan", "llama3-8b", "--gpu", "h100-80gb", "--seq", "8k", "--batch", "8", "--engine", "exact")
    assert "engine exact" in out
