"""kvcalc's port of llama.cpp's quantizer (kvcalc.models.gguf_quant) against the quantizer itself:
conformance/llamacpp/quant/goldens-0.3.36.json holds the type and bytes llama_model_quantize (of
llama-cpp-python 0.3.36, no imatrix) gave every tensor of real-shaped models for each file type
(conformance/llamacpp/quant/make_quant_goldens.py made it). Every tensor must match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kvcalc.models.config import validate
from kvcalc.models.gguf_tensors import from_config

GOLDENS = json.loads((Path(__file__).resolve().parents[1] / "conformance" / "llamacpp" / "quant"
                      / "goldens-0.3.36.json").read_text())
FAMILY = {"llama": "llama", "qwen3moe": "qwen3_moe", "qwen3": "qwen3", "qwen2": "qwen2"}
UNLISTED = {"rope_freqs.weight"}  # Llama 3's rope factors: kvcalc's model does not carry rope_scaling


def _model(spec: dict):
    data = {"name": spec["name"], "family": FAMILY[spec["arch"]], "n_layers": spec["n_layer"],
            "n_heads": spec["n_head"], "n_kv_heads": spec["n_head_kv"], "head_dim": spec["head_dim"],
            "hidden_size": spec["n_embd"], "intermediate_size": spec.get("n_ff") or 4 * spec["n_embd"],
            "vocab_size": spec["vocab"], "dtype": "bf16", "tie_embeddings": bool(spec.get("tied")),
            "source": {"url": "conformance/llamacpp/quant"}}
    if spec.get("n_expert"):
        data["moe"] = {"n_experts": spec["n_expert"], "n_experts_per_tok": spec["n_expert_used"],
                       "expert_intermediate_size": spec["n_ff_exp"]}
    return validate(data, "goldens")


CASES = [(name, ft) for name, m in GOLDENS["models"].items() for ft in m["file_types"]]


@pytest.mark.parametrize("name, ftype", CASES)
def test_every_tensor_as_llama_quantize_types_it(name, ftype):
    model = GOLDENS["models"][name]
    golden = {t["name"]: (t["type"], t["n_bytes"]) for t in model["file_types"][ftype]["tensors"]
              if t["name"] not in UNLISTED}
    ours = {t.name: (t.ggml_type, t.n_bytes) for t in from_config(_model(model["spec"]), ftype.lower()).tensors}
    assert ours == golden


def test_the_goldens_cover_the_file_types_people_use():
    dense, moe = GOLDENS["models"]["llama-3.2-1b"], GOLDENS["models"]["qwen3moe-8l"]
    assert {"Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "IQ4_XS", "Q3_K_M", "Q2_K", "F16", "BF16"} <= set(dense["file_types"])
    assert {"Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "IQ4_XS"} <= set(moe["file_types"])  # its F16, BF16: dry runs
