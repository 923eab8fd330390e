"""check-log's answer: each start (runtime, release, model, settings), then line by line what the
log printed, kvcalc's figure, and whether they agree. The table format is plain lines (a log line
is too long for a table); json / yaml / csv / markdown carry the same lines as rows."""

from __future__ import annotations

import re
from typing import Any

from ..output.report import Column, Report
from .check import CheckedLog
from .record import Checked, Start

COLUMNS = [
    Column("line", "Line", "int"),
    Column("what", "What"),
    Column("reported", "Reported"),
    Column("unit", "Unit"),
    Column("computed", "kvcalc"),
    Column("agrees", "Agrees"),
    Column("rule", "Rule", optional=True),
]
_TITLES = {"vllm": "vLLM", "sglang": "SGLang", "llama.cpp": "llama.cpp", "ik_llama.cpp": "ik_llama.cpp"}
_MESSAGE = re.compile(r"^.*?\[[\w./-]+\.py:\d+\]\s*")  # "INFO 07-22 10:00:00 [gpu_worker.py:276] "


def _figure(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if value != int(value) or value < 1e6 else f"{value:,.0f}"
    return f"{value:,}"


def _computed(c: Checked) -> str:
    if c.computed is None:
        return "-"
    if c.computed_max is not None and c.computed_max != c.computed:
        return f"{_figure(c.computed)}..{_figure(c.computed_max)}"
    return _figure(c.computed)


def _status(c: Checked) -> str:
    return "not recomputed" if c.agrees is None else "agrees" if c.agrees else "DOES NOT AGREE"


def _start_title(s: Start) -> str:
    title = _TITLES.get(s.runtime, s.runtime)
    version = s.version or "release unknown"
    engine = f", {s.engine.upper()} engine" if s.engine else ""
    how = f"printed: {s.version_evidence}" if s.version_source == "printed" else f"inferred: {s.version_evidence or 'not printed'}"
    return f"{title} {version}{engine} ({how})"


def _settings_text(s: Start) -> str:
    return ", ".join(f"{k} {v}" for k, v in s.settings.items() if k != "model") or "none printed"


def _text(log: CheckedLog) -> str:
    out = [_headline(log), ""]
    for i, s in enumerate(log.starts):
        out.append(f"start {i + 1} (line {s.line}): {_start_title(s)}")
        model = s.model or f"unknown ({s.model_error})"
        if s.model_printed and s.model and s.model_printed != s.model:
            model = f"{s.model_printed} -> {s.model}"
        out.append(f"  model     {model}")
        out.append(f"  settings  {_settings_text(s)}")
        last = None
        for c in s.lines:
            if c.line != last:
                out.append(f"  line {c.line:<6d}{_MESSAGE.sub('', c.text).strip()}")
                last = c.line
            figures = f"{_figure(c.reported)} {c.unit}"
            if c.agrees is None:
                out.append(f"      {c.what}: {figures}; {c.rule}")
                continue
            out.append(f"      {c.what}: {figures} | kvcalc {_computed(c)} | {_status(c)}")
            out.append(f"        {c.rule}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _headline(log: CheckedLog) -> str:
    checked = [c for c in log.lines if c.agrees is not None]
    wrong = [c for c in checked if not c.agrees]
    starts = len(log.starts)
    verdict = ("no line could be recomputed" if not checked else
               "every recomputed line agrees" if not wrong else f"{len(wrong)} DO NOT AGREE")
    return (f"{log.path}: {starts} engine start{'s' if starts != 1 else ''}, {len(log.lines)} memory lines recognised, "
            f"{len(checked)} recomputed: {verdict}")


def check_log_report(log: CheckedLog) -> Report:
    first = log.starts[0]
    lines = [c.document() for c in log.lines]
    doc = {
        "file": log.path, "runtime": first.runtime, "version": first.version,
        "version_source": first.version_source, "model": first.model, "settings": first.settings,
        "agrees": log.agrees, "exit_code": log.exit_code,
        "starts": [s.document() for s in log.starts], "lines": lines,
    }
    rows = [{k: v for k, v in d.items() if k != "text"} for d in lines]
    notes = [f"start {i + 1} (line {s.line}): {_start_title(s)}; model {s.model or 'unknown'}"
             for i, s in enumerate(log.starts)]
    return Report(_headline(log), COLUMNS, rows, doc, notes, text=_text(log))
