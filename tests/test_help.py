"""--help is part of the contract: golden copies of `kvcalc --help` and each command's --help
(at 100 columns, no colour), with the extras named (kvcalc[measure], kvcalc[plot]), typed
metavars and required options marked. KVCALC_UPDATE_GOLDEN=1 rewrites them after a deliberate
change; review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
HELPS = [[], ["calc"], ["list"], ["show"], ["import"], ["measure"], ["compare"], ["table"], ["fit"], ["plan"],
         ["gpus"], ["engines"], ["chart"]]


def _help(run_cli, monkeypatch, args: list[str]) -> str:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("TERM", "dumb")
    code, out, err = run_cli(*args, "--help")
    assert code == 0, err
    return "".join(line.rstrip() + "\n" for line in out.splitlines())


@pytest.mark.parametrize("args", HELPS, ids=lambda a: " ".join(a) or "kvcalc")
def test_help_matches_its_golden_copy(run_cli, monkeypatch, args: list[str]) -> None:
    text = _help(run_cli, monkeypatch, args)
    path = GOLDEN / f"help-{'-'.join(args) or 'kvcalc'}.txt"
    if os.environ.get("KVCALC_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_help_names_extras_types_values_and_marks_required(run_cli, monkeypatch) -> None:
    calc = _help(run_cli, monkeypatch, ["calc"])
    assert "kvcalc[measure]" in calc and "<str>" not in calc
    assert "--seq" in calc and "TOKENS" in calc and "DTYPE" in calc and "FORMAT" in calc and "FILE" in calc
    chart = _help(run_cli, monkeypatch, ["chart"])
    assert "kvcalc[plot]" in chart
    fit = _help(run_cli, monkeypatch, ["fit"])
    assert "BYTES" in fit and "FRACTION" in fit and "GPU" in fit and "<str>" not in fit
    plan = _help(run_cli, monkeypatch, ["plan"])
    required = [line for line in plan.splitlines() if line.lstrip("│ ").startswith("*")]
    assert any("--gpu" in line for line in required) and any("--seq" in line for line in required)
