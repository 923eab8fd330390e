"""kvcalc table: the grid's rows, every format, and a CSV parsed back equal to the engine."""

from __future__ import annotations

import csv
import io
import json

import pytest
import yaml

from kvcalc.errors import InputError
from kvcalc.core.formulas import kv_cache
from kvcalc.planning.grid import SCHEMA, Grid, write
from kvcalc.models.registry import load_model


def _grid(**kw):
    base = dict(models=[load_model("llama3-8b"), load_model("gemma-3-4b"), load_model("deepseek-v3")],
                seqs=[1024, 4096, 131072], batches=[1, 8, 64], kv_dtypes=["auto", "fp8"], kv_heads=None, tps=[1, 4])
    base.update(kw)
    return Grid(**base)


def test_csv_parsed_back_equals_the_engine():
    g = _grid()
    buf = io.StringIO()
    assert write(g, "csv", buf) == g.n_rows == 3 * 2 * 2 * 3 * 3
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert tuple(rows[0]) == SCHEMA and len(rows) == 108
    for r in rows:
        m = load_model(r["model"])
        c = kv_cache(m, int(r["seq_len"]), int(r["batch_size"]), kv_dtype=r["kv_dtype"])
        assert int(r["kv_cache_bytes"]) == c.total_bytes and int(r["bytes_per_token"]) == c.bytes_per_token
        tp, heads = int(r["tp"]), int(r["kv_heads_per_gpu"])
        # KV heads on one GPU, by hand: llama3-8b 8 -> 8 / 2 at tp 1 / 4; gemma-3-4b 4 -> 4 / 1; the MLA latent is not split
        assert heads == {("llama3-8b", 1): 8, ("llama3-8b", 4): 2, ("gemma-3-4b", 1): 4, ("gemma-3-4b", 4): 1,
                         ("deepseek-v3", 1): 0, ("deepseek-v3", 4): 0}[(m.name, tp)]
        if m.mla:
            assert int(r["kv_cache_bytes_per_gpu"]) == c.total_bytes
        else:
            assert int(r["kv_cache_bytes_per_gpu"]) * m.n_kv_heads == c.total_bytes * heads


def test_one_row_by_hand():
    g = _grid(models=[load_model("llama2-70b")], seqs=[4096], batches=[8], kv_dtypes=["fp16"], kv_heads=[64, 8, 1], tps=[8])
    buf = io.StringIO()
    write(g, "csv", buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert [r["layout"] for r in rows] == ["MHA", "GQA-8", "MQA"]
    gqa = rows[1]
    # 2 x 80 layers x 8 heads x 128 x 2 B = 327,680 B/token; x 4,096 x 8 = 10,737,418,240 B; 1 head a GPU at tp 8
    assert (int(gqa["bytes_per_token"]), int(gqa["kv_cache_bytes"])) == (327_680, 10_737_418_240)
    assert (int(gqa["kv_heads_per_gpu"]), int(gqa["kv_cache_bytes_per_gpu"])) == (1, 10_737_418_240 // 8)
    # MQA at tp 8: its one head is replicated, so each GPU holds the whole 1/8-size cache
    assert int(rows[2]["kv_cache_bytes_per_gpu"]) == int(rows[2]["kv_cache_bytes"]) == 10_737_418_240 // 8


@pytest.mark.parametrize("fmt", ["json", "yaml", "markdown"])
def test_other_formats_carry_the_same_rows(fmt):
    g = _grid(seqs=[1024, 8192], batches=[1, 2])
    ref, out = io.StringIO(), io.StringIO()
    write(g, "csv", ref)
    write(g, fmt, out)
    bools = {"true": True, "false": False}  # CSV booleans as the contract writes them
    expected = [{k: (int(v) if v.isdigit() else bools.get(v, v)) for k, v in r.items()}
                for r in csv.DictReader(io.StringIO(ref.getvalue()))]
    text = out.getvalue()
    if fmt == "json":
        doc = json.loads(text)
        assert doc["columns"] == list(SCHEMA) and doc["rows"] == expected
    elif fmt == "yaml":
        assert yaml.safe_load(text) == expected
    else:
        lines = text.splitlines()
        assert lines[0] == "| " + " | ".join(SCHEMA) + " |" and len(lines) == 2 + len(expected)


def test_bad_combinations_are_refused_before_writing():
    with pytest.raises(InputError, match="3 KV heads do not divide 32"):
        _grid(kv_heads=[3]).check()
    with pytest.raises(InputError, match="--tp 3 does not divide"):
        _grid(tps=[3]).check()
    with pytest.raises(InputError, match="fp6"):
        _grid(kv_dtypes=["fp6"]).check()
