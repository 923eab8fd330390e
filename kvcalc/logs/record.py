"""What check-log finds: each engine start in a log, and each memory line with kvcalc's figure.

A printed figure is rounded (``51.38 GiB``, ``26.12x``, ``8.23 GB``); kvcalc's figure agrees when
it lies within that rounding. Where the log gives a budget rounded to 0.01 GiB, kvcalc recomputes
at both ends of the rounding interval and says the range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Union

GiB = 1 << 30
Number = Union[int, float]


@dataclass
class Checked:
    """One line of the log that kvcalc recognised: what it reports, and kvcalc's figure."""

    line: int  # 1-based line number in the log (the first, for a wrapped line)
    text: str  # the line as printed (colour codes and worker prefix removed)
    what: str  # what the figure is: "available KV cache memory", "KV cache tokens", ...
    reported: Optional[Number]  # the figure printed
    unit: str  # GiB, MiB, tokens, blocks, cells, x, requests
    computed: Optional[Number] = None  # kvcalc's figure (a range's low end in computed_range)
    agrees: Optional[bool] = None  # None: recognised but not recomputed (rule says why)
    rule: str = ""  # the rule behind kvcalc's figure, or why it is not recomputed
    start: int = 0  # which engine start of the log (0-based)
    computed_max: Optional[Number] = None  # the high end where the figure is a range

    def document(self) -> dict[str, Any]:
        return {"line": self.line, "text": self.text, "what": self.what, "reported": self.reported,
                "unit": self.unit, "computed": self.computed, "computed_max": self.computed_max,
                "agrees": self.agrees, "rule": self.rule, "start": self.start}


@dataclass
class Start:
    """One engine start in the log: the runtime and release that ran, the model, the settings."""

    runtime: str  # vllm | sglang | llama.cpp | ik_llama.cpp
    line: int  # where it starts
    version: Optional[str] = None
    version_source: str = "inferred"  # printed | inferred
    version_evidence: str = ""  # the line or the formats it was read from
    engine: Optional[str] = None  # vLLM: v0 | v1
    model: Optional[str] = None  # as kvcalc resolved it
    model_printed: Optional[str] = None  # as the log names it
    model_error: Optional[str] = None  # why the model is unknown
    settings: dict[str, Any] = field(default_factory=dict)
    lines: list[Checked] = field(default_factory=list)

    @property
    def agrees(self) -> Optional[bool]:
        checked = [c.agrees for c in self.lines if c.agrees is not None]
        return None if not checked else all(checked)

    def document(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "version": self.version, "version_source": self.version_source,
                "version_evidence": self.version_evidence, "engine": self.engine, "line": self.line,
                "model": self.model, "model_printed": self.model_printed, "settings": self.settings,
                "agrees": self.agrees}


def rounding(value: float, decimals: int) -> tuple[float, float]:
    """The interval a figure printed with `decimals` decimals stands for."""
    half = 0.5 * 10 ** -decimals
    return value - half, value + half


def decimals_of(text: str) -> int:
    """Decimals printed in a number's text: '51.38' -> 2."""
    return len(text.partition(".")[2])


def bytes_range(value: float, decimals: int, unit: int) -> tuple[int, int]:
    """The whole bytes a figure printed in `unit` (GiB, MiB) with `decimals` decimals may have been."""
    lo, hi = rounding(value, decimals)
    return max(0, math.ceil(lo * unit)), math.floor(hi * unit)


def agrees_rounded(reported: float, decimals: int, lo: float, hi: Optional[float] = None) -> bool:
    """A figure printed with `decimals` decimals agrees with kvcalc's [lo, hi] when they overlap
    (an exact kvcalc figure: hi = lo). A float's own rounding error is allowed for."""
    hi = lo if hi is None else hi
    a, b = rounding(reported, decimals)
    eps = 1e-9 * max(1.0, abs(reported))
    return lo <= b + eps and hi >= a - eps


def number(text: str) -> float:
    """'178,880' -> 178880.0; '8.23' -> 8.23."""
    return float(text.replace(",", ""))
