"""One call of a command: how its answer is shown, and what it has to say after the answer.

A command builds its Call at the edge from its options, passes it down where it is needed, and
returns `call.done(code)`: the Result that kvcalc.cli.entry turns into stdout, stderr and an exit
code. Nothing of a call outlives it: there is no module-level call state. (Plain classes, not
dataclasses: every call pays for this module's import.)"""

from __future__ import annotations

from typing import Any, Optional


class Result:
    """What a call leaves: its exit code (None: 0) and its warnings, said after the answer."""

    __slots__ = ("code", "warnings")

    def __init__(self, code: Optional[int] = None, warnings: tuple[str, ...] = ()) -> None:
        self.code, self.warnings = code, warnings


class Call:
    """A call's rendering choices (--wide) and the warnings it gathers."""

    __slots__ = ("wide", "warnings")

    def __init__(self, wide: bool = False) -> None:
        self.wide = bool(wide)
        self.warnings: list[str] = []

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def emit(self, report: Any, fmt: Optional[str] = "table", units: str = "iec", output: Any = None) -> None:
        """Print the report (or write it whole to output) as this call asks."""
        from .output.report import emit

        emit(report, fmt, units, str(output) if output else None, wide=self.wide)

    def done(self, code: Optional[int] = None) -> Result:
        return Result(code, tuple(dict.fromkeys(self.warnings)))
