"""The quick path (kvcalc.cli.fastpath) and the typer app answer every call alike: the spec it reads
is the typer app's own, and a corpus of calls (valid, hostile, odd) gives the same exit code,
stdout and stderr both ways. The common calls are answered without importing typer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kvcalc.cli import fastpath

from .conftest import HF
from .test_hostile import BAD, COMMANDS

ODD = [
    ["llama2-70b"], ["llama2-70b", "--seq"], ["llama2-70b", "--seq", "4k", "--seq", "8k"], ["--seq", "4k", "llama2-70b"],
    ["llama2-70b", "--seq=4k"], ["llama2-70b", "-s4k"], ["llama2-70b", "--seq", "4k", "--"], ["llama2-70b", "--seq", "-4"],
    ["llama2-70b", "--seq", "4k", "--measure=1"], ["llama2-70b", "llama3-8b", "--seq", "4k"], ["list", "extra"],
    ["compare", "--seq", "4k"], ["compare", "llama2-70b", "llama3-8b", "--seq", "4k", "-f", "csv"],
    ["llama2-70b", "--seq", "4k", "--kv-unified"], ["llama2-70b", "--seq", "4k", "--engine", "llama.cpp", "--no-kv-unified"],
    ["llama2-70b", "--seq", "4k", "--engine", "llama.cpp", "-np", "3", "-ctk", "q8_0", "-fa", "on"],
    ["plan", "--gpu", "h100-80gb", "--seq", "4k", "--min-tokens-per-s", "x"],
    ["plan", "llama3-8b", "--gpu", "h100-80gb", "--seq", "4k", "--min-tokens-per-s", "20"],
    ["fit", "llama3-8b", "--gpu", "h100-80gb", "--batch", "8"], ["import", str(HF / "gpt2.json")], ["import", ""],
    ["show", "llama3-8b", "-f", "json"], ["gpus", "-f", "csv"], ["chart", "llama3-8b", "--seq", "1k,2k"],
    ["table", "llama3-8b", "qwen2-7b", "--seq", "1k:4k:1k", "--batch", "1,2", "-f", "json"], ["--version"],
    ["fit", "llama3-8b", "--help"], ["nosuchmodel", "--seq", "4k"], ["llama2-70b", "--sek", "4k"], [str(HF / "gpt2.json"), "--seq", "1k"],
    ["compare", "llama2-70b", "llama3-8b", "--seq", "4k", "--wide"], ["table", "llama3-8b", "--seq", "4k", "--units", "si"],
    ["llama3-8b", "--seq", "1k", "--revision", "main"], ["someorg/model", "--seq", "1k"], ["fit", "llama3-8b", "--gpu", "a100", "--seq", "1k"],
    ["fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "128k", "--batch", "64"], ["llama2-7b", "--seq", "1M"],
    ["fit", str(HF / "gpt-oss-120b.json"), "--gpu", "h100-80gb", "--seq", "8k", "--weights-dtype", "nvfp4"],
]


def corpus() -> list[list[str]]:
    out = [list(a) for a in ODD]
    for base, options in COMMANDS.values():
        if base[0] == "measure":
            continue
        out.append(list(base))
        for option in options:
            for bad in BAD[:8]:
                out.append([*base, option, bad])
    return out


CORPUS = corpus()


def test_the_spec_is_the_typer_apps_own() -> None:
    from kvcalc.generators.cli_spec import spec

    assert json.loads(fastpath.SPEC.read_text()) == json.loads(json.dumps(spec())), "run python -m kvcalc.generators.cli_spec"


@pytest.mark.parametrize("args", CORPUS, ids=[" ".join(a)[:60] for a in CORPUS])
def test_both_paths_answer_alike(run_cli, monkeypatch, args) -> None:
    monkeypatch.setenv("KVCALC_FASTPATH", "0")
    slow = run_cli(*args)
    monkeypatch.setenv("KVCALC_FASTPATH", "1")
    fast = run_cli(*args)
    assert fast == slow


def test_the_corpus_exercises_the_quick_path() -> None:
    spec = fastpath._spec()
    taken = sum(fastpath.parse(a, spec) is not None for a in CORPUS)
    declined = len(CORPUS) - taken
    assert taken > 450 and declined >= 10, (taken, declined)


@pytest.mark.parametrize("args", [["llama2-70b", "--seq", "4096", "-f", "json"], ["list", "-f", "json"],
                                  ["fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "8k", "-f", "json"],
                                  ["table", "llama3-8b", "--seq", "4k,8k", "-f", "csv"], [str(HF / "Qwen3-32B.json"), "--seq", "32k"]])
def test_common_calls_import_no_typer_pydantic_or_yaml(args) -> None:
    code = ("import sys; from kvcalc.cli.entry import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write(repr(sorted(m for m in ('typer', 'pydantic', 'yaml', 'torch') if m in sys.modules)))")
    res = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert res.stderr.endswith("[]"), res.stderr[-300:]
