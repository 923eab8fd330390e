"""The command line: the entry point (entry), the quick argv path (fastpath), the typer app that
declares every option (app), and the command bodies (commands)."""

from __future__ import annotations


def main(argv: "list[str] | None" = None) -> None:
    """The console entry point (kvcalc.cli.entry.main), for callers of kvcalc.cli.main."""
    from .entry import main as entry_main

    entry_main(argv)
