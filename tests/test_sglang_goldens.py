"""kvcalc's sglang engine against SGLang's own sizing code: conformance/sglang/goldens-0.5.23.json,
recorded by conformance/sglang/make_goldens.py (SGLang 0.5.23's ServerArgs, ModelConfig,
KVCacheConfigurator and pool classes run on CPU, on the meta device, for a stated free memory).
For each golden: the pool's tokens, the SWA pool's, the K and V bytes, the lines SGLang printed,
max_running_requests and the default --mem-fraction-static, or a refusal by name where kvcalc
does not model what SGLang did (Mamba state pools)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kvcalc.engines import get_engine
from kvcalc.engines.sglang import allocated_line, size_pool
from kvcalc.errors import InputError
from kvcalc.models.hf import load_hf_config
from .conftest import HF

GOLDENS = json.loads((Path(__file__).parents[1] / "conformance" / "sglang" / "goldens-0.5.23.json").read_text())
ROWS = GOLDENS["goldens"]
# kvcalc refuses these by name: SGLang's Mamba state pool.
REFUSED = {"qwen3-next-80b-a3b-h200-tp4": "no config", "nemotron-h-56b-h100-tp4": "Mamba state pool"}


def _case(g: dict):  # type: ignore[no-untyped-def]
    model = load_hf_config(HF / g["config"])
    eng = get_engine(f"sglang@{g['sglang_version']}", g["page_size"])
    kv = g["kv_cache_torch_dtype"].removeprefix("torch.")
    return model, eng, kv


def test_goldens_are_many_and_clean():
    assert GOLDENS["sglang_version"] == "0.5.23" and GOLDENS["failures"] == []
    assert len(ROWS) >= 12
    kinds = {g["configurator"] for g in ROWS} | {g["attention_arch"] for g in ROWS}
    assert {"MHA", "MLA", "HybridSWAPoolConfigurator"} <= kinds


@pytest.mark.parametrize("g", [g for g in ROWS if g["name"] not in REFUSED], ids=lambda g: g["name"])
def test_pool_as_sglang_sizes_it(g):
    model, eng, kv = _case(g)
    pool = size_pool(model, g["budget_bytes"], eng, kv, g["attn_tp_size"], g["extra_args"].get("max_total_tokens"))
    assert pool.max_total_num_tokens == g["max_total_num_tokens"]
    if g["swa_max_total_num_tokens"] is not None:
        assert pool.parts[1].tokens == g["swa_max_total_num_tokens"]
    if pool.latent:
        assert pool.k_bytes + pool.v_bytes == g["kv_size_bytes"]
    else:
        assert (pool.k_bytes, pool.v_bytes) == (g["k_size_bytes"], g["v_size_bytes"])
    printed = [line for line in g["logs"] if "KV Cache is allocated" in line]
    kv_name = {"bfloat16": "bf16", "float16": "fp16", "float8_e4m3fn": "fp8_e4m3"}[kv]
    assert [allocated_line(p, eng, kv_name) for p in pool.parts] == printed
    assert pool.max_running_requests(g["context_len"]) == g["max_running_requests"]
    if g["mem_fraction_static_given"] is None:
        fraction, _ = eng.default_mem_fraction(g["gpu_mem_mib"] << 20, g["tp"])
        assert fraction == g["mem_fraction_static"]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_by_name(name):
    g = next(r for r in ROWS if r["name"] == name)
    if not g["config"].endswith(".json"):
        pytest.skip("no published config.json of this model among the fixtures")
    model, eng, kv = _case(g)
    with pytest.raises(InputError, match=REFUSED[name]):
        size_pool(model, g["budget_bytes"], eng, kv, g["attn_tp_size"])
