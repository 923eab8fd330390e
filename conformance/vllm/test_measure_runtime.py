"""--measure's vLLM path (run in the vLLM venv, conformance/README.md): with vLLM installed, the
vllm engine's cache is allocated from vLLM's own KV-cache specs (page size, blocks a request
holds), and a wrong formula is a MISMATCH there too."""

from __future__ import annotations

import pytest
import vllm

from kvcalc.measure import measure as m
from kvcalc.engines.vllm import Vllm
from kvcalc.core.formulas import kv_cache
from kvcalc.models.registry import load_model


@pytest.mark.parametrize("name, seq, dtype", [("llama3-8b", 5000, "auto"), ("mistral-7b", 32768, "auto"),
                                              ("mistral-7b", 32768, "fp8"), ("deepseek-v3", 3000, "auto"),
                                              ("gemma-2-9b", 8192, "auto"), ("gemma-3-1b", 32768, "fp8")])
def test_vllm_specs_allocate_what_the_formula_says(name, seq, dtype):
    model = load_model(name)
    r = m.measure(model, seq, 2, dtype, engine="vllm", device="cpu")
    assert r["path"] == f"vLLM {vllm.__version__}"
    assert r["measured_bytes"] == kv_cache(model, seq, 2, dtype, engine="vllm").total_bytes and r["match"]


def test_a_wrong_sliding_rule_is_a_mismatch_on_the_vllm_path(monkeypatch):
    model = load_model("mistral-7b")
    assert m.measure(model, 32768, 1, engine="vllm", device="cpu")["match"]
    monkeypatch.setattr(Vllm, "sliding_blocks", lambda self, window, max_len: -(-window // self.block_size))
    wrong = m.measure(model, 32768, 1, engine="vllm", device="cpu")
    assert wrong["path"].startswith("vLLM") and not wrong["match"]
