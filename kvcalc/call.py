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

    __slots__ = ("wide", "warnings", "assume", "assumptions")

    def __init__(self, wide: bool = False, assume: bool = False) -> None:
        self.wide = bool(wide)
        self.warnings: list[str] = []
        self.assume = bool(assume)  # --assume-standard-attention
        self.assumptions: list[str] = []

    def admit(self, model: Any) -> Any:
        """The model, if kvcalc maps it whole; one with an unmapped part is refused by name, or,
        under --assume-standard-attention, taken with the assumption said on every output."""
        from .models.registry import admit

        said = admit(model, self.assume)
        if said and said not in self.assumptions:
            self.assumptions.append(said)
        return model

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def emit(self, report: Any, fmt: Optional[str] = "table", units: str = "iec", output: Any = None) -> None:
        """Print the report (or write it whole to output) as this call asks."""
        from .output.report import emit

        if self.assumptions:  # on every table and in the JSON
            report.notes[:0] = [a for a in self.assumptions if a not in report.notes]
            if isinstance(report.document, dict):
                report.document["assumed_standard_attention"] = list(self.assumptions)
            if report.text is not None:  # a plain-text answer (chart's bars): the assumption above it
                report.text = "".join(f"{a}\n" for a in self.assumptions) + report.text
        emit(report, fmt, units, str(output) if output else None, wide=self.wide)

    def done(self, code: Optional[int] = None) -> Result:
        return Result(code, tuple(dict.fromkeys(self.warnings)))
