"""Conformance: transformers really builds each tiny model, runs a prefill and one decode step,
and every tensor of the cache it returns is counted; kvcalc's ``hf`` engine must give the same
bytes (K, V and recurrent state apart), and the same storage behind them.

Run in a venv of its own (see conformance/README.md):  python -m pytest conformance/transformers
"""

from __future__ import annotations

import pytest
import torch  # a missing runtime fails the suite, never skips it
import transformers

from kvcalc.engines.transformers import TRANSFORMERS_VERSION  # noqa: E402
from kvcalc.core.formulas import kv_cache  # noqa: E402
from kvcalc.models.hf import from_hf_dict  # noqa: E402

from .cases import BATCH, PREFILL, cases  # noqa: E402

TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
CASES = cases()


def test_the_pinned_transformers_is_the_one_the_profile_describes():
    assert transformers.__version__ == TRANSFORMERS_VERSION


def count(cache) -> dict[str, int]:
    """Logical bytes of K, V and state tensors, and the storage behind them (each storage once)."""
    out = {"k": 0, "v": 0, "state": 0, "storage": 0}
    seen: set[int] = set()

    def add(kind: str, t) -> None:
        out[kind] += t.numel() * t.element_size()
        storage = t.untyped_storage()
        if storage.data_ptr() not in seen:
            seen.add(storage.data_ptr())
            out["storage"] += storage.nbytes()

    for layer in cache.layers:
        for attr, kind in (("keys", "k"), ("values", "v")):
            t = getattr(layer, attr, None)
            if isinstance(t, torch.Tensor) and t.numel():
                add(kind, t)
        for attr in ("conv_states", "recurrent_states"):
            for t in (getattr(layer, attr, None) or {}).values():
                if isinstance(t, torch.Tensor):
                    add("state", t)
    for t in getattr(cache, "linear_cache", None) or ():  # MiniMax's lightning states, kept on the cache
        if isinstance(t, torch.Tensor):
            add("state", t)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_prefill_and_decode_allocate_what_kvcalc_says(case):
    model = from_hf_dict(case.config, case.name)  # kvcalc's own config.json mapper
    torch.manual_seed(0)
    config = transformers.AutoConfig.for_model(**case.config)
    net = transformers.AutoModelForCausalLM.from_config(config, dtype=TORCH_DTYPES[model.dtype]).eval()
    ids = torch.randint(0, 256, (BATCH, PREFILL + 1))
    with torch.no_grad():
        out = net(input_ids=ids[:, :PREFILL], use_cache=True)
        prefill = count(out.past_key_values)
        out = net(input_ids=ids[:, PREFILL:], past_key_values=out.past_key_values, use_cache=True)
        decode = count(out.past_key_values)

    want = kv_cache(model, PREFILL, BATCH, engine="hf")
    assert (prefill["k"], prefill["v"]) == (want.k_bytes, want.v_bytes)
    assert prefill["state"] == want.state_bytes
    assert prefill["storage"] == want.peak_bytes  # sliding layers still pin the whole prefill

    want = kv_cache(model, PREFILL + 1, BATCH, engine="hf")
    assert (decode["k"], decode["v"]) == (want.k_bytes, want.v_bytes)
    assert decode["state"] == want.state_bytes
    assert decode["storage"] == want.storage_bytes
