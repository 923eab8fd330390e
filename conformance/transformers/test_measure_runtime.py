"""--measure's runtime path: with transformers installed, the hf engine's cache is allocated by
transformers' own cache layers (fed what each layer produces for --seq tokens), and a wrong
formula shows as a MISMATCH there too."""

from __future__ import annotations

import pytest
import transformers

from kvcalc.measure import measure as m
from kvcalc.engines.transformers import Transformers
from kvcalc.core.formulas import kv_cache
from kvcalc.models.registry import load_model


@pytest.mark.parametrize("name, seq", [("mistral-7b", 5000), ("gemma-3-1b", 1000), ("deepseek-v2-lite", 300),
                                       ("falcon-40b", 64), ("jamba", 64), ("nemotron-h-56b", 16), ("llama3-8b", 100)])
def test_transformers_cache_layers_keep_what_the_formula_says(name, seq):
    model = load_model(name)
    r = m.measure(model, seq, 1, engine="hf", device="cpu")
    assert r["path"] == f"transformers {transformers.__version__}"
    assert r["measured_bytes"] == kv_cache(model, seq, 1, engine="hf").cache_bytes and r["match"]


@pytest.mark.parametrize("name, seq", [("qwen3-next", 64), ("llama4-scout", 100), ("nemotron-3-nano", 16)])
def test_the_families_shipped_keep_what_the_formula_says(name, seq):
    test_transformers_cache_layers_keep_what_the_formula_says(name, seq)


@pytest.mark.parametrize("case", ["llama4", "minimax", "lfm2", "falcon_h1", "zamba2", "gemma3n", "mamba2"])
def test_each_family_on_the_runtime_path(case):
    import json
    from pathlib import Path

    from kvcalc.models.hf import from_hf_dict

    golden = json.loads((Path(__file__).with_name("goldens-families-5.23.0.json")).read_text())["cases"][case]
    model = from_hf_dict(golden["config"], case)
    r = m.measure(model, 40, 2, engine="hf", device="cpu")
    assert r["path"] == f"transformers {transformers.__version__}"
    assert r["measured_bytes"] == kv_cache(model, 40, 2, engine="hf").cache_bytes and r["match"]


def test_a_wrong_sliding_rule_is_a_mismatch_on_the_runtime_path(monkeypatch):
    model = load_model("mistral-7b")  # window 4096: transformers keeps 4095 tokens a layer
    right = m.measure(model, 5000, 1, engine="hf", device="cpu")
    assert right["match"] and right["measured_bytes"] == 32 * 2 * 8 * 128 * 2 * 4095
    monkeypatch.setattr(Transformers, "tokens", lambda self, kind, seq, window: min(seq, window) if kind == "S" else seq)
    wrong = m.measure(model, 5000, 1, engine="hf", device="cpu")
    assert wrong["path"].startswith("transformers") and not wrong["match"]
    assert wrong["measured_bytes"] == right["measured_bytes"]  # what transformers keeps did not change
