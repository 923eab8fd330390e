"""Hugging Face config.json files: 42 published configs (tests/fixtures/hf, sources in
SOURCES.md) sized exactly, the tricky families, and bad files."""

from __future__ import annotations

import json

import pytest

from kvcalc.errors import ConfigError
from kvcalc.core.formulas import kv_cache
from kvcalc.models.hf import from_hf_dict, load_hf_config

from .conftest import HF

S = 32768  # tokens
B = 2  # bytes per bf16 element

# (fixture, exact bf16 KV bytes at 32,768 tokens, batch 1): the arithmetic, written out.
# Full/sliding layer per token: 2 (K, V) x KV heads x head_dim x 2 B; MLA: latent x 2 B.
EXPECTED = [
    ("DeepSeek-V2-Lite", 27 * (512 + 64) * B * S),
    ("DeepSeek-V3", 61 * (512 + 64) * B * S),  # 70,272 B per token
    ("DeepSeek-R1", 61 * (512 + 64) * B * S),  # DeepSeek-V3's architecture
    ("Jamba-v0.1", 4 * 2 * 8 * 128 * B * S),  # attention on 4 of 32 layers
    ("Llama-2-13b", 40 * 2 * 40 * 128 * B * S),
    ("Llama-2-70b", 80 * 2 * 8 * 128 * B * S),
    ("Llama-2-7b", 32 * 2 * 32 * 128 * B * S),
    ("Llama-3.1-405B", 126 * 2 * 8 * 128 * B * S),
    ("Llama-3.1-70B", 80 * 2 * 8 * 128 * B * S),
    ("Llama-3.1-8B", 32 * 2 * 8 * 128 * B * S),
    ("Llama-3.2-1B-Instruct", 16 * 2 * 8 * 64 * B * S),
    ("Llama-3.2-3B", 28 * 2 * 8 * 128 * B * S),
    ("Meta-Llama-3-70B", 80 * 2 * 8 * 128 * B * S),
    ("Meta-Llama-3-8B", 32 * 2 * 8 * 128 * B * S),
    ("Mistral-7B-Instruct-v0.3", 32 * 2 * 8 * 128 * B * S),  # sliding_window: null
    ("Mistral-7B-v0.1", 32 * 2 * 8 * 128 * B * 4096),  # every layer windowed at 4096
    ("Mistral-Nemo-Base-2407", 40 * 2 * 8 * 128 * B * S),  # head_dim 128, not 5120 / 32 = 160
    ("Mixtral-8x22B-v0.1", 56 * 2 * 8 * 128 * B * S),
    ("Mixtral-8x7B-v0.1", 32 * 2 * 8 * 128 * B * S),
    ("Nemotron-H-56B-Base-8K", 10 * 2 * 8 * 128 * B * S),  # 10 '*' layers of 118
    ("NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", 6 * 2 * 2 * 128 * B * S),  # 6 '*' layers of 52
    ("Qwen3-Next-80B-A3B-Thinking", 12 * 2 * 2 * 256 * B * S),  # every 4th layer attends; the rest are gated DeltaNet
    # 12 global (NoPE) layers hold every token, 36 chunked layers one chunk of 8192
    ("Llama-4-Scout-17B-16E-Instruct.abridged", 12 * 2 * 8 * 128 * B * S + 36 * 2 * 8 * 128 * B * 8192),
    ("Phi-3-mini-4k-instruct", 32 * 2 * 32 * 96 * B * 2047),  # window 2047 on every layer
    ("Qwen2-0.5B", 24 * 2 * 2 * 64 * B * S),
    ("Qwen2-0.5B-Instruct", 24 * 2 * 2 * 64 * B * S),
    ("Qwen2-1.5B-Instruct", 28 * 2 * 2 * 128 * B * S),
    ("Qwen2-72B", 80 * 2 * 8 * 128 * B * S),  # use_sliding_window false: no window
    ("Qwen2-7B", 28 * 2 * 4 * 128 * B * S),
    ("Qwen2.5-72B-Instruct", 80 * 2 * 8 * 128 * B * S),
    ("Qwen2.5-7B", 28 * 2 * 4 * 128 * B * S),
    ("Qwen3-0.6B", 28 * 2 * 8 * 128 * B * S),
    ("Qwen3-30B-A3B", 48 * 2 * 4 * 128 * B * S),
    ("Qwen3-32B", 64 * 2 * 8 * 128 * B * S),
    ("Qwen3-8B", 36 * 2 * 8 * 128 * B * S),
    ("falcon-40b", 60 * 2 * 8 * 64 * B * S),  # multi_query + new_decoder_architecture: 8 KV heads
    ("falcon-7b", 32 * 2 * 1 * 64 * B * S),  # multi_query: 1 KV head
    ("gemma-2-27b", 2 * 16 * 128 * B * (23 * 4096 + 23 * S)),  # even layers local, odd global
    ("gemma-2-9b", 2 * 8 * 256 * B * (21 * 4096 + 21 * S)),
    ("gemma-3-12b-it", 2 * 8 * 256 * B * (40 * 1024 + 8 * S)),  # 5 local : 1 global
    ("gemma-3-1b-it", 2 * 1 * 256 * B * (22 * 512 + 4 * S)),
    ("gemma-3-4b-it", 2 * 4 * 256 * B * (29 * 1024 + 5 * S)),
    ("gemma-7b", 28 * 2 * 16 * 256 * B * S),
    ("gpt-neox-20b", 44 * 2 * 64 * 96 * B * S),
    ("gpt-oss-20b", 2 * 8 * 64 * B * (12 * 128 + 12 * S)),  # head_dim 64, not 2880 / 64 = 45
    ("gpt-oss-120b", 2 * 8 * 64 * B * (18 * 128 + 18 * S)),  # 36 layers, alternating
    ("gpt2", 12 * 2 * 12 * 64 * B * S),
    ("Llama-3.1-8B-Instruct", 32 * 2 * 8 * 128 * B * S),
    ("Llama-3.3-70B-Instruct", 80 * 2 * 8 * 128 * B * S),
    ("Qwen2-7B-Instruct", 28 * 2 * 4 * 128 * B * S),  # use_sliding_window false
    ("Qwen2.5-3B-Instruct", 36 * 2 * 2 * 128 * B * S),
    ("Qwen3-235B-A22B", 94 * 2 * 4 * 128 * B * S),
    ("Qwen3-30B-A3B-Instruct-2507", 48 * 2 * 4 * 128 * B * S),
    ("gemma-2-9b-it", 2 * 8 * 256 * B * (21 * 4096 + 21 * S)),
]


def test_every_fixture_is_sized():
    assert {p.stem for p in HF.glob("*.json")} == {name for name, _ in EXPECTED}
    assert len(EXPECTED) >= 30


@pytest.mark.parametrize("fixture, expected", EXPECTED, ids=[e[0] for e in EXPECTED])
def test_exact_bf16_bytes_at_32k(fixture, expected):
    model = load_hf_config(HF / f"{fixture}.json")
    assert kv_cache(model, S, kv_dtype="bf16", engine="exact").total_bytes == expected


def test_gemma3_4b_takes_transformers_defaults():
    m = load_hf_config(HF / "gemma-3-4b-it.json")
    assert (m.n_layers, m.n_heads, m.n_kv_heads, m.head_dim) == (34, 8, 4, 256)
    assert (m.sliding_window, m.layer_kinds.count("S"), m.layer_kinds.count("F")) == (1024, 29, 5)
    assert m.layer_kinds[:6] == "SSSSSF"  # (i + 1) % 6 == 0 is global
    assert "num_attention_heads absent" in m.notes


def test_gpt_oss_explicit_head_dim_and_layer_types():
    m = load_hf_config(HF / "gpt-oss-20b.json")
    assert m.head_dim == 64 and m.hidden_size // m.n_heads == 45
    assert m.layer_kinds == "SF" * 12 and m.sliding_window == 128
    assert m.dtype == "bf16"  # no torch_dtype in the file


def test_deepseek_v3_latent():
    m = load_hf_config(HF / "DeepSeek-V3.json")
    assert kv_cache(m, 1, kv_dtype="bf16").bytes_per_token == 61 * 576 * 2 == 70_272
    assert m.moe.n_experts == 256 and m.moe.first_dense_layers == 3


def test_falcon_kv_heads_rules():
    assert load_hf_config(HF / "falcon-40b.json").n_kv_heads == 8
    assert load_hf_config(HF / "falcon-7b.json").n_kv_heads == 1  # num_kv_heads 71 is ignored


def test_qwen_use_sliding_window():
    base = json.loads((HF / "Qwen2-7B.json").read_text())
    assert load_hf_config(HF / "Qwen2-7B.json").sliding_window is None
    windowed = from_hf_dict({**base, "use_sliding_window": True, "sliding_window": 4096, "max_window_layers": 20}, "x")
    # transformers: layers >= max_window_layers slide
    assert windowed.layer_kinds == "F" * 20 + "S" * 8


def test_missing_kv_heads_means_mha():
    base = json.loads((HF / "Llama-2-7b.json").read_text())
    del base["num_key_value_heads"]
    assert from_hf_dict(base, "x").n_kv_heads == 32


def test_unknown_model_type_uses_common_keys():
    base = json.loads((HF / "Llama-3.1-8B.json").read_text())
    m = from_hf_dict({**base, "model_type": "brand_new"}, "x")
    assert m.n_kv_heads == 8 and "no kvcalc mapping" in m.notes


BAD = [
    ("[1, 2]", "expected a JSON object, got list"),
    ("{not json", "not valid JSON"),
    ('{"model_type": "llama", "num_hidden_layers": 2}', "num_attention_heads: missing"),
    ('{"model_type": "brand_new", "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 10, "max_position_embeddings": 8}',
     "num_hidden_layers: missing"),
    ('{"model_type": "llama", "num_hidden_layers": 2, "num_attention_heads": 0, "hidden_size": 64, "vocab_size": 10}',
     "num_attention_heads: must be a whole number > 0, got 0"),
    ('{"model_type": "llama", "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 3, "hidden_size": 64, "vocab_size": 10}',
     "num_key_value_heads: 3 does not divide num_attention_heads 8"),
    ('{"model_type": "mistral", "num_hidden_layers": 2, "num_attention_heads": 8, "hidden_size": 64, "vocab_size": 10, "max_position_embeddings": 8, "sliding_window": 0}',
     "sliding_window: must be a whole number > 0, got 0"),
    ('{"model_type": "mistral", "num_hidden_layers": 2, "num_attention_heads": 8, "hidden_size": 64, "vocab_size": 10, "max_position_embeddings": 8, "sliding_window": -4}',
     "sliding_window: must be a whole number > 0, got -4"),
    ('{"model_type": "llama", "num_hidden_layers": 2, "num_attention_heads": 7, "hidden_size": 64, "vocab_size": 10, "max_position_embeddings": 8}',
     "head_dim: absent, and hidden_size 64 is not a multiple of 7 heads"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_bad_config_json(tmp_path, text, message):
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_hf_config(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)
