"""Start-up benchmark: every kvcalc command against the floor of its own dependencies (importing
typer, yaml, pydantic's BaseModel and rich's Console and Table), run alternately in the same
session (A B A B: the machine drifts, pairs keep the ratio fair). Prints each command's median and
its share of the floor's median (goals: every command <= 1.0x, `-f json` <= 0.6x).

    python bench/startup.py [--runs 7] [--only NAME]

`measure` is left out: it imports torch by design (~1.8 s). The runs write .pyc files as an
installed kvcalc does (PYTHONDONTWRITEBYTECODE is dropped from their environment), as the floor's
packages already have theirs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = "import typer, yaml; from pydantic import BaseModel; from rich.console import Console; from rich.table import Table"
GOAL, JSON_GOAL = 1.0, 0.6
ROOT = Path(__file__).resolve().parent.parent
HF = str(ROOT / "tests" / "fixtures" / "hf" / "Llama-2-70b.json")


def commands(hub: str) -> list[tuple[str, list[str], float]]:
    """(label, argv after `kvcalc`, goal)."""
    return [
        ("kvcalc llama2-70b --seq 4096", ["llama2-70b", "--seq", "4096"], GOAL),
        ("kvcalc llama2-70b --seq 4096 -f json", ["llama2-70b", "--seq", "4096", "-f", "json"], JSON_GOAL),
        ("kvcalc config.json --seq 4096", [HF, "--seq", "4096"], GOAL),
        ("kvcalc config.json --seq 4096 -f json", [HF, "--seq", "4096", "-f", "json"], JSON_GOAL),
        ("kvcalc Qwen/Qwen3-32B@main --seq 32k (from the HF cache)", ["Qwen/Qwen3-32B@main", "--seq", "32k"], GOAL),
        ("kvcalc Qwen/Qwen3-32B --seq 32k (shipped)", ["Qwen/Qwen3-32B", "--seq", "32k"], GOAL),
        ("kvcalc list", ["list"], GOAL),
        ("kvcalc list -f json", ["list", "-f", "json"], JSON_GOAL),
        ("kvcalc show llama3-8b", ["show", "llama3-8b"], GOAL),
        ("kvcalc import config.json", ["import", HF], GOAL),
        ("kvcalc compare llama2-70b llama3-8b --seq 4k", ["compare", "llama2-70b", "llama3-8b", "--seq", "4k"], GOAL),
        ("kvcalc compare ... -f json", ["compare", "llama2-70b", "llama3-8b", "--seq", "4k", "-f", "json"], JSON_GOAL),
        ("kvcalc table llama3-8b --seq 4k,8k", ["table", "llama3-8b", "--seq", "4k,8k"], GOAL),
        ("kvcalc table ... -f json", ["table", "llama3-8b", "--seq", "4k,8k", "-f", "json"], JSON_GOAL),
        ("kvcalc fit llama3-8b --gpu h100-80gb --seq 8k", ["fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "8k"], GOAL),
        ("kvcalc fit ... -f json", ["fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "8k", "-f", "json"], JSON_GOAL),
        ("kvcalc plan llama3-8b --gpu h100-80gb --seq 8k --batch 8",
         ["plan", "llama3-8b", "--gpu", "h100-80gb", "--seq", "8k", "--batch", "8"], GOAL),
        ("kvcalc gpus", ["gpus"], GOAL),
        ("kvcalc chart llama3-8b", ["chart", "llama3-8b"], GOAL),
        ("kvcalc --help (typer's own help: shown, not a goal)", ["--help"], 0.0),
    ]


def hf_cache(tmp: str) -> dict[str, str]:
    """A Hugging Face cache holding Qwen/Qwen3-32B's config.json, laid out as huggingface_hub does."""
    snap = Path(tmp, "hub", "models--Qwen--Qwen3-32B", "snapshots", "0" * 40)
    snap.mkdir(parents=True)
    (snap / "config.json").write_text((ROOT / "tests" / "fixtures" / "hf" / "Qwen3-32B.json").read_text())
    refs = snap.parent.parent / "refs"
    refs.mkdir()
    (refs / "main").write_text("0" * 40)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as installed: .pyc files written
    return {**env, "HF_HUB_CACHE": str(Path(tmp, "hub")), "HF_HUB_OFFLINE": "1", "COLUMNS": "120"}


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--only", help="run only the commands whose label contains this")
    args = ap.parse_args()
    script = Path(sys.executable).with_name("kvcalc")
    kvcalc = [str(script)] if script.exists() else [shutil.which("kvcalc") or "kvcalc"]
    floor = [sys.executable, "-c", FLOOR]
    failed = counted = 0
    with tempfile.TemporaryDirectory() as tmp:
        env = hf_cache(tmp)
        cmds = [c for c in commands(tmp) if not args.only or args.only in c[0]]
        print(f"{'command':58} {'median ms':>9} {'floor ms':>9} {'share':>6}  goal")
        for label, argv, goal in cmds:
            cmd = [*kvcalc, *argv]
            timed(cmd, env), timed(floor, env)  # warm the page cache and .pyc files
            a, b = [], []
            for _ in range(args.runs):
                a.append(timed(cmd, env))
                b.append(timed(floor, env))
            ma, mb = statistics.median(a), statistics.median(b)
            ratio = ma / mb
            if not goal:
                print(f"{label:58} {ma * 1000:9.1f} {mb * 1000:9.1f} {ratio:5.2f}x")
                continue
            ok = ratio <= goal
            failed += not ok
            counted += 1
            print(f"{label:58} {ma * 1000:9.1f} {mb * 1000:9.1f} {ratio:5.2f}x  <= {goal} {'met' if ok else 'NOT met'}")
    print(f"{args.runs} alternating runs each; {counted - failed} of {counted} goals met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
