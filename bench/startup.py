"""Start-up benchmark: `kvcalc llama2-70b --seq 4096` against the floor of its own dependencies
(importing typer, yaml, pydantic's BaseModel and rich's Console and Table), run alternately in
the same session, several runs each. Prints the medians and their ratio (goal: <= 1.25).

    python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

FLOOR = "import typer, yaml; from pydantic import BaseModel; from rich.console import Console; from rich.table import Table"
GOAL = 1.25


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    script = Path(sys.executable).with_name("kvcalc")
    kvcalc = [str(script)] if script.exists() else [shutil.which("kvcalc") or "kvcalc"]
    calc = [*kvcalc, "llama2-70b", "--seq", "4096"]
    floor = [sys.executable, "-c", FLOOR]
    for cmd in (calc, floor):  # warm the page cache and .pyc files
        timed(cmd)
    a, b = [], []
    for _ in range(args.runs):  # A B A B: the machine drifts, pairs keep the ratio fair
        a.append(timed(calc))
        b.append(timed(floor))
    ma, mb = statistics.median(a), statistics.median(b)
    ratio = ma / mb
    print(f"kvcalc llama2-70b --seq 4096  median {ma * 1000:7.1f} ms  ({args.runs} runs)")
    print(f"dependency floor              median {mb * 1000:7.1f} ms  ({args.runs} runs)")
    print(f"ratio {ratio:.3f}  (goal <= {GOAL}: {'met' if ratio <= GOAL else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
