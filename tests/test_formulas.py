"""The formula engine: exact bytes, layouts, engines, and its invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvcalc.errors import InputError
from kvcalc.core.formulas import cdiv, divisors, gqa_heads, kv_bytes_per_token, kv_cache, variant_heads, variants
from kvcalc.models.registry import load_all, load_model

FULL_ATTENTION = [m for m in load_all() if set(m.layer_kinds) == {"F"}]


def test_llama2_70b_4096_fp16_the_seeds_numbers():
    m = load_model("llama2-70b")
    rows = {c.layout: c for c in variants(m, 4096, kv_dtype="fp16")}
    # 2 (K and V) x 80 layers x 64 heads x 128 dims x 2 B x 4096 tokens
    assert rows["MHA"].total_bytes == 2 * 80 * 64 * 128 * 2 * 4096 == 10_737_418_240
    # ... with the published 8 KV heads
    assert rows["model"].total_bytes == rows["GQA-8"].total_bytes == 2 * 80 * 8 * 128 * 2 * 4096 == 1_342_177_280
    # ... with one KV head
    assert rows["MQA"].total_bytes == 2 * 80 * 1 * 128 * 2 * 4096 == 167_772_160
    assert rows["model"].k_bytes == rows["model"].v_bytes == 671_088_640


def test_llama3_8b_bytes_per_token():
    # 2 x 32 layers x 8 KV heads x 128 x 2 B (bf16)
    assert kv_bytes_per_token(load_model("llama3-8b")) == 2 * 32 * 8 * 128 * 2 == 131_072


def test_batch_and_per_sequence():
    c = kv_cache(load_model("llama3-8b"), 8192, batch_size=4)
    assert c.bytes_per_sequence == 131_072 * 8192 == 1_073_741_824
    assert c.total_bytes == 4 * 1_073_741_824


def test_sliding_window_caps_tokens():
    m = load_model("mistral-7b")  # v0.1: a 4096-token window on all 32 layers
    # below the window every token is held; above it, 4096
    assert kv_cache(m, 2048).total_bytes == 2 * 32 * 8 * 128 * 2 * 2048
    assert kv_cache(m, 32768).total_bytes == 2 * 32 * 8 * 128 * 2 * 4096 == 536_870_912


def test_gemma3_4b_split_local_global():
    c = kv_cache(load_model("gemma-3-4b"), 32768, kv_dtype="bf16")
    groups = {g.kind: g for g in c.groups}
    assert (groups["sliding"].n_layers, groups["sliding"].tokens) == (29, 1024)
    assert (groups["full"].n_layers, groups["full"].tokens) == (5, 32768)
    # per layer per token 2 x 4 KV heads x 256 x 2 B = 4096; 29 x 1024 + 5 x 32768 tokens
    assert c.total_bytes == 4096 * (29 * 1024 + 5 * 32768) == 792_723_456


def test_mla_latent_in_exact_and_transformers_5():
    m = load_model("deepseek-v3")
    exact = kv_cache(m, 4096)
    hf = kv_cache(m, 4096, engine="hf")
    # one latent of 512 + 64 elements x 2 B per layer per token, 61 layers
    assert exact.bytes_per_token == 61 * 576 * 2 == 70_272
    assert exact.v_bytes == 0
    # transformers 5: K of [B, 1, S, kv_lora_rank 512], V of [B, 1, S, qk_rope_head_dim 64]
    assert hf.k_bytes == 61 * 512 * 2 * 4096 and hf.v_bytes == 61 * 64 * 2 * 4096
    assert hf.total_bytes == exact.total_bytes == 61 * 576 * 2 * 4096 == 287_834_112


def test_mla_rebuilt_as_heads_uses_its_head_dims():
    m = load_model("deepseek-v3")
    mqa = kv_cache(m, 1, n_kv_heads=1)
    # one KV head of K 192 + V 128 elements x 2 B x 61 layers
    assert mqa.bytes_per_token == 61 * (192 + 128) * 2 == 39_040


def test_mamba_layers_hold_no_kv_but_a_state():
    c = kv_cache(load_model("jamba-v0.1"), 1000, batch_size=2)
    assert {g.kind: g.n_layers for g in c.groups} == {"full": 4, "recurrent": 28}
    assert c.total_bytes == 2 * 4 * 2 * 8 * 128 * 2 * 1000  # 4 attention layers of 8 KV heads
    # exact: conv of d_inner 8192 x (d_conv 4 - 1) in bf16 + SSM 8192 x d_state 16 in fp32, 28 layers
    assert c.state_bytes == 2 * 28 * (8192 * 3 * 2 + 8192 * 16 * 4) == 32_112_640
    assert c.cache_bytes == c.total_bytes + c.state_bytes
    # transformers keeps all d_conv 4 columns of the conv window
    hf = kv_cache(load_model("jamba-v0.1"), 1000, batch_size=2, engine="hf")
    assert hf.state_bytes == 2 * 28 * (8192 * 4 * 2 + 8192 * 16 * 4) == 33_030_144


def test_vllm_blocks_round_up():
    m = load_model("llama2-70b")
    per_token = 2 * 80 * 8 * 128 * 2
    assert kv_cache(m, 4000, engine="vllm").total_bytes == per_token * 250 * 16  # 4000 = 250 blocks of 16
    assert kv_cache(m, 4001, engine="vllm").total_bytes == per_token * 251 * 16  # one more block
    assert kv_cache(m, 4001, engine="vllm", block_size=32).total_bytes == per_token * 126 * 32


def test_vllm_sliding_window_blocks():
    from kvcalc.engines import Vllm

    m = load_model("mistral-7b")  # window 4096
    c = kv_cache(m, 32768, engine="vllm")
    # window - 1 + 2 batches in flight x 8192 tokens = 20,479 tokens: cdiv(20479, 16) + 1 = 1,281 blocks
    assert c.groups[0].tokens == 1281 * 16
    assert kv_cache(m, 100, engine="vllm").groups[0].tokens == 7 * 16  # short: cdiv(100, 16) blocks
    # one batch of 2048 in flight: cdiv(4095 + 2048, 16) + 1 = 385 blocks
    small = Vllm(max_num_batched_tokens=2048, max_concurrent_batches=1)
    assert kv_cache(m, 32768, engine=small).groups[0].tokens == 385 * 16


@pytest.mark.parametrize(
    "dtype, per_head_vector",
    [
        ("fp32", 128 * 4),
        ("fp16", 128 * 2),
        ("bf16", 128 * 2),
        ("fp8", 128),
        ("fp8_e5m2", 128),
        ("int8", 128),
        ("int4", 128 // 2 + 2 * 4),  # 64 B of nibbles + a 2 B scale and 2 B zero per 64 elements
        ("nvfp4", 128 // 2 + 128 // 16),  # 64 B of nibbles + one 1 B scale per 16 elements
    ],
)
def test_dtype_true_costs(dtype, per_head_vector):
    c = kv_cache(load_model("llama3-8b"), 1, kv_dtype=dtype)
    assert c.bytes_per_token == 2 * 32 * 8 * per_head_vector


def test_nvfp4_scales_are_reported():
    c = kv_cache(load_model("llama3-8b"), 1000, kv_dtype="nvfp4")
    assert c.scale_bytes == 2 * 32 * 8 * 8 * 1000  # 8 scale bytes per 128-element vector
    assert c.data_bytes == 2 * 32 * 8 * 64 * 1000


def test_variant_heads_and_gqa_choice():
    assert variant_heads(load_model("llama2-70b")) == [("MHA", 64), ("GQA-8", 8), ("MQA", 1)]
    # an MHA model gets the divisor whose group is nearest 8 query heads: 32 / 4 = 8
    assert gqa_heads(load_model("llama2-7b")) == 4
    # falcon-7b's 71 heads are prime: no GQA rebuild exists
    assert variant_heads(load_model("falcon-7b")) == [("MHA", 71), ("MQA", 1)]
    assert divisors(12) == [12, 6, 4, 3, 2, 1]


@pytest.mark.parametrize("bad", [0, -1, 3.5, True])
def test_bad_sizes_are_rejected(bad):
    m = load_model("llama3-8b")
    with pytest.raises(InputError, match="seq_len"):
        kv_cache(m, bad)
    with pytest.raises(InputError, match="batch_size"):
        kv_cache(m, 1, batch_size=bad)


def test_heads_that_do_not_divide():
    with pytest.raises(InputError, match=r"6 KV heads do not divide 64 query heads \(choose from: 64, 32, 16, 8, 4, 2, 1\)"):
        kv_cache(load_model("llama2-70b"), 1, n_kv_heads=6)


def test_unknown_engine():
    with pytest.raises(InputError, match="unknown engine 'tgi'"):
        kv_cache(load_model("llama3-8b"), 1, engine="tgi")


# ----- invariants ---------------------------------------------------------------------------

models = st.sampled_from(FULL_ATTENTION)
sizes = st.integers(min_value=1, max_value=1 << 20)


@given(models, sizes, sizes, st.integers(min_value=1, max_value=512))
def test_bytes_linear_in_seq_and_batch(m, seq, k, batch):
    one = kv_cache(m, seq).total_bytes
    assert kv_cache(m, seq * k).total_bytes == k * one
    assert kv_cache(m, seq, batch_size=batch).total_bytes == batch * one
    assert one == seq * kv_bytes_per_token(m)


@given(st.sampled_from(load_all()), st.integers(min_value=1, max_value=200_000))
def test_mha_over_gqa_is_the_group_ratio(m, seq):
    mha = kv_cache(m, seq, n_kv_heads=m.n_heads)
    for g in divisors(m.n_heads):
        c = kv_cache(m, seq, n_kv_heads=g)
        assert mha.total_bytes * g == c.total_bytes * m.n_heads


@given(st.sampled_from(load_all()), st.integers(min_value=1, max_value=200_000), st.sampled_from(["exact", "hf", "vllm"]))
def test_fp8_is_half_of_bf16_and_k_plus_v_is_total(m, seq, engine):
    bf16 = kv_cache(m, seq, kv_dtype="bf16", engine=engine)
    fp8 = kv_cache(m, seq, kv_dtype="fp8", engine=engine)
    if engine == "vllm" and m.ssm is not None:  # vLLM grows a hybrid's blocks to hold a state page: per token
        assert 2 * fp8.bytes_per_token == bf16.bytes_per_token and fp8.block_size >= bf16.block_size
    else:
        assert 2 * fp8.total_bytes == bf16.total_bytes
    assert bf16.k_bytes + bf16.v_bytes == bf16.total_bytes


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=10**6))
def test_cdiv(a, b):
    from fractions import Fraction
    import math

    assert cdiv(a, b) == math.ceil(Fraction(a, b))  # exact rational ceiling, not the same floor trick


@pytest.mark.parametrize("name, bits, group, scale, bytes_128", [
    # one 128-element vector: data bits x 128 / 8 + (128 / group) scales x scale bytes
    ("fp32", 32, 0, 0, 512), ("fp16", 16, 0, 0, 256), ("bf16", 16, 0, 0, 256),
    ("fp8", 8, 0, 0, 128), ("fp8_e4m3", 8, 0, 0, 128), ("fp8_e5m2", 8, 0, 0, 128), ("int8", 8, 0, 0, 128),
    ("int4", 4, 64, 4, 64 + 2 * 4), ("nvfp4", 4, 16, 1, 64 + 8 * 1),
    ("q8_0", 8, 32, 2, 4 * 34), ("q4_0", 4, 32, 2, 4 * 18), ("q4_1", 4, 32, 4, 4 * 20),
    ("q5_0", 5, 32, 2, 4 * 22), ("q5_1", 5, 32, 4, 4 * 24), ("iq4_nl", 4, 32, 2, 4 * 18),
])
def test_every_dtype_bits_and_scales(name, bits, group, scale, bytes_128):
    from kvcalc.dtypes import DTYPES

    d = DTYPES[name]
    assert (d.bits, d.group_size, d.scale_bytes) == (bits, group, scale)
    assert sum(d.vector_bytes(128)) == bytes_128


def test_the_dtype_table_is_covered():
    from kvcalc.dtypes import DTYPES

    assert set(DTYPES) == {"fp32", "fp16", "bf16", "fp8", "fp8_e4m3", "fp8_e5m2", "int8", "int4", "nvfp4",
                           "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl"}


@pytest.mark.parametrize("engine, tokens", [
    # mistral-7b (v0.1): a 4,096-token window on all 32 layers, at 30,000 tokens
    ("exact", 4096),  # the window
    ("hf", 4095),  # transformers keeps window - 1
    ("vllm", (-(-(4095 + 2 * 8192) // 16) + 1) * 16),  # window - 1 + in flight, + 1 block: 1,281 blocks
    ("llama.cpp", 30208),  # llama.cpp runs Mistral's window as full attention: pad(30,000, 256) cells
])
def test_every_engines_sliding_rule(engine, tokens):
    assert kv_cache(load_model("mistral-7b"), 30_000, engine=engine).groups[0].tokens == tokens
