"""Conformance for the families of families.py: transformers 5.23.0 builds each tiny model, runs
a prefill and one decode step, and every tensor of its cache is counted (K, V, recurrent state,
MiniMax's linear_cache, and the storage behind them); kvcalc's ``hf`` engine must give the same
bytes, from the config as written and from the config as transformers saves it (to_dict()). The
REFUSED configs: transformers fails on them, or reads them differently from vLLM, and kvcalc
refuses each by name.

Run in a venv of its own (see conformance/README.md):  python -m pytest conformance/transformers
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch  # a missing runtime fails the suite, never skips it
import transformers

from kvcalc.core.formulas import kv_cache
from kvcalc.errors import KvcalcError
from kvcalc.models.hf import from_hf_dict

from .cases import BATCH, PREFILL
from .families import FAMILIES, REFUSED, VOCAB
from .test_transformers import TORCH_DTYPES, count

RUN = [c for c in FAMILIES if c.name not in REFUSED]
# What transformers held, case by case: the main suite checks kvcalc against it (tests/test_families.py).
# KVCALC_UPDATE_GOLDEN=1 rewrites it from this run.
GOLDENS = Path(__file__).with_name(f"goldens-families-{transformers.__version__}.json")
_RECORDED: dict[str, dict] = {}
REFUSE = [c for c in FAMILIES if c.name in REFUSED]


def _run(config: dict):
    torch.manual_seed(0)
    cfg = transformers.AutoConfig.for_model(**config)
    dtype = TORCH_DTYPES[from_hf_dict(config, "case").dtype]
    net = transformers.AutoModelForCausalLM.from_config(cfg, dtype=dtype).eval()
    ids = torch.randint(3, VOCAB, (BATCH, PREFILL + 1))
    key = "past_key_values" if hasattr(net.forward, "__wrapped__") or "past_key_values" in \
        net.forward.__code__.co_varnames else "cache_params"  # Mamba and Mamba-2 name it cache_params
    with torch.no_grad():
        out = net(input_ids=ids[:, :PREFILL], use_cache=True)
        cache = out[key] if key in out else out["cache_params"]
        prefill = count(cache)
        out = net(input_ids=ids[:, PREFILL:], **{("cache_params" if "cache_params" in out else key): cache},
                  use_cache=True)
        decode = count(out["cache_params"] if "cache_params" in out else out[key])
    return cfg, prefill, decode


def _check(model, prefill, decode):
    want = kv_cache(model, PREFILL, BATCH, engine="hf")
    assert (prefill["k"], prefill["v"], prefill["state"]) == (want.k_bytes, want.v_bytes, want.state_bytes)
    assert prefill["storage"] == want.peak_bytes  # sliding and chunked layers pin the whole prefill
    want = kv_cache(model, PREFILL + 1, BATCH, engine="hf")
    assert (decode["k"], decode["v"], decode["state"]) == (want.k_bytes, want.v_bytes, want.state_bytes)
    assert decode["storage"] == want.storage_bytes


@pytest.mark.parametrize("case", RUN, ids=[c.name for c in RUN])
def test_each_family_allocates_what_kvcalc_says(case):
    cfg, prefill, decode = _run(case.config)
    assert prefill["k"] + prefill["state"] > 0
    _RECORDED[case.name] = {"config": case.config, "prefill": prefill, "decode": decode}
    if os.environ.get("KVCALC_UPDATE_GOLDEN") and len(_RECORDED) == len(RUN):
        GOLDENS.write_text(json.dumps({"transformers": transformers.__version__, "torch": torch.__version__,
                                       "batch": BATCH, "prefill_tokens": PREFILL, "cases": _RECORDED},
                                      indent=1, sort_keys=True) + "\n")
    _check(from_hf_dict(case.config, case.name), prefill, decode)
    saved = cfg.to_dict()  # the config as transformers writes config.json
    _check(from_hf_dict(saved, case.name + " (saved)"), prefill, decode)


@pytest.mark.parametrize("case", REFUSE, ids=[c.name for c in REFUSE])
def test_what_transformers_cannot_run_or_reads_apart_kvcalc_refuses_by_name(case):
    with pytest.raises(KvcalcError) as err:
        kv_cache(from_hf_dict(case.config, case.name), PREFILL, BATCH, engine="hf")
    assert any(key in str(err.value) for key in ("attention_chunk_size", "attention layer", "attn_type_list"))
    if case.name != "minimax_attn_type_list":
        with pytest.raises(Exception):
            _run(case.config)
