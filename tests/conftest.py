from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
HF = FIXTURES / "hf"


@pytest.fixture(autouse=True)
def _no_hub(monkeypatch, tmp_path_factory):
    """No test reaches the Hugging Face Hub, nor reads the user's own HF cache: an empty cache,
    offline. tests/test_hub.py serves a fake Hub on loopback to its own subprocesses."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path_factory.mktemp("hf-cache-empty")))
    monkeypatch.delenv("HF_ENDPOINT", raising=False)


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """Run the real console entry point; returns (exit code, stdout, stderr)."""
    from kvcalc.cli import main

    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("NO_COLOR", "1")

    def run(*args: str) -> tuple[int, str, str]:
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        out, err = capsys.readouterr()
        return code, out, err

    return run


def pytest_report_header(config):
    return f"kvcalc tests, cwd {os.getcwd()}"
