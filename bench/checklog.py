"""check-log reads a multi-GB log in bounded memory: a benchmark, never a timed test.

It writes a log of SIZE (default 2 GiB) made of a real startup log (tests/fixtures/logs) followed by
request lines of the kind a server prints for days, with the same start again at the end, then runs
`kvcalc check-log` on it in a child process and prints the child's wall time and peak memory
(ru_maxrss), beside the same for the startup log alone. The peak should not grow with the size.

    python bench/checklog.py                 # 2 GiB
    python bench/checklog.py --size 256MiB --keep /tmp/big.log
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = ROOT / "tests" / "fixtures" / "logs" / "vllm-v1-qwen3-32b-tp4-yarn-0.10.0.log"
REQUEST = ('(APIServer pid=2417) INFO 08-07 11:14:{s:02d} [loggers.py:123] Engine 000: Avg prompt throughput: '
           '{a}.3 tokens/s, Avg generation throughput: {b}.8 tokens/s, Running: 7 reqs, Waiting: 0 reqs, '
           'GPU KV cache usage: 3.{c}%, Prefix cache hit rate: 41.2%\n'
           '(APIServer pid=2417) INFO:     10.0.0.{c}:5{s:04d} - "POST /v1/chat/completions HTTP/1.1" 200 OK\n')


def parse_size(text: str) -> int:
    units = {"gib": 1 << 30, "mib": 1 << 20, "gb": 10 ** 9, "mb": 10 ** 6}
    t = text.strip().lower()
    for unit, factor in units.items():
        if t.endswith(unit):
            return int(float(t[: -len(unit)]) * factor)
    return int(t)


def write_log(path: Path, size: int) -> None:
    start = START.read_text(encoding="utf-8")
    chunk = "".join(REQUEST.format(s=i % 60, a=i % 97, b=i % 89, c=i % 10) for i in range(5000))
    with open(path, "w", encoding="utf-8") as f:
        f.write(start)
        written = len(start)
        while written < size - len(start):
            f.write(chunk)
            written += len(chunk)
        f.write(start)


def run(path: Path) -> tuple[float, int, str]:
    """(seconds, peak KiB, first line of output) of `kvcalc check-log path` in a child."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen([sys.executable, "-m", "kvcalc", "check-log", str(path)], stdout=out,
                                 stderr=subprocess.STDOUT, cwd=tempfile.gettempdir(),
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
        _, _, usage = os.wait4(child.pid, 0)  # this child's own peak, not every child's
        child.returncode = 0
        elapsed = time.perf_counter() - t0
        out.seek(0)
        first = out.readline().strip()
    return elapsed, usage.ru_maxrss, first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="2GiB")
    ap.add_argument("--keep", type=Path, help="write the log here and keep it")
    args = ap.parse_args()
    size = parse_size(args.size)
    small_t, small_peak, _ = run(START)
    path = args.keep or Path(tempfile.mkdtemp()) / "big.log"
    t0 = time.perf_counter()
    write_log(path, size)
    print(f"wrote {path.stat().st_size:,} B in {time.perf_counter() - t0:.1f} s")
    try:
        big_t, big_peak, first = run(path)
    finally:
        if not args.keep:
            os.unlink(path)
    print(f"startup log alone ({START.stat().st_size:,} B): {small_t:.2f} s, peak {small_peak / 1024:.1f} MiB")
    print(f"{size / (1 << 30):.2f} GiB log: {big_t:.1f} s ({size / (1 << 20) / big_t:.0f} MiB/s), "
          f"peak {big_peak / 1024:.1f} MiB")
    print(f"  {first}")


if __name__ == "__main__":
    main()
