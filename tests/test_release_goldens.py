"""kvcalc's versioned engines against goldens recorded from older releases of the runtimes (the
newest release of each stays live in conformance/): every row a release's own code produced,
checked with --engine NAME@RELEASE.

- transformers 4.57.6 and 5.17.0: conformance/transformers/make_goldens.py builds each tiny model
  of conformance/transformers/cases.py, runs a prefill and one decode step and counts the cache.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kvcalc.errors import InputError
from kvcalc.formulas import kv_cache
from kvcalc.hf import from_hf_dict

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"
TRANSFORMERS = {"4.57.6": "goldens-4.57.json"}


def _transformers_rows():
    for version, name in TRANSFORMERS.items():
        doc = json.loads((CONFORMANCE / "transformers" / name).read_text())
        assert doc["header"]["transformers"] == version
        for row in doc["rows"]:
            yield pytest.param(version, row, id=f"{version}-{row['id']}")


@pytest.mark.parametrize("version, row", list(_transformers_rows()))
def test_transformers_release_allocates_what_kvcalc_says(version, row):
    engine = f"hf@{version}"
    if row["status"] != "counted":  # transformers itself could not run it on a CPU
        if row["error"]["stage"] == "config":  # a model type the release does not know: kvcalc refuses it
            with pytest.raises(InputError, match="has no"):
                kv_cache(from_hf_dict(row["config"], row["id"]), row["prefill"], row["batch"], engine=engine)
        return
    model = from_hf_dict(row["config"], row["id"])
    prefill, decode = row["after_prefill"], row["after_decode"]
    want = kv_cache(model, row["prefill"], row["batch"], engine=engine)
    assert (prefill["k"], prefill["v"], prefill["state"]) == (want.k_bytes, want.v_bytes, want.state_bytes)
    assert prefill["storage"] == want.peak_bytes  # sliding layers still pin the whole prefill
    want = kv_cache(model, row["prefill"] + 1, row["batch"], engine=engine)
    assert (decode["k"], decode["v"], decode["state"]) == (want.k_bytes, want.v_bytes, want.state_bytes)
    assert decode["storage"] == want.storage_bytes


def test_transformers_goldens_count_every_release():
    counted = {v: sum(r.values[1]["status"] == "counted" for r in _transformers_rows() if r.values[0] == v)
               for v in TRANSFORMERS}
    assert all(n >= 40 for n in counted.values()), counted
