"""Shipped configs against published figures written out by hand (from each model's config.json
and model card), not through kvcalc's importer: the importer and the YAML cannot agree on a
wrong number here."""

from __future__ import annotations

import pytest

from kvcalc.models.registry import load_model

# name: (layers, query heads, KV heads, head_dim, sliding window, hidden size)
PUBLISHED = {
    "llama2-7b": (32, 32, 32, 128, None, 4096),
    "llama2-13b": (40, 40, 40, 128, None, 5120),
    "llama2-70b": (80, 64, 8, 128, None, 8192),
    "llama3-8b": (32, 32, 8, 128, None, 4096),
    "llama3.1-405b": (126, 128, 8, 128, None, 16384),
    "llama3.2-1b": (16, 32, 8, 64, None, 2048),
    "mistral-7b": (32, 32, 8, 128, 4096, 4096),
    "mixtral-8x7b": (32, 32, 8, 128, None, 4096),
    "qwen2-7b": (28, 28, 4, 128, None, 3584),
    "qwen3-32b": (64, 64, 8, 128, None, 5120),
    "gemma-2-9b": (42, 16, 8, 256, 4096, 3584),
    "gemma-3-4b": (34, 8, 4, 256, 1024, 2560),
    "falcon-40b": (60, 128, 8, 64, None, 8192),
    "gpt-oss-20b": (24, 64, 8, 64, 128, 2880),
    "jamba-v0.1": (32, 32, 8, 128, None, 4096),
}


@pytest.mark.parametrize("name", PUBLISHED)
def test_shipped_config_matches_the_published_figures(name):
    m = load_model(name)
    assert (m.n_layers, m.n_heads, m.n_kv_heads, m.head_dim, m.sliding_window, m.hidden_size) == PUBLISHED[name]


def test_published_layer_layouts():
    # gemma-3: 5 local layers then 1 global; gemma-2 and gpt-oss alternate local / global
    assert load_model("gemma-3-4b").layer_kinds == ("SSSSSF" * 6)[:34]
    assert load_model("gemma-2-9b").layer_kinds == "SF" * 21
    assert load_model("gpt-oss-20b").layer_kinds == "SF" * 12
    # Jamba: attention on layer 4 of every 8; DeepSeek-V3: 61 MLA layers of 512 + 64
    assert load_model("jamba").layer_kinds == "RRRRFRRR" * 4
    ds = load_model("deepseek-v3")
    assert (ds.n_layers, ds.mla.kv_lora_rank, ds.mla.qk_rope_head_dim, ds.mla.qk_nope_head_dim, ds.mla.v_head_dim) == (61, 512, 64, 128, 128)
    nemotron = load_model("nemotron-h-56b")
    assert (nemotron.layer_kinds.count("F"), nemotron.layer_kinds.count("R"), nemotron.ssm.d_state) == (10, 54, 256)
