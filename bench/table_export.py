"""Export benchmark: `kvcalc table` writing a 1,000,000-row CSV, in a child process, timed, with
its peak resident memory (ru_maxrss of the child). Goal: seconds, and memory that does not grow
with the rows (a 10x smaller grid should peak at about the same memory).

    python bench/table_export.py [--rows-scale 1.0]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(seq: str, batch: str, out: Path) -> tuple[float, int, int]:
    """(seconds, peak RSS bytes of the child, rows written)."""
    exe = shutil.which("kvcalc") or sys.executable
    cmd = [exe] if exe.endswith("kvcalc") else [exe, "-m", "kvcalc"]
    cmd += ["table", "llama3-8b", "mistral-7b", "--seq", seq, "--batch", batch, "--kv-dtype", "bf16,fp8",
            "-f", "csv", "-o", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    with out.open() as f:
        rows = sum(1 for _ in f) - 1
    return seconds, max(peak, before * 1024), rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # 2 models x 2 dtypes x 250 contexts x 1,000 batch sizes = 1,000,000 rows; then 100,000
        small_s, small_peak, small_rows = run("1k:25k:1k", "1:1000", Path(tmp) / "small.csv")
        big_s, big_peak, big_rows = run("512:128000:512", "1:1000", Path(tmp) / "big.csv")
        size = (Path(tmp) / "big.csv").stat().st_size
    print(f"{small_rows:>9,} rows: {small_s:6.2f} s, peak RSS {small_peak / 2**20:6.1f} MiB")
    print(f"{big_rows:>9,} rows: {big_s:6.2f} s, peak RSS {big_peak / 2**20:6.1f} MiB, {size / 2**20:.1f} MiB of CSV")
    print(f"memory growth for 10x the rows: {(big_peak - small_peak) / 2**20:+.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
