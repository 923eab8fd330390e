"""kvcalc's sglang engine against SGLang's own sizing code: conformance/sglang/goldens-0.5.23.json,
recorded by conformance/sglang/make_goldens.py (SGLang 0.5.23's ServerArgs, ModelConfig,
KVCacheConfigurator and pool classes run on CPU, on the meta device, for a stated free memory).
For each golden: the pool's tokens, the SWA pool's, the K and V bytes, the lines SGLang printed,
max_running_requests and the default --mem-fraction-static, or a refusal by name where kvcalc
does not model what SGLang did. A Mamba hybrid's golden records the KV budget after SGLang took the
state slots out; the memory both shared is that plus the slots (with the padding slot)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from kvcalc.engines import get_engine
from kvcalc.engines.sglang import allocated_line, size_pool
from kvcalc.errors import InputError
from kvcalc.models.hf import load_hf_config
from .conftest import HF

FILES = {v: json.loads((Path(__file__).parents[1] / "conformance" / "sglang" / f"goldens-{v}.json").read_text())
         for v in ("0.5.23", "0.5.6")}
GOLDENS = FILES["0.5.23"]
ROWS = [g for f in FILES.values() for g in f["goldens"]]
# No published config.json of Qwen3-Next is among the fixtures (its golden was made from SGLang's own config
# class); kvcalc refuses its gated-DeltaNet layers by name anyway.
REFUSED = {"qwen3-next-80b-a3b-h200-tp4": "no config"}
# kvcalc refuses by name what it does not model of an older release: its Mamba pools before 0.5.17.
OLD_REFUSED = {("0.5.6", "qwen3-next-80b-a3b-h200-tp4"), ("0.5.6", "nemotron-h-56b-h100-tp4")}


def _budget(g: dict) -> int:
    """The pool's bytes as SGLang 0.5.6 reckons them (model_runner.py profile_max_num_token): the free GiB
    after the weights less the free GiB before them x (1 - mem_fraction_static), each free figure rounded
    through a float32 where it was all-reduced (more than one rank)."""
    def gib(free: int) -> float:
        if g["distributed_float32"]:
            free = struct.unpack("f", struct.pack("f", float(free)))[0]
        return free / (1 << 30)

    rest = gib(g["post_load_free_bytes"]) - gib(g["pre_model_load_free_bytes"]) * (1 - g["mem_fraction_static"])
    return int(rest * (1 << 30))


def _case(g: dict):  # type: ignore[no-untyped-def]
    if (g["sglang_version"], g["name"]) in OLD_REFUSED:
        if g["config"].endswith(".json"):  # a Mamba pool before 0.5.17: refused by name
            with pytest.raises(InputError, match="Mamba state pool"):
                get_engine(f"sglang@{g['sglang_version']}").for_model(load_hf_config(HF / g["config"]))
        pytest.skip("a Mamba pool before 0.5.17: refused by name")
    model = load_hf_config(HF / g["config"])
    eng = get_engine(f"sglang@{g['sglang_version']}", g["page_size"])
    kv = g["kv_cache_torch_dtype"].removeprefix("torch.")
    return model, eng, kv


def test_goldens_are_many_and_clean():
    assert GOLDENS["sglang_version"] == "0.5.23" and GOLDENS["failures"] == []
    assert len(GOLDENS["goldens"]) >= 12
    # what 0.5.6 could not build on CPU (Nemotron-H's AutoConfig) is recorded as SGLang's failure
    assert {f["name"] for f in FILES["0.5.6"]["failures"]} <= {"deepseek-v2-lite-h100-tp1", "nemotron-h-56b-h100-tp4"}
    kinds = {g["configurator"] for g in GOLDENS["goldens"]} | {g["attention_arch"] for g in ROWS}
    assert {"MHA", "MLA", "HybridSWAPoolConfigurator"} <= kinds


@pytest.mark.parametrize("g", [g for g in ROWS if g["name"] not in REFUSED or g["sglang_version"] != "0.5.23"],
                         ids=lambda g: f"{g['sglang_version']}-{g['name']}")
def test_pool_as_sglang_sizes_it(g):
    model, eng, kv = _case(g)
    budget = g["budget_bytes"] if "budget_bytes" in g else _budget(g)
    if "mamba" in g:  # the memory the state slots and the KV pool shared
        budget += (g["mamba"]["max_mamba_cache_size"] + 1) * g["mamba"]["mamba_cache_per_req"]
    pool = size_pool(model, budget, eng, kv, g["attn_tp_size"], g["extra_args"].get("max_total_tokens"))
    if "mamba" in g:
        assert pool.mamba.slots == g["mamba"]["max_mamba_cache_size"]
        assert pool.mamba.slot_bytes == g["mamba"]["mamba_cache_per_req"]
    assert pool.max_total_num_tokens == g["max_total_num_tokens"]
    if g["swa_max_total_num_tokens"] is not None:
        assert pool.parts[1].tokens == g["swa_max_total_num_tokens"]
    if pool.latent:
        assert pool.k_bytes + pool.v_bytes == g["kv_size_bytes"]
    else:
        assert (pool.k_bytes, pool.v_bytes) == (g["k_size_bytes"], g["v_size_bytes"])
    printed = [line for line in g["logs"] if "Cache is allocated" in line]
    kv_name = {"bfloat16": "bf16", "float16": "fp16", "float8_e4m3fn": "fp8_e4m3"}[kv]
    mamba = [pool.mamba.line()] if pool.mamba else []
    assert mamba + [allocated_line(p, eng, kv_name) for p in pool.parts] == printed
    if pool.mamba is None:  # a Mamba hybrid's requests are capped by state slots a request: not modelled
        assert pool.max_running_requests(g["context_len"]) == g["max_running_requests"]
    if g["mem_fraction_static_given"] is None:
        fraction, _ = eng.default_mem_fraction(g["gpu_mem_mib"] << 20, g["tp"], 1, g["extra_args"].get("max_running_requests"))
        assert fraction == g["mem_fraction_static"]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_by_name(name):
    g = next(r for r in ROWS if r["name"] == name)
    assert not g["config"].endswith(".json")  # no published config: nothing to size it from
