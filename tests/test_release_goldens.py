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

from kvcalc.engines import get_engine
from kvcalc.engines.llamacpp import LLAMA_CPP_PYTHON
from kvcalc.errors import InputError
from kvcalc.core.formulas import kv_cache
from kvcalc.models.hf import from_hf_dict

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"
TRANSFORMERS = {"4.57.6": "goldens-4.57.json", "5.17.0": "goldens-5.17.0.json"}


def _transformers_rows():
    for version, name in TRANSFORMERS.items():
        doc = json.loads((CONFORMANCE / "transformers" / name).read_text())
        assert doc["header"]["transformers"] == version
        for row in doc["rows"]:
            yield pytest.param(version, row, id=f"{version}-{row['id']}")


@pytest.mark.parametrize("version, row", list(_transformers_rows()))
def test_transformers_release_allocates_what_kvcalc_says(version, row):
    engine = f"hf@{version}"
    if row["status"] != "counted":  # transformers refused it (an unknown model type; Mamba kernels missing)
        with pytest.raises(InputError, match="has no|Mamba state"):  # kvcalc refuses it too, by name
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


# ----- llama.cpp, as vendored by llama-cpp-python releases -----------------------------------
# conformance/llamacpp/make_goldens.py built libllama from each release's sdist, created contexts
# over tiny GGUFs (conformance/llamacpp/tiny_gguf.py) with the C API's defaults, and recorded every
# KV line llama.cpp printed. Here the same GGUFs are written again, read by kvcalc's GGUF reader,
# and sized with --engine llama-cpp-python@RELEASE: each printed size line must be kvcalc's, and
# what llama.cpp refused kvcalc refuses.

LLAMA_RELEASES = ("0.3.8", "0.3.9", "0.3.14", "0.3.16", "0.3.17", "0.3.36")
SIZE_LINE = ("KV self size", ": size = ")


def _llama_golden(release):
    return json.loads((CONFORMANCE / "llamacpp" / "goldens" / f"llama-cpp-python-{release}.json").read_text())


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    pytest.importorskip("gguf")
    from conformance.llamacpp.make_goldens import write_pre_mla
    from conformance.llamacpp.tiny_gguf import Arch, write
    from kvcalc.models.gguf import load_gguf

    writers = {"tiny_gguf.write": write, "make_goldens.write_pre_mla": write_pre_mla}
    folder = tmp_path_factory.mktemp("gguf")
    models = {}
    for release in LLAMA_RELEASES:
        for name, spec in _llama_golden(release)["archs"].items():
            if name not in models:
                path = writers[spec["writer"]](Arch(**spec["arch_fields"]), folder / f"{name}.gguf")
                models[name] = load_gguf(path)
    return models


def _llama_rows():
    for release in LLAMA_RELEASES:
        doc = _llama_golden(release)
        for i, row in enumerate(doc["rows"]):
            if row["arch"] in doc.get("refused_archs", {}):
                continue
            lines = [doc["lines"][j] for j in row["log"]]
            rid = (f"{release}-{row['arch']}-{row['n_ctx']}-np{row['n_seq_max']}-{'u' if row.get('kv_unified') else 's'}-"
                   f"{'full' if row.get('swa_full') else 'swa'}-{row['type_k']}-{row['type_v']}-"
                   f"{'fa' if row['flash_attn'] else 'nofa'}")
            yield pytest.param(release, doc, row, lines, id=rid)


@pytest.mark.parametrize("release, doc, row, lines", list(_llama_rows()))
def test_llama_cpp_release_allocates_what_kvcalc_says(tiny_models, release, doc, row, lines):
    options = {"n_parallel": row["n_seq_max"], "flash_attn": "on" if row["flash_attn"] else "off"}
    if doc["api"]["has_kv_unified"]:
        options["kv_unified"] = bool(row.get("kv_unified"))
    if doc["api"]["has_swa_full"]:
        options["swa_full"] = bool(row.get("swa_full"))
    engine = get_engine(f"llama-cpp-python@{release}", **options)
    model = tiny_models[row["arch"]]
    sized = [" ".join(x.split()) for x in lines if any(s in x for s in SIZE_LINE)]
    if not row["ok"] and not sized:  # llama.cpp refused the context before allocating a cache
        if "requires flash_attn" in str(row.get("refused")) or "V cache quantization" in str(row.get("refused")):
            with pytest.raises(InputError):
                kv_cache(model, row["n_ctx"], 1, kv_dtype=row["type_k"], v_dtype=row["type_v"], engine=engine)
        return
    cache = kv_cache(model, row["n_ctx"], 1, kv_dtype=row["type_k"], v_dtype=row["type_v"], engine=engine)
    ours = [" ".join(x.split()) for x in engine.document(cache)["log"] if any(s in x for s in SIZE_LINE)]
    assert ours == sized


def test_llama_cpp_goldens_cover_the_eras():
    counts = {r: _llama_golden(r)["counts"] for r in LLAMA_RELEASES}
    assert all(c["sized"] >= 100 for c in counts.values()), counts
    commits = {r: _llama_golden(r)["vendor"]["llama_cpp_commit"][:9] for r in LLAMA_RELEASES}
    assert commits == {"0.3.8": "7841fc723", "0.3.9": "8733e0cf6", "0.3.14": "79e0b68c1", "0.3.16": "4227c9be4",
                       "0.3.17": "49bfddeca", "0.3.36": "0c1e57098"}
    for release in LLAMA_RELEASES:  # the build each vendors, as kvcalc maps it (b11312 = 0c1e57098, public logs)
        build = _llama_golden(release)["vendor"]["llama_cpp_build_number"]
        assert build in (None, LLAMA_CPP_PYTHON[release]), release
