"""At 80 columns, tables leave out optional columns (and say so) and fold what still does not
fit: no number is ever cut with an ellipsis."""

from __future__ import annotations

import pytest

COMMANDS = [
    ["llama2-70b", "--seq", "4096"],
    ["gemma-3-4b", "--seq", "32k", "--engine", "llama.cpp", "-np", "1"],
    ["jamba", "--seq", "1k", "--engine", "hf"],
    ["list"],
    ["compare", "llama2-70b", "--kv-heads", "all", "--seq", "4096"],
    ["compare", "llama2-70b", "llama3-8b", "--seq", "4096", "--gpu", "h100-80gb"],
    ["fit", "llama2-70b", "--gpu", "h100-80gb", "--tp", "4", "--seq", "4096"],
    ["fit", "gemma-2-9b", "--kv-memory", "4GiB", "--max-model-len", "8192"],
    ["plan", "llama2-70b", "--gpu", "h100-80gb", "--tp", "4", "--seq", "32k", "--batch", "16"],
    ["gpus"],
    ["table", "llama3-8b", "--seq", "4k,8k"],
    ["table", "llama3-8b", "deepseek-v3", "--seq", "4k,128k", "--tp", "1,8", "--kv-dtype", "bf16,fp8"],
    ["fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "128k", "--batch", "64"],
    ["fit", "deepseek-v3", "--gpu", "h200", "--gpus", "8", "--seq", "32k", "--batch", "16"],
    ["chart", "deepseek-v3"],
    ["show", "llama3-8b"],
    ["compare", "deepseek-v3", "jamba-v0.1", "nemotron-h-56b", "--seq", "128k"],
    ["llama3-8b", "--seq", "64", "--measure", "--device", "cpu"],
    ["fit", "llama3.1-8b", "--engine", "llama.cpp", "--weights-dtype", "q4_k_m", "--batch", "1", "--gpu", "m2-max-64gb"],
    ["fit", "qwen3-30b-a3b", "--engine", "llama.cpp", "--weights-dtype", "q4_k_m", "--gpu", "rtx-3060-12gb", "-c", "32k",
     "-ngl", "all"],
    ["fit", "llama3.1-8b", "--engine", "ollama", "--gpu", "rtx-4090"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_no_number_is_cut_at_80_columns(run_cli, monkeypatch, args):
    if "--measure" in args:
        pytest.importorskip("torch")
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run_cli(*args)
    assert code == 0 and "…" not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert all(line == line.rstrip() for line in out.splitlines())  # piped: no trailing spaces


def test_wide_shows_every_column(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    _, narrow, _ = run_cli("compare", "llama2-70b", "llama3-8b", "--seq", "4096")
    _, wide, _ = run_cli("compare", "llama2-70b", "llama3-8b", "--seq", "4096", "--wide")
    assert "┃ Saving vs MHA" not in narrow and "left out at 80 columns" in " ".join(narrow.split())
    assert "Saving vs MHA" in wide and "Bytes/token" in wide and "left out" not in wide
    assert max(len(line) for line in wide.splitlines()) > 80


def test_left_out_columns_are_named(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = run_cli("llama2-70b", "--seq", "4096")
    assert "1,342,177,280" in out and "10,737,418,240" in out
    assert "Saving vs MHA: left out at 80 columns" in " ".join(out.split())


def test_wide_does_not_outlive_its_call(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    import kvcalc.output.report

    run_cli("compare", "llama2-70b", "llama3-8b", "--seq", "4096", "--wide")
    run_cli("show", "llama3-8b")  # show, measure --all, chart take no --wide: the last call's must not leak to them
    assert not hasattr(kvcalc.output.report, "WIDE")  # no module-level call state
    _, narrow, _ = run_cli("compare", "llama2-70b", "llama3-8b", "--seq", "4096")
    assert "┃ Saving vs MHA" not in narrow
