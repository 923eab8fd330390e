"""Parameter counts from the architecture against the published ones (within 0.1%)."""

from __future__ import annotations

import pytest

from kvcalc.errors import InputError
from kvcalc.models.params import UNCOUNTED, count_params
from kvcalc.models.registry import load_all, load_model

# Published totals: the safetensors parameter count shown on each model's Hugging Face page
# (the first four are the figures of issue #4). Models not listed have no exact published count
# kvcalc could check (e.g. Gemma-3 4B/12B are published with their vision tower).
PUBLISHED = {
    "llama2-70b": 68_976_648_192,
    "llama3-8b": 8_030_261_248,
    "mistral-7b": 7_241_732_096,
    "mixtral-8x7b": 46_702_792_704,
    "llama2-7b": 6_738_415_616,
    "llama2-13b": 13_015_864_320,
    "llama3-70b": 70_553_706_496,
    "llama3.1-8b": 8_030_261_248,
    "llama3.1-70b": 70_553_706_496,
    "llama3.1-405b": 405_853_388_800,
    "llama3.2-1b": 1_235_814_400,
    "llama3.2-3b": 3_212_749_824,
    "mistral-7b-v0.3": 7_248_023_552,
    "mistral-nemo": 12_247_782_400,
    "mixtral-8x22b": 140_620_634_112,
    "qwen2-0.5b": 494_032_768,
    "qwen2-1.5b": 1_543_714_304,
    "qwen2-7b": 7_615_616_512,
    "qwen2-72b": 72_706_203_648,
    "qwen3-8b": 8_190_735_360,
    "gemma-7b": 8_537_680_896,
    "gemma-2-9b": 9_241_705_984,
    "gemma-2-27b": 27_227_128_320,
    "phi-3-mini": 3_821_079_552,
    "falcon-7b": 6_921_720_704,
    "gpt-oss-20b": 20_914_757_184,
    "deepseek-v3": 671_026_419_200,  # main model, without the 14B multi-token-prediction module
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_count_within_0_1_percent_of_published(name):
    total = count_params(load_model(name)).total
    assert abs(total - PUBLISHED[name]) <= PUBLISHED[name] // 1000, f"{name}: {total:,} vs {PUBLISHED[name]:,}"


def test_llama2_70b_by_hand():
    p = count_params(load_model("llama2-70b"))
    # embedding and untied head: 32,000 x 8,192 = 262,144,000 each
    assert p.embedding == p.head == 262_144_000
    # one layer: q, o 8,192^2 each + k, v 8,192 x 1,024 each (8 KV heads of 128)
    #   + MLP 3 x 8,192 x 28,672 + two RMSNorms 2 x 8,192 = 855,654,400
    assert p.layers[0] == 2 * 8192**2 + 2 * 8192 * 1024 + 3 * 8192 * 28672 + 2 * 8192 == 855_654_400
    # 80 layers + embedding + head + final norm
    assert p.total == 80 * 855_654_400 + 2 * 262_144_000 + 8192 == 68_976_648_192


def test_moe_active_parameters():
    p = count_params(load_model("mixtral-8x7b"))
    # per layer, 6 of the 8 experts (3 x 4,096 x 14,336 each) are idle for one token
    assert p.total - p.active == 32 * 6 * 3 * 4096 * 14336


def test_tied_embeddings_have_no_head():
    p = count_params(load_model("llama3.2-1b"))
    assert p.head == 0 and p.embedding == 128256 * 2048


@pytest.mark.parametrize("name", ["jamba-v0.1", "nemotron-h-56b"])
def test_mamba_hybrids_cannot_be_counted(name):
    with pytest.raises(InputError, match="--weights-bytes"):
        count_params(load_model(name))


@pytest.mark.parametrize("model", [m for m in load_all() if not set("NRH") & set(m.layer_kinds) and m.family not in UNCOUNTED],
                         ids=lambda m: m.name)
def test_every_countable_model_is_positive_and_dense_active_equals_total(model):
    p = count_params(model)
    assert p.total > 0 and (p.active == p.total) == (model.moe is None)
