"""Weights as a GGUF holds them: llama.cpp's quantizer (kvcalc.models.gguf_quant) over the tensor
list of a config (kvcalc.models.gguf_tensors), against published files' sizes."""

import json
from pathlib import Path

import pytest

from kvcalc.errors import InputError
from kvcalc.models.gguf_quant import quantize, tensor_bytes
from kvcalc.models.gguf_tensors import config_tensors, from_config
from kvcalc.models.registry import load_model

REAL = json.loads((Path(__file__).parent / "fixtures" / "gguf" / "real_sizes.json").read_text())["files"]


@pytest.mark.parametrize("case", REAL, ids=lambda c: f"{c['model']}-{c['file_type']}-{c['bytes']}")
def test_within_one_percent_of_published_files(case):
    w = from_config(load_model(case["model"]), case["file_type"], case["imatrix"])
    data = sum(-(-t.n_bytes // 32) * 32 for t in w.tensors)  # each tensor padded to 32 B in the file
    assert abs(w.total_bytes - case["bytes"]) / case["bytes"] < 0.01
    # byte-exact: what the file holds beyond the tensor data is its header (the tokenizer's 7.84 MB
    # for Llama 3, 5.97 MB for Qwen 3)
    assert case["bytes"] - data - case.get("unlisted_bytes", 0) == case["header_bytes"]


def test_block_sizes():
    # 4096 x 14336 at q4_K: 14336 rows x 16 blocks x 144 B
    assert tensor_bytes((4096, 14336), "Q4_K") == 14336 * 16 * 144
    assert tensor_bytes((4096, 1024), "Q8_0") == 1024 * 128 * 34
    assert tensor_bytes((4096,), "F32") == 4096 * 4


def test_q4_k_m_rules_llama():
    """Q4_K_M: attn_v and ffn_down at Q6_K where use_more_bits (first and last eighth, every
    third between), the head at Q6_K, everything else Q4_K (llama-quant.cpp)."""
    w = from_config(load_model("llama3.1-8b"), "q4_k_m")
    types = {t.name: t.ggml_type for t in w.tensors}
    assert types["output.weight"] == "Q6_K"
    assert types["token_embd.weight"] == "Q4_K"
    assert types["blk.0.attn_v.weight"] == "Q6_K" and types["blk.4.attn_v.weight"] == "Q4_K"
    assert types["blk.6.ffn_down.weight"] == "Q6_K"  # (6 - 4) % 3 == 2
    assert types["blk.31.ffn_down.weight"] == "Q6_K" and types["blk.10.ffn_down.weight"] == "Q4_K"
    assert types["blk.0.attn_norm.weight"] == "F32"
    assert sum(t == "Q6_K" for n, t in types.items() if n.endswith("attn_v.weight")) == 16


def test_tied_embedding_takes_the_heads_type():
    w = from_config(load_model("llama3.2-1b"), "q4_k_m")
    types = {t.name: t.ggml_type for t in w.tensors}
    assert "output.weight" not in types and types["token_embd.weight"] == "Q6_K"


def test_mixtral_eight_experts():
    """n_expert == 8: attn_v and attn_k at Q8_0 (llama-quant.cpp's Mixtral rules)."""
    w = from_config(load_model("mixtral-8x7b"), "q4_k_m")
    types = {t.name: t.ggml_type for t in w.tensors}
    assert types["blk.3.attn_v.weight"] == "Q8_0" and types["blk.3.attn_k.weight"] == "Q8_0"
    assert types["blk.3.attn_output.weight"] == "Q5_K"


def test_imatrix_moves_iq4_xs_and_q4_0():
    m = load_model("llama3.1-8b")
    plain = {t.name: t.ggml_type for t in from_config(m, "iq4_xs").tensors}
    with_im = {t.name: t.ggml_type for t in from_config(m, "iq4_xs", imatrix=True).tensors}
    assert plain["blk.0.ffn_down.weight"] == "Q5_K" and with_im["blk.0.ffn_down.weight"] == "IQ4_XS"
    assert {t.name: t.ggml_type for t in from_config(m, "q4_0", imatrix=True).tensors}["blk.0.ffn_down.weight"] == "Q4_1"


def test_fallback_when_the_block_does_not_divide_the_row():
    # a 2880-wide row (gpt-oss) is not a multiple of 256: Q4_K falls back to Q5_0
    (t,) = quantize([("blk.0.attn_q.weight", (2880, 4096))], "q4_k_m", "llama", 1, 64, 8)
    assert t.ggml_type == "Q5_0"


@pytest.mark.parametrize("name, message", [
    ("deepseek-v3", "does not list the GGUF tensors of deepseek_v3"),
    ("falcon-7b", "does not list the GGUF tensors of falcon"),
])
def test_refused_families(name, message):
    with pytest.raises(InputError, match=message):
        config_tensors(load_model(name))


def test_unknown_file_type():
    with pytest.raises(InputError, match="unknown llama.cpp file type 'q4_x'"):
        from_config(load_model("llama3.1-8b"), "q4_x")
