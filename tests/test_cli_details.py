"""Details a daily user meets: -o picks the format from the extension, one short usage, one
suggestion a model, the dtype names runtimes use, the extras named in --help."""

from __future__ import annotations

import csv
import json

from kvcalc.cli import main


def test_output_extension_decides_the_format(run_cli, tmp_path):
    target = tmp_path / "t.csv"
    code, _, err = run_cli("table", "llama3-8b", "--seq", "4k,8k", "-o", str(target))
    rows = list(csv.reader(target.open()))
    assert (code, err) == (0, "") and rows[0][:3] == ["model", "layout", "n_kv_heads"] and len(rows) == 3
    # 32 layers x 2 x 8 KV heads x 128 x 2 B x 4,096 tokens
    assert rows[1][rows[0].index("kv_cache_bytes")] == str(32 * 2 * 8 * 128 * 2 * 4096)
    code, _, _ = run_cli("llama3-8b", "--seq", "4k", "-o", str(tmp_path / "c.json"))
    assert code == 0 and json.loads((tmp_path / "c.json").read_text())["kv_cache_bytes"] == 32 * 2 * 8 * 128 * 2 * 4096
    code, _, err = run_cli("table", "llama3-8b", "--seq", "4k", "-o", str(tmp_path / "t.json"), "-f", "csv")
    assert code == 2 and "does not match" in err and err.count("\n") == 1 and not (tmp_path / "t.json").exists()


def test_bare_kvcalc_prints_one_short_usage(capsys):
    try:
        main([])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert out.count("Usage:") == 1 and "kvcalc fit llama2-70b" in out and len(out.splitlines()) < 12


def test_one_suggestion_a_model(run_cli):
    _, _, err = run_cli("llama2-7", "--seq", "1")
    names = err.split("did you mean ")[1].split("?")[0].split(" or ")
    assert "llama2-7b" in names and "llama-2-7b" not in names and len(names) == len(set(names))


def test_dtype_names_runtimes_use(run_cli):
    for name in ("fp8_e4m3fn", "float8_e4m3fn", "float8_e5m2", "half", "float16", "f16"):
        code, out, err = run_cli("llama3-8b", "--seq", "16", "--kv-dtype", name, "-f", "json")
        assert code == 0, err


def test_help_names_the_extras(run_cli):
    _, out, _ = run_cli("calc", "--help")
    assert "kvcalc[measure]" in out


def test_option_suggestions_only_when_close(run_cli):
    _, _, err = run_cli("llama2-70b", "--seq", "1", "--foo")
    assert err == "kvcalc: error: no such option: --foo\n"  # --format is not close to --foo
    _, _, err = run_cli("llama2-70b", "--seq", "1", "--formt", "json")
    assert "did you mean --format?" in err
