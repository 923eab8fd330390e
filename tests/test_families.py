"""The families whose layers are not a plain attention stack (issue #20), each sized as transformers
5.23.0 holds it: goldens recorded by conformance/transformers/test_families.py (tiny random-weight
models, a prefill of 40 tokens for 2 sequences and one decode step; every tensor of the cache
counted). Before, kvcalc answered each of these as plain attention, without a word: mamba2,
falcon_h1, bamba and zamba2 without their Mamba state, Llama 4's chunked layers as full, Qwen3-Next
and MiniMax with every layer attending."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kvcalc.core.formulas import kv_cache
from kvcalc.errors import KvcalcError
from kvcalc.models.hf import from_hf_dict

from .conftest import FIXTURES

GOLDENS = json.loads((Path(__file__).parents[1] / "conformance" / "transformers" /
                      "goldens-families-5.23.0.json").read_text())
CASES = sorted(GOLDENS["cases"].items())
B, P = GOLDENS["batch"], GOLDENS["prefill_tokens"]


@pytest.mark.parametrize("name, golden", CASES, ids=[c[0] for c in CASES])
def test_each_family_is_what_transformers_held(name, golden):
    model = from_hf_dict(golden["config"], name)
    for tokens, step, bytes_kind in ((P, "prefill", "peak_bytes"), (P + 1, "decode", "storage_bytes")):
        c = kv_cache(model, tokens, B, engine="hf")
        held = golden[step]
        assert (c.k_bytes, c.v_bytes, c.state_bytes) == (held["k"], held["v"], held["state"]), step
        assert getattr(c, bytes_kind) == held["storage"], step


def test_the_goldens_cover_every_family():
    families = {from_hf_dict(g["config"], n).family for n, g in CASES}
    assert families >= {"llama4_text", "qwen3_next", "falcon_h1", "bamba", "granitemoehybrid", "zamba2",
                        "nemotron_h", "gemma3n_text", "lfm2", "minimax", "mamba", "mamba2", "jamba"}


@pytest.mark.parametrize("config, key", [
    ({"model_type": "llama4_text", "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
      "hidden_size": 64, "attention_chunk_size": None}, "attention_chunk_size"),
    ({"model_type": "minimax", "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
      "hidden_size": 64, "attn_type_list": [0, 0, 0, 1]}, "attn_type_list"),
])
def test_configs_the_runtimes_cannot_run_or_read_apart_are_refused_by_name(config, key):
    with pytest.raises(KvcalcError, match=key):
        kv_cache(from_hf_dict(config, "c"), 4096, engine="hf")


@pytest.mark.parametrize("family", ["bamba", "granitemoehybrid"])
def test_a_mamba2_hybrid_without_attention_is_refused_as_transformers_fails(family):
    cfg = {"model_type": family, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
           "hidden_size": 64, "mamba_n_heads": 8, "mamba_d_state": 16}
    with pytest.raises(KvcalcError, match="no attention"):
        kv_cache(from_hf_dict(cfg, "c"), 4096, engine="hf")


def test_the_published_hub_shapes_are_read_as_their_runtimes_derive_them():
    qn = from_hf_dict(json.loads((FIXTURES / "hf" / "Qwen3-Next-80B-A3B-Thinking.json").read_text()), "q")
    assert qn.layer_kinds == "RRRF" * 12 and qn.ssm.kind == "gated_delta"
    assert (qn.ssm.conv_channels, qn.ssm.state_elements) == (2 * 16 * 128 + 32 * 128, 32 * 128 * 128)
    l4 = from_hf_dict(json.loads((FIXTURES / "hf" / "Llama-4-Scout-17B-16E-Instruct.abridged.json").read_text()), "l")
    assert l4.layer_kinds == "CCCF" * 12 and l4.attention_chunk_size == 8192
    nano = from_hf_dict(json.loads((FIXTURES / "hf" / "NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json").read_text()), "n")
    assert nano.layer_kinds.count("F") == 6 and nano.layer_kinds.count("R") == 23


def test_old_transformers_releases_refuse_the_families_checked_on_5_23_only():
    cfg = GOLDENS["cases"]["llama4"]["config"]
    with pytest.raises(KvcalcError, match="5.23.0 only"):
        kv_cache(from_hf_dict(cfg, "l"), 4096, engine="hf@5.17.0")
