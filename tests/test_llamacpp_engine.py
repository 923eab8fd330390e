"""The llama.cpp profile: what issue #10 asks to see, with its arithmetic. The rules themselves
are checked live against llama.cpp by conformance/llamacpp."""

from __future__ import annotations

import json

import pytest

from kvcalc.engines import LlamaCpp
from kvcalc.errors import InputError
from kvcalc.core.formulas import kv_cache
from kvcalc.models.model import Model
from kvcalc.models.registry import load_model

from .conftest import HF

MiB = 1024**2
ONE_SLOT = LlamaCpp(n_parallel=1, kv_unified=False)


def test_llama_31_8b_at_16k_is_what_llama_cpp_logs(run_cli):
    code, out, _ = run_cli(str(HF / "Llama-3.1-8B.json"), "--seq", "16384", "--engine", "llama.cpp",
                           "--kv-dtype", "f16", "-f", "json")
    doc = json.loads(out)
    # 32 layers x 16,384 cells x (K + V) x 8 KV heads x 128 x 2 B
    assert doc["kv_cache_bytes"] == 32 * 16384 * 2 * 8 * 128 * 2 == 2_147_483_648
    assert doc["cells"] == 16384 and doc["kv_dtype"] == doc["v_dtype"] == "fp16"
    assert doc["llama_cpp"]["log"] == [
        "llama_kv_cache: size = 2048.00 MiB ( 16384 cells,  32 layers,  4/1 seqs), "
        "K (f16): 1024.00 MiB, V (f16): 1024.00 MiB"]


def test_q8_0_costs_34_bytes_per_32_elements():
    qwen3_235b = Model(name="qwen3-235b-a22b", n_layers=94, n_heads=64, n_kv_heads=4, head_dim=128,
                       hidden_size=4096, intermediate_size=12288, vocab_size=151936, dtype="bf16", max_context=40960)
    c = kv_cache(qwen3_235b, 16384, kv_dtype="q8_0", v_dtype="q8_0", engine=ONE_SLOT)
    # 94 layers x 4 KV heads x 128 x 16,384 cells x (K + V) x 34/32 B = 1598.00 MiB
    assert c.total_bytes == 94 * 4 * 128 * 16384 * 2 * 34 // 32 == 1598 * MiB
    assert kv_cache(qwen3_235b, 16384, kv_dtype="q4_0", engine=ONE_SLOT).total_bytes == 1598 * MiB * 18 // 34


@pytest.mark.parametrize("n_ctx, slots, unified, cells", [
    (4096, 3, False, 4608),  # pad(4096 / 3 = 1365, 256) = 1536 a stream, x 3
    (1024, 3, False, 1536),  # pad(341, 256) = 512, x 3
    (4096, 3, True, 4096),  # one stream of n_ctx
    (5000, 1, False, 5120),  # pad(5000, 256)
    (5000, 4, True, 5120),
])
def test_cells_are_padded_per_stream(n_ctx, slots, unified, cells):
    c = kv_cache(load_model("llama3-8b"), n_ctx, engine=LlamaCpp(n_parallel=slots, kv_unified=unified))
    assert c.groups[0].tokens == cells


def test_np_3_on_the_command_line(run_cli):
    _, out, _ = run_cli("llama3-8b", "--seq", "4096", "-e", "llama.cpp", "-np", "3", "-f", "json")
    doc = json.loads(out)
    assert doc["cells"] == 4608 and "(  1536 cells,  32 layers,  3/3 seqs)" in doc["llama_cpp"]["log"][0]


def test_deepseek_v3_mla_is_one_576_element_k_row():
    c = kv_cache(load_model("deepseek-v3"), 16384, engine=ONE_SLOT)
    # this llama.cpp stores MLA as one K row of kv_lora_rank 512 + rope 64, no V (a view of K)
    assert c.total_bytes == 61 * 16384 * 576 * 2 == 1098 * MiB and c.v_bytes == 0


def test_gemma3_sliding_layers_get_their_own_small_cache():
    m = load_model("gemma-3-4b")  # 29 sliding layers (window 1024) + 5 full
    c = kv_cache(m, 4096, engine=ONE_SLOT)
    groups = {g.kind: g.tokens for g in c.groups}
    assert groups == {"full": 4096, "sliding": 1536}  # pad(min(4096, 1024 x 1 + 512), 256)
    full = kv_cache(m, 4096, engine=LlamaCpp(n_parallel=1, kv_unified=False, swa_full=True))
    assert {g.kind: g.tokens for g in full.groups} == {"full": 4096, "sliding": 4096}
    # llama-server's auto: 4 slots in one buffer: pad(min(4096, 1024 x 4 + 512), 256) = 4096
    assert {g.kind: g.tokens for g in kv_cache(m, 4096, engine="llama.cpp").groups}["sliding"] == 4096


def test_windows_llama_cpp_ignores_are_full():
    c = kv_cache(load_model("mistral-7b"), 8192, engine=ONE_SLOT)  # Mistral-7B-v0.1's 4096 window
    assert [(g.kind, g.tokens) for g in c.groups] == [("full", 8192)]


def test_recurrent_state_is_per_slot_in_f32():
    c = kv_cache(load_model("jamba"), 4096, engine=LlamaCpp(n_parallel=2, kv_unified=False))
    # 28 Mamba layers x 2 slots x (R of 3 x 8192 + S of 8192 x 16) x 4 B
    assert c.state_bytes == 28 * 2 * (3 * 8192 + 8192 * 16) * 4


def test_what_llama_cpp_refuses(run_cli):
    with pytest.raises(InputError, match="quantized V cache .q4_0. requires flash attention"):
        kv_cache(load_model("llama3-8b"), 4096, kv_dtype="q4_0", engine=LlamaCpp(flash_attn="off"))
    with pytest.raises(InputError, match="does not support different K .q8_0. and V .f16."):
        kv_cache(load_model("deepseek-v3"), 4096, kv_dtype="q8_0", v_dtype="f16", engine="llama.cpp")
    code, _, err = run_cli("llama3-8b", "--seq", "4k", "-e", "llama.cpp", "-ctv", "q4_0", "-fa", "off")
    assert code == 2 and "requires flash attention" in err
    code, _, err = run_cli("llama3-8b", "--seq", "4k", "-e", "llama.cpp", "--batch", "2")
    assert code == 2 and "--parallel" in err
    code, _, err = run_cli("llama3-8b", "--seq", "4k", "-np", "2")
    assert code == 2 and "add --engine llama.cpp" in err


def test_k_and_v_types_apart():
    c = kv_cache(load_model("llama3-8b"), 4096, kv_dtype="q8_0", v_dtype="f16", engine=ONE_SLOT)
    # 32 layers x 4,096 cells x 8 KV heads x 128: K at 34/32 B an element, V at 2 B
    assert c.k_bytes == 32 * 4096 * 8 * 128 * 34 // 32 and c.v_bytes == 32 * 4096 * 8 * 128 * 2
    assert (c.kv_dtype, c.v_dtype) == ("q8_0", "fp16")
