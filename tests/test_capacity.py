"""fit / plan arithmetic: budgets, tensor and pipeline parallelism, block rounding, decode bound."""

from __future__ import annotations

import json

import pytest

from kvcalc.planning import capacity as c
from kvcalc.errors import InputError
from kvcalc.planning.gpus import find_gpu
from kvcalc.planning.reports import fit_report, plan_report
from kvcalc.models.registry import load_model

H100 = find_gpu("h100-80gb")


def _fit(name, seq=None, batch=None, **kw):
    m = load_model(name)
    return fit_report(m, c.make_setup(m, H100, **kw), seq, batch).document


def test_llama2_70b_tp4_gqa_holds_8x_the_sequences_of_mha():
    doc = _fit("llama2-70b", 4096, tp=4)
    # usable: floor(85,520,809,984 x 0.9) = 76,968,728,985
    # weights per GPU: 68,976,648,192 params x 2 B / 4 = 34,488,324,096; reserve 2 GiB
    assert doc["kv_budget_bytes_per_gpu"] == 76_968_728_985 - 34_488_324_096 - 2 * 1024**3 == 40_332_921_241
    gqa, mha, mqa = doc["layouts"]
    # GQA: 8 KV heads / tp 4 = 2 per GPU; 80 layers x 2 (K, V) x 2 heads x 128 x 2 B = 81,920 B/token
    assert (gqa["kv_heads_per_gpu"], gqa["bytes_per_token_per_gpu"]) == (2, 81_920)
    # blocks of 16 tokens: 40,332,921,241 // 1,310,720 = 30,771; 4,096 tokens = 256 blocks; 30,771 // 256 = 120
    assert (gqa["num_blocks_per_gpu"], gqa["max_seqs"]) == (30_771, 120)
    # MHA: 16 heads per GPU, 655,360 B/token; 40,332,921,241 // 10,485,760 = 3,846 blocks; // 256 = 15
    assert (mha["kv_heads_per_gpu"], mha["num_blocks_per_gpu"], mha["max_seqs"]) == (16, 3_846, 15)
    assert gqa["max_seqs_vs_mha"] == 120 / 15 == 8.0
    # MQA: 1 head replicated on all 4 GPUs, so only 2x GQA, not 8x: 61,543 blocks // 256 = 240
    assert (mqa["kv_heads_per_gpu"], mqa["max_seqs"]) == (1, 240)


def test_llama3_8b_tp16_holds_one_kv_head_per_gpu_never_half():
    m = load_model("llama3-8b")
    r = fit_report(m, c.make_setup(m, H100, tp=16), 4096, None)
    gqa = r.document["layouts"][0]
    assert gqa["kv_heads_per_gpu"] == 1  # max(1, 8 // 16)
    # 32 layers x 2 x 1 head x 128 x 2 B = 16,384 B/token on each GPU
    assert gqa["bytes_per_token_per_gpu"] == 16_384
    assert any("never 0.5" in n for n in r.notes)


def test_kv_heads_per_gpu_rules():
    assert [c.kv_heads_per_gpu(8, tp) for tp in (1, 2, 4, 8, 16, 32)] == [8, 4, 2, 1, 1, 1]
    with pytest.raises(InputError, match="does not divide 8 KV heads"):
        c.kv_heads_per_gpu(8, 3)
    with pytest.raises(InputError, match="do not divide --tp 12"):
        c.kv_heads_per_gpu(8, 12)


def test_pipeline_stages_split_layers_and_the_first_takes_the_extra():
    assert [len(r) for r in c.stages(80, 3)] == [27, 27, 26]
    m = load_model("llama2-70b")
    s = c.make_setup(m, H100, tp=2, pp=2)
    w = c.weights(m, s)
    # stage 1: 40 layers x 855,654,400 + embedding 262,144,000; stage 2 adds head + final norm 8,192 instead
    first = (40 * 855_654_400 + 262_144_000) * 2 // 2
    last = (40 * 855_654_400 + 262_144_000 + 8192) * 2 // 2
    assert [st.weights_bytes_per_gpu for st in w.stages] == [first, last]
    # the KV of a stage holds 40 layers: 40 x 2 x 4 heads x 128 x 2 B = 81,920 B/token
    assert c.layout_fit(m, w, s, "m", None, 4096, None).bytes_per_token_per_gpu == 81_920


def test_replicas_multiply_sequences():
    one = _fit("llama3-8b", 4096, tp=1)["layouts"][0]["max_seqs"]
    four = _fit("llama3-8b", 4096, gpus=4, tp=1)["layouts"][0]["max_seqs"]
    assert four == 4 * one


def test_max_context_at_batch_is_the_largest_that_fits():
    m = load_model("llama3-8b")
    s = c.make_setup(m, H100)
    w = c.weights(m, s)
    ctx = c.max_context(m, w, s, 8, None)
    budget = w.stages[0].kv_budget_bytes
    per_token = 131_072  # 32 layers x 2 x 8 heads x 128 x 2 B
    # whole blocks: 8 sequences x cdiv(ctx, 16) x 16 tokens x 131,072 B <= budget, one token more does not fit
    assert 8 * -(-ctx // 16) * 16 * per_token <= budget < 8 * -(-(ctx + 1) // 16) * 16 * per_token


def test_decode_bound_reads_weights_and_kv_once_a_step():
    m = load_model("llama2-70b")
    s = c.make_setup(m, H100, tp=4)
    w = c.weights(m, s)
    tps, kv = c.decode_bound(m, w, s, 4096, 10, None)
    # 10 sequences x 4,096 tokens x 81,920 B per GPU; weights 34,488,324,096 B per GPU; 3.35e12 B/s
    assert kv == 10 * 4096 * 81_920
    assert tps == pytest.approx(10 / ((34_488_324_096 + kv) / 3.35e12))


def test_moe_decode_reads_only_routed_experts():
    m = load_model("mixtral-8x7b")
    s = c.make_setup(m, H100, tp=2)
    w = c.weights(m, s)
    # batch 1 uses 2 of 8 experts per layer: 6 x 3 x 4,096 x 14,336 params x 2 B / tp 2 unread per layer
    unread = 32 * 6 * 3 * 4096 * 14336 * 2 // 2
    assert c.weights_read(m, w, s, 1) == [w.stages[0].weights_bytes_per_gpu - unread]
    assert c.weights_read(m, w, s, 4) == [w.stages[0].weights_bytes_per_gpu]  # 4 x 2 >= 8 experts


def test_weights_that_do_not_fit_say_so_with_numbers():
    m = load_model("llama2-70b")
    r = fit_report(m, c.make_setup(m, find_gpu("l4")), 4096, None)
    assert r.document["weights_fit"] is False and r.document["layouts"][0]["max_seqs"] == 0
    assert any(n.startswith("DOES NOT FIT") and "137,953,296,384" in n for n in r.notes)


def test_plan_recommends_the_most_kv_heads_that_fit():
    m = load_model("llama2-70b")
    r = plan_report(m, c.make_setup(m, H100, tp=4), 32768, 16)
    fits = {row["n_kv_heads"]: row["fits"] for row in r.rows}
    # per GPU, 16 x 32,768 tokens x 80 layers x 2 x (heads / 4) x 128 x 2 B against a 40,332,921,241 B budget:
    # 8 heads -> 2 per GPU: 42,949,672,960 B (no); 4 heads -> 1 per GPU: 21,474,836,480 B (yes)
    assert fits == {64: False, 32: False, 16: False, 8: False, 4: True, 2: True, 1: True}
    assert r.document["recommended_n_kv_heads"] == 4


def test_parallel_setup_errors():
    m = load_model("llama2-70b")
    with pytest.raises(InputError, match="--tp 3 does not divide the 64 query heads"):
        c.make_setup(m, H100, tp=3)
    with pytest.raises(InputError, match="--pp 81"):
        c.make_setup(m, H100, pp=81)
    with pytest.raises(InputError, match="not a multiple"):
        c.make_setup(m, H100, gpus=6, tp=4)
    with pytest.raises(InputError, match="--weights-dtype"):
        c.make_setup(m, H100, weights_dtype="fp6")


def test_a_tied_lm_head_gets_its_own_copy_on_the_last_stage():
    m = load_model("llama3.2-1b")  # tie_word_embeddings: the LM head is the embedding
    assert m.tie_embeddings
    # a layer: q 2048x2048 + k, v 2048x512 + o 2048x2048 + MLP 3 x 2048 x 8192 + 2 norms of 2048
    layer = 2 * 2048 * 2048 + 2 * 2048 * 512 + 3 * 2048 * 8192 + 2 * 2048
    embedding = 128256 * 2048
    assert layer == 60_821_504 and 16 * layer + embedding + 2048 == 1_235_814_400  # the published count
    w = c.weights(m, c.make_setup(m, H100, pp=2))
    # bf16: stage 1 holds 8 layers + the embedding; stage 2 holds 8 layers + the final norm + its own head copy
    assert [st.weights_bytes_per_gpu for st in w.stages] == [(8 * layer + embedding) * 2, (8 * layer + 2048 + embedding) * 2]
    one = c.weights(m, c.make_setup(m, H100))  # one stage: the tied head is not counted twice
    assert one.stages[0].weights_bytes_per_gpu == (16 * layer + embedding + 2048) * 2


def test_a_sequence_on_a_hybrid_carries_its_recurrent_state(run_cli):
    _, out, _ = run_cli("fit", "jamba", "--gpu", "h100-80gb", "--seq", "4096", "--weights-bytes", "104GB", "-f", "json")
    row = json.loads(out)["layouts"][0]
    # vLLM grows a hybrid's blocks to hold a state page: 16 x cdiv(311,296, 16 x 4,096) = 80 tokens, so
    # 4 attention layers x 4,160 tokens (52 blocks) x K+V x 8 x 128 x bf16
    kv = 4 * 4160 * 2 * 8 * 128 * 2
    state = 28 * (3 * 8192 * 2 + 8192 * 16 * 2)  # vLLM: conv (4 - 1) x 8192 + SSM 8192 x 16, in bf16
    assert row["seq_bytes_per_gpu"] == kv + state
