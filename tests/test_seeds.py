"""The background reading (../shared/seeds, in Chinese) quotes numbers; kvcalc reproduces the
right ones and corrects the wrong ones. docs/seeds.md lists each claim and its verdict."""

from __future__ import annotations

from kvcalc.core.formulas import kv_cache, variants
from kvcalc.models.registry import load_model
from kvcalc.output.units import human_bytes, percent


def test_llama2_70b_10_7_gb_to_1_3_gb():
    # Seed 000: "从 10.7GB 降至 1.3GB", a cut of 87.5%, 8x. Decimal GB, fp16, 4096 tokens.
    rows = {c.layout: c for c in variants(load_model("llama2-70b"), 4096, kv_dtype="fp16")}
    assert human_bytes(rows["MHA"].total_bytes, "si") == "10.74 GB"
    assert human_bytes(rows["GQA-8"].total_bytes, "si") == "1.34 GB"
    assert rows["MHA"].total_bytes // rows["GQA-8"].total_bytes == 8
    assert 1 - rows["GQA-8"].total_bytes / rows["MHA"].total_bytes == 0.875
    # ... which are exactly 10 GiB and 1.25 GiB
    assert rows["MHA"].total_bytes == 10 * 1024**3 and rows["GQA-8"].total_bytes == 5 * 1024**3 // 4


def test_the_seeds_table_mqa_is_1_56_not_1_5_percent():
    # Seed 000's table: MHA 100%, GQA 12.5% (1/8), MQA "1.5% (1/64)": 1/64 is 1.5625%.
    m = load_model("llama2-70b")
    mha = kv_cache(m, 1, n_kv_heads=64).total_bytes
    assert percent(kv_cache(m, 1, n_kv_heads=8).total_bytes / mha) == "12.5%"
    assert percent(kv_cache(m, 1, n_kv_heads=1).total_bytes / mha) == "1.56%"


def test_llama2_7b_and_13b_are_mha_not_gqa():
    # Seed 000 calls GQA "Llama-2/3 标配" (standard in Llama-2/3): only Llama-2-70B has it.
    assert load_model("llama2-7b").n_kv_heads == load_model("llama2-7b").n_heads == 32
    assert load_model("llama2-13b").n_kv_heads == load_model("llama2-13b").n_heads == 40
    assert load_model("llama2-70b").n_kv_heads == 8


def test_llama3_group_sizes():
    # Seed 003: group size 8 is "Llama 3's sweet spot"; seed 004: Llama-3 uses G = H/2.
    # Llama-3-8B: 32 heads / 8 KV heads = 4 per group (G = H/4); Llama-3-70B: 64 / 8 = 8 (G = H/8).
    assert load_model("llama3-8b").group_size == 4
    assert load_model("llama3-70b").group_size == 8


def test_gemma2_is_h_over_2():
    # Seed 004: Gemma-2 uses G = H/2: right for 9B (16 / 8) and 27B (32 / 16).
    for name in ("gemma-2-9b", "gemma-2-27b"):
        m = load_model(name)
        assert m.n_kv_heads * 2 == m.n_heads


def test_head_dim_is_not_always_hidden_over_heads():
    # Seeds 002 and 003 derive d_head = d_model / h. Mistral-Nemo, Qwen3 and gpt-oss do not.
    for name, head_dim, quotient in [("mistral-nemo", 128, 160), ("qwen3-0.6b", 128, 64), ("gpt-oss-20b", 64, 45)]:
        m = load_model(name)
        assert (m.head_dim, m.hidden_size // m.n_heads) == (head_dim, quotient)


def test_32_heads_8_kv_groups_of_4():
    # Seed 003's example: 32 query heads, 8 KV heads, 4 per group (Llama-3-8B, Mistral-7B).
    for name in ("llama3-8b", "mistral-7b"):
        m = load_model(name)
        assert (m.n_heads, m.n_kv_heads, m.group_size) == (32, 8, 4)
