"""The command line, run through its real entry point."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
import yaml

from .conftest import HF


def test_json_contract_llama2_70b(run_cli):
    code, out, err = run_cli("llama2-70b", "--seq", "4096", "--kv-dtype", "fp16", "--format", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert {k: doc[k] for k in ("model", "seq_len", "batch_size", "kv_dtype")} == {
        "model": "llama2-70b", "seq_len": 4096, "batch_size": 1, "kv_dtype": "fp16"}
    assert doc["bytes_per_token"] == 2 * 80 * 8 * 128 * 2 == 327_680
    assert doc["kv_cache_bytes"] == 1_342_177_280
    rows = {v["layout"]: v for v in doc["variants"]}
    assert [v["layout"] for v in doc["variants"]] == ["GQA-8 (published)", "MHA", "GQA-8", "MQA"]
    assert (rows["MHA"]["kv_cache_bytes"], rows["MHA"]["n_kv_heads"]) == (10_737_418_240, 64)
    assert (rows["GQA-8"]["kv_cache_bytes"], rows["GQA-8"]["n_kv_heads"]) == (1_342_177_280, 8)
    assert (rows["MQA"]["kv_cache_bytes"], rows["MQA"]["n_kv_heads"]) == (167_772_160, 1)
    assert rows["GQA-8"]["ratio_vs_mha"] == 0.125
    assert all(isinstance(v["kv_cache_bytes"], int) for v in doc["variants"])


def test_default_table(run_cli):
    code, out, _ = run_cli("llama2-70b", "--seq", "4096")
    assert code == 0
    for text in ("GQA-8 (published)", "1,342,177,280", "10,737,418,240", "167,772,160", "12.5%", "1.56%",
                 "8x smaller, -87.5%", "80 full layers x 4,096 tokens", "huggingface.co/meta-llama/Llama-2-70b-hf"):
        assert text in out, text


def test_seq_suffixes_and_batch(run_cli):
    _, out, _ = run_cli("llama3-8b", "--seq", "128k", "--batch", "2", "-f", "json")
    doc = json.loads(out)
    assert doc["seq_len"] == 131072 and doc["kv_cache_bytes"] == 2 * 131072 * 131_072


def test_si_units(run_cli):
    _, out, _ = run_cli("llama2-70b", "--seq", "4k", "--units", "si")
    assert "10.74 GB" in out and "1.34 GB" in out


@pytest.mark.parametrize("fmt", ["csv", "markdown", "yaml"])
def test_other_formats(run_cli, fmt):
    code, out, _ = run_cli("llama2-70b", "--seq", "4096", "-f", fmt)
    assert code == 0
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert [r["layout"] for r in rows] == ["GQA-8 (published)", "MHA", "GQA-8", "MQA"]
        assert int(rows[1]["kv_cache_bytes"]) == 10_737_418_240 and rows[0]["seq_len"] == "4096"
    elif fmt == "yaml":
        assert yaml.safe_load(out)["kv_cache_bytes"] == 1_342_177_280
    else:
        assert "| MHA | 64 | 1 | 2,621,440 | 10,737,418,240 | 10.00 GiB | 100% | baseline |" in out


def test_output_file(run_cli, tmp_path):
    target = tmp_path / "out.json"
    code, out, _ = run_cli("llama2-70b", "--seq", "4096", "-f", "json", "-o", str(target))
    assert (code, out) == (0, "")
    assert json.loads(target.read_text())["kv_cache_bytes"] == 1_342_177_280
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary left behind


def test_engines_in_json(run_cli):
    _, out, _ = run_cli("deepseek-v3", "--seq", "4096", "--engine", "hf", "-f", "json")
    doc = json.loads(out)
    assert doc["engine"] == "hf"
    assert doc["engine_version"] == "5.23.0"
    # transformers 5 caches the latent: 61 layers x (512 + 64) elements x 2 B per token
    assert doc["kv_cache_bytes"] == doc["exact_kv_cache_bytes"] == 61 * 576 * 2 * 4096
    _, table, _ = run_cli("deepseek-v3", "--seq", "4096", "--engine", "hf")
    assert "= 1x the exact" in table and "(before 5.15 it decompressed it per head)" in " ".join(table.split())


def test_config_json_path(run_cli):
    code, out, _ = run_cli(str(HF / "gemma-3-4b-it.json"), "--seq", "32768", "-f", "json", "--kv-dtype", "bf16")
    assert code == 0
    doc = json.loads(out)
    assert doc["kv_cache_bytes"] == 4096 * (29 * 1024 + 5 * 32768)
    assert [(g["kind"], g["n_layers"], g["tokens"]) for g in doc["layers"]] == [("sliding", 29, 1024), ("full", 5, 32768)]


def test_list(run_cli):
    code, out, _ = run_cli("list", "-f", "json")
    models = {m["model"]: m for m in json.loads(out)["models"]}
    assert code == 0 and len(models) >= 27
    assert models["llama3-8b"]["bytes_per_token"] == 131_072
    assert models["llama2-70b"]["q_heads_per_kv_head"] == 8
    _, table, _ = run_cli("list")
    assert "gemma-3-4b" in table and "29 sliding (1024) + 5 full" in table


def test_show(run_cli):
    code, out, _ = run_cli("show", "meta-llama/Llama-2-70b-hf")
    assert code == 0
    assert "n_kv_heads: 8" in out and "https://huggingface.co/meta-llama/Llama-2-70b-hf/blob/main/config.json" in out


def test_import_roundtrip(run_cli, tmp_path):
    target = tmp_path / "nemo.yaml"
    code, _, err = run_cli("import", str(HF / "Mistral-Nemo-Base-2407.json"), "-o", str(target), "--name", "nemo")
    assert code == 0 and "wrote" in err
    code, out, _ = run_cli(str(target), "--seq", "1", "-f", "json")
    assert json.loads(out)["bytes_per_token"] == 2 * 40 * 8 * 128 * 2


BAD = [
    (["nosuch-model", "--seq", "1"], "unknown model 'nosuch-model'"),
    (["llama2-70", "--seq", "1"], "did you mean llama2-70b"),
    (["llama2-70b", "--seq", "0"], "--seq: must be > 0"),
    (["llama2-70b", "--seq", "-5"], "--seq: expected a positive whole number"),
    (["llama2-70b", "--seq", "abc"], "--seq: expected a positive whole number"),
    (["llama2-70b", "--seq", "1", "--batch", "0"], "--batch: must be > 0"),
    (["llama2-70b", "--seq", "1", "--kv-dtype", "fp7"], "unknown --kv-dtype 'fp7'"),
    (["llama2-70b", "--seq", "1", "--format", "xml"], "unknown --format 'xml'"),
    (["llama2-70b", "--seq", "1", "--units", "bits"], "unknown --units 'bits'"),
    (["llama2-70b", "--seq", "1", "--engine", "tgi"], "unknown engine 'tgi'"),
    (["llama2-70b"], "Missing option '--seq'"),
    (["llama2-70b", "--seq", "1", "--frobnicate"], "no such option: --frobnicate"),
    (["/no/such/file.yaml", "--seq", "1"], "/no/such/file.yaml: no such file"),
    (["llama2-70b", "--seq", "1", "-o", "/no/such/dir/out.txt"], "cannot write /no/such/dir/out.txt"),
]


@pytest.mark.parametrize("args, message", BAD)
def test_bad_input_is_one_line(run_cli, args, message):
    code, out, err = run_cli(*args)
    assert code != 0
    assert message in err
    assert err.count("\n") == 1 and err.startswith("kvcalc: error: ")
    assert "Traceback" not in err and out == ""


def test_bad_yaml_and_json_files(run_cli, tmp_path):
    for name, text, message in [
        ("e.yaml", "", "empty file"),
        ("l.yaml", "[1]", "expected a mapping"),
        ("m.yaml", "a: [", "malformed YAML"),
        ("b.json", "{", "not valid JSON"),
        ("h.json", '{"num_hidden_layers": 1, "num_attention_heads": 0, "hidden_size": 8, "vocab_size": 1}',
         "num_attention_heads: must be a whole number > 0"),
    ]:
        path = tmp_path / name
        path.write_text(text)
        code, _, err = run_cli(str(path), "--seq", "1")
        assert code == 2 and message in err and str(path) in err and err.count("\n") == 1


def test_unwritable_output_leaves_nothing(run_cli, tmp_path):
    # a directory in place of the file: refused even for root, and nothing is left beside it
    target = tmp_path / "x.csv"
    target.mkdir()
    code, _, err = run_cli("llama2-70b", "--seq", "1", "-o", str(target), "-f", "csv")
    assert code == 2 and "cannot write" in err and "is a directory" in err and err.count("\n") == 1
    assert target.is_dir() and list(target.iterdir()) == [] and [p.name for p in tmp_path.iterdir()] == ["x.csv"]


def test_version_and_help(run_cli):
    code, out, _ = run_cli("--version")
    assert code == 0 and out.startswith("kvcalc ")
    code, out, _ = run_cli("--help")
    assert code == 0 and "calc" in out and "list" in out and "import" in out


def test_calculator_path_imports_no_torch_and_no_pydantic():
    code = (
        "import sys\n"
        "from kvcalc.cli import main\n"
        "try:\n    main(['llama2-70b', '--seq', '4096'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'pydantic', 'numpy')), file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stderr.strip() == "[]", out.stderr
    assert "1,342,177,280" in out.stdout
