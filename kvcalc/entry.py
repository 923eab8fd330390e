"""The console entry point, kept apart so that Ctrl-C while the CLI's libraries load (typer,
rich: a tenth of a second) still ends in "kvcalc: aborted" rather than a traceback."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        print("kvcalc: aborted", file=sys.stderr)
        sys.exit(130)
    run()
