"""Rows built once, rendered many ways: a rich table for people; csv, json, markdown and yaml
for machines and documents. Machine formats carry raw integers, units in the column names."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from ..engines import Engine, get_engine
from ..models.model import Model
from ..errors import InputError
from ..core.formulas import DEFAULT_BLOCK_SIZE, KVCache, kv_cache, variants
from .units import human_bytes, human_rate, percent, saving

FORMATS = ("table", "json", "csv", "markdown", "yaml")
UNITS = ("iec", "si")


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str = "text"  # text | int | bytes | ratio | saving | factor | rate | tps | bool
    optional: bool = False  # left out of a terminal table too narrow for it (machine formats keep it)


@dataclass
class Report:
    """A titled table of rows plus the document the json/yaml formats print."""

    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    document: dict[str, Any] | None = None  # json/yaml; defaults to {"rows": rows}
    notes: list[str] = field(default_factory=list)
    csv_prefix: dict[str, Any] | None = None  # context columns repeated on every CSV row
    text: str | None = None  # the table format as plain lines (check-log's line-by-line reading), if not a table


# What `-o FILE` means when --format is not given, by the file's extension.
EXTENSIONS = {".csv": "csv", ".json": "json", ".md": "markdown", ".markdown": "markdown", ".yaml": "yaml",
              ".yml": "yaml", ".txt": "table"}


def source_doc(model: Model) -> dict[str, Any] | None:
    """Where the model's numbers were read: the config.json's URL and revision (a commit when
    read from the Hugging Face cache or Hub)."""
    if model.source is None:
        return None
    return {"url": model.source.url, "revision": model.source.revision}


def output_format(fmt: str | None, output: Any = None) -> str:
    """--format as asked, else from -o's extension, else table; a --format that contradicts the
    extension is an error (t.json written as CSV helps nobody)."""
    import os.path

    inferred = EXTENSIONS.get(os.path.splitext(str(output))[1].lower()) if output else None
    if fmt is None:
        return inferred or "table"
    fmt = check_choice(fmt, FORMATS, "--format")
    if inferred and inferred != fmt:
        raise InputError(f"--format {fmt} does not match {output} (a {inferred} file by its extension): "
                         f"leave out --format, or change the name")
    return fmt


def check_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    v = str(value).strip().lower()
    if v not in choices:
        raise InputError(f"unknown {what} {value!r} (choose from: {', '.join(choices)})")
    return v


# ----- the main calculation -------------------------------------------------------------------

VARIANT_COLUMNS = [
    Column("layout", "Layout"),
    Column("n_kv_heads", "KV heads", "int"),
    Column("q_heads_per_kv_head", "Q/KV", "int", optional=True),
    Column("bytes_per_token", "Bytes/token", "int", optional=True),
    Column("kv_cache_bytes", "KV cache (B)", "int"),  # to the byte, at any width
    Column("kv_cache_human", "KV cache", "bytes"),
    Column("ratio_vs_mha", "Share", "ratio"),
    Column("saving", "Saving vs MHA", "saving", optional=True),
]


def _layer_split(c: KVCache) -> str:
    """'29 sliding layers x 1,024 tokens + 5 full x 32,768' (per sequence)."""
    parts = []
    for i, g in enumerate(c.groups):
        unit = " layers" if i == 0 else ""
        if g.kind == "none":
            parts.append(f"{g.n_layers} without attention{' (no KV)' if i else ' layers (no KV)'}")
        elif g.kind == "recurrent":
            label = c.state.label if c.state else "recurrent"
            parts.append(f"{g.n_layers} {label}{' (state, no KV)' if i else ' layers (state, no KV)'}")
        else:
            parts.append(f"{g.n_layers} {g.kind}{unit} x {g.tokens:,} tokens")
    return " + ".join(parts)


def _variant_row(c: KVCache, mha: KVCache, n_heads: int) -> dict[str, Any]:
    ratio = c.total_bytes / mha.total_bytes if mha.total_bytes else 0.0
    return {
        "layout": c.layout,
        "n_kv_heads": c.n_kv_heads,
        "q_heads_per_kv_head": n_heads // c.n_kv_heads,
        "bytes_per_token": c.bytes_per_token,
        "kv_cache_bytes": c.total_bytes,
        "k_bytes": c.k_bytes,
        "v_bytes": c.v_bytes,
        "scale_bytes": c.scale_bytes,
        "state_bytes": c.state_bytes,
        "cache_bytes": c.cache_bytes,
        "ratio_vs_mha": ratio,
    }


def calc_report(
    model: Model,
    seq_len: int,
    batch_size: int = 1,
    kv_dtype: str = "auto",
    engine: "Engine | str" = "exact",
    block_size: int = DEFAULT_BLOCK_SIZE,
    v_dtype: str | None = None,
) -> Report:
    """The model as published beside its MHA / GQA / MQA rebuilds (engine: an engines.Engine
    with its release and options, or its name; v_dtype: V's own format, llama.cpp's -ctv)."""
    eng = get_engine(engine, block_size)
    rows = variants(model, seq_len, batch_size, kv_dtype=kv_dtype, engine=eng, block_size=block_size,
                    v_dtype=v_dtype)
    published, mha = rows[0], rows[1]
    vrows = [_variant_row(c, mha, model.n_heads) for c in rows]
    from ..core.formulas import layout_kind, published_label

    vrows[0]["layout"] = published_label(model)
    for i, (r, c) in enumerate(zip(vrows, rows)):
        r["published"] = i == 0
        r["layout_kind"] = layout_kind(model, None if i == 0 else c.n_kv_heads)
    display = [dict(r) for r in vrows]
    for r in display:
        r["kv_cache_human"] = r["kv_cache_bytes"]
        r["saving"] = r["ratio_vs_mha"]
        r["cache_human"] = r["cache_bytes"]
    if model.mla is not None:  # one latent, not n_heads KV heads
        display[0]["n_kv_heads"] = display[0]["q_heads_per_kv_head"] = "latent"

    notes = [f"per sequence: {_layer_split(published)}"]
    rule = eng.dtype_rule(model) if str(kv_dtype).strip().lower() == "auto" and v_dtype in (None, "auto") else None
    if rule:
        notes.append(f"KV dtype {rule}")
    if published.scale_bytes:
        notes.append(
            f"{published.kv_dtype}: {published.data_bytes:,} B of data + {published.scale_bytes:,} B of scales"
        )
    if published.state is not None:
        notes.append(_state_note(published))
    # the exact cache in the dtype the engine serves (an fp32 checkpoint in bf16 under vLLM)
    exact = published if eng.is_exact else kv_cache(model, seq_len, batch_size, kv_dtype=published.kv_dtype)
    if not eng.is_exact:
        notes.extend(_engine_notes(model, published, exact, eng))
    if model.source:
        notes.append(f"source: {model.source.url} ({model.source.revision})")
    llama = eng.document(published)
    if llama is not None:
        notes[:0] = llama["log"]

    document = {
        "model": model.name,
        "hf_id": model.hf_id,
        "source": source_doc(model),
        **engine_doc(eng),
        "seq_len": seq_len,
        "batch_size": batch_size,
        "kv_dtype": published.kv_dtype,
        "kv_dtype_rule": rule,
        "block_size": eng.block_size,
        "n_layers": model.n_layers,
        "n_heads": model.n_heads,
        "n_kv_heads": model.n_kv_heads,
        "head_dim": model.head_dim,
        "bytes_per_token": published.bytes_per_token,
        "kv_cache_bytes": published.total_bytes,
        "k_bytes": published.k_bytes,
        "v_bytes": published.v_bytes,
        "scale_bytes": published.scale_bytes,
        "bytes_per_sequence": published.bytes_per_sequence,
        "state_bytes": published.state_bytes,
        "cache_bytes": published.cache_bytes,
        "peak_bytes": published.peak_bytes,
        "storage_bytes": published.storage_bytes,
        "exact_kv_cache_bytes": exact.total_bytes,
        "layers": [
            {
                "kind": g.kind,
                "n_layers": g.n_layers,
                "tokens": g.tokens,
                "bytes_per_token_per_layer": g.bytes_per_token,
                "kv_cache_bytes": batch_size * g.bytes_per_sequence,
            }
            for g in published.groups
        ],
        "state": None if published.state is None else {
            "n_layers": published.state.n_layers,
            "tensors": [{"name": n, "shape": list(shape), "dtype": d, "bytes_per_sequence": b}
                        for n, shape, d, b in published.state.tensors],
            "state_bytes": published.state_bytes,
        },
        "variants": vrows,
    }
    if llama is not None:
        document["v_dtype"] = published.v_dtype or published.kv_dtype
        document["cells"], document["swa_cells"] = llama["cells"], llama["swa_cells"]
        document["llama_cpp"] = llama
    title = (
        f"{model.name}: KV cache for {seq_len:,} tokens x batch {batch_size}, "
        f"{published.kv_dtype}, engine {eng.label}"
    )
    columns = VARIANT_COLUMNS
    if published.state is not None:  # the recurrent state is part of the cache: shown, not only in a note
        columns = [*columns[:-2], Column("cache_human", "KV + state", "bytes"), *columns[-2:]]
    return Report(title, columns, display, document, notes)


def _state_note(c: KVCache) -> str:
    """'state: 28 Mamba layers x (conv [8192, 4] bf16 65,536 B + ssm [8192, 16] fp32 524,288 B) ...'."""
    st = c.state
    assert st is not None
    parts = " + ".join(f"{n} {list(shape)} {d} {b:,} B" for n, shape, d, b in st.tensors)
    return (f"state: {st.n_layers} {st.label} layers x ({parts}) = {st.bytes_per_sequence:,} B per sequence, whatever "
            f"the context; K/V + state = {c.cache_bytes:,} B")


def _engine_notes(model: Model, c: KVCache, exact: KVCache, eng: Engine) -> list[str]:
    """Why the engine's cache differs from exact: the ratio, then the engine's own rules."""
    ratio = c.total_bytes / exact.total_bytes if exact.total_bytes else 0.0
    return [f"engine {eng.label}: {c.total_bytes:,} B = {ratio:.4g}x the exact {exact.total_bytes:,} B",
            *eng.notes(model, c, exact)]


def engine_doc(eng: Engine) -> dict[str, Any]:
    """The engine in a JSON document: its name, the release asked for, the release whose rules applied."""
    return {"engine": eng.name, "engine_version": eng.version, "rules_version": eng.rules_version}


# ----- rendering -----------------------------------------------------------------------------


def _cell(value: Any, kind: str, units: str) -> str:
    if value is None:
        return ""
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "int":
        return f"{value:,}" if isinstance(value, int) else str(value)  # "latent": an MLA model's KV heads
    if kind == "bytes":
        return human_bytes(value, units)
    if kind == "ratio":
        return percent(value)
    if kind == "saving":
        return saving(value)
    if kind == "factor":
        return f"{value:.2f}x"
    if kind == "rate":
        return human_rate(value)
    if kind == "tps":
        return f"{value:,.0f}"
    return str(value)


def _machine_rows(report: Report) -> list[dict[str, Any]]:
    if report.document is not None and isinstance(report.document.get("variants"), list):
        return report.document["variants"]
    return report.rows


def to_csv(report: Report) -> str:
    rows = _machine_rows(report)
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    human = {c.key for c in report.columns if c.kind in ("bytes", "saving") or c.key.endswith("_human")}
    keys = [k for k in keys if k not in human]
    buf = io.StringIO()
    prefix = _csv_prefix(report)
    writer = csv.DictWriter(buf, fieldnames=[*prefix, *keys], extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:  # booleans as JSON writes them; floats to CSV_DIGITS significant digits
        writer.writerow({k: _csv_value(v) for k, v in {**prefix, **row}.items()})
    return buf.getvalue()


CSV_DIGITS = 6  # significant digits of a float in CSV (JSON keeps full precision)


def _csv_value(v: Any) -> Any:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and math.isfinite(v):
        return f"{v:.{CSV_DIGITS}g}"
    return v


def _csv_prefix(report: Report) -> dict[str, Any]:
    """Context columns (model, seq_len, ...) repeated on every row of a calc export."""
    if report.csv_prefix is not None:
        return report.csv_prefix
    doc = report.document or {}
    if "variants" not in doc:
        return {}
    return {k: doc[k] for k in ("model", "engine", "kv_dtype", "seq_len", "batch_size")}


def finite(value: Any) -> Any:
    """The document with every non-finite float as null: JSON has no NaN or Infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def to_json(report: Report) -> str:
    doc = report.document if report.document is not None else {"rows": report.rows}
    return json.dumps(finite(doc), indent=2, allow_nan=False) + "\n"


def to_yaml(report: Report) -> str:
    import yaml

    doc = report.document if report.document is not None else {"rows": report.rows}
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=120)


def to_markdown(report: Report, units: str) -> str:
    cols = report.columns
    lines = [f"**{report.title}**", "", "| " + " | ".join(c.header for c in cols) + " |"]
    lines.append("|" + "|".join("---:" if c.kind in ("int", "bytes", "ratio") else "---" for c in cols) + "|")
    for row in report.rows:
        lines.append("| " + " | ".join(_cell(row.get(c.key), c.kind, units) for c in cols) + " |")
    lines += [""] + [f"- {n}" for n in report.notes]
    return "\n".join(lines) + "\n"


NUMERIC = ("int", "bytes", "ratio", "factor", "tps", "rate")


def _widths(report: Report, columns: list[Column], units: str, width: int | None,
            wrap: bool = True) -> list[int] | None:
    """Each column's width in a table of `width` characters (None: no room, or no limit): a
    number whole, a text at its longest line if there is room, else (wrap) narrowed, widest
    first, down to its longest word; borders and padding take 3 a column, plus 1."""
    if width is None:
        return None
    cells = [[c.header, *(_cell(r.get(c.key), c.kind, units) for r in report.rows)] for c in columns]
    most = [max(len(x) for x in texts) for texts in cells]
    least = [m if c.kind in NUMERIC else max(len(w) for x in texts for w in x.split() or [""])
             for c, m, texts in zip(columns, most, cells)]
    room = width - 3 * len(columns) - 1
    if sum(least if wrap else most) > room:
        return None
    widths = list(most)
    while sum(widths) > room:  # narrow the widest text that can still give
        i = max((j for j in range(len(widths)) if widths[j] > least[j]), key=lambda j: widths[j])
        widths[i] -= 1
    return widths


def fitting_columns(report: Report, units: str, width: int | None) -> list[Column]:
    """The columns a table of `width` characters shows whole: optional ones are left out, first
    first, until every number and every word fits (rich would otherwise cut them)."""
    columns = list(report.columns)
    while width is not None and _widths(report, columns, units, width, wrap=False) is None:
        optional = [c for c in columns if c.optional]  # first the optional columns make room,
        if not optional:  # then texts wrap between words
            break
        columns.remove(optional[0])
    return columns


def printable(text: str) -> str:
    """Text safe for a terminal: control characters (escape sequences included) written as
    Python escapes, and rich's markup brackets escaped, so a name can neither recolour nor
    move the terminal."""
    from rich.markup import escape

    return escape("".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in str(text)))


def _table(report: Report, columns: list[Column], units: str, ascii_only: bool, width: int | None) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title=printable(report.title), title_justify="left", caption_justify="left",
                  box=box.ASCII if ascii_only else box.HEAVY_HEAD)
    widths = _widths(report, columns, units, width) or [None] * len(columns)
    for c, w in zip(columns, widths):
        numeric = c.kind in NUMERIC
        table.add_column(c.header, justify="right" if numeric else "left", no_wrap=numeric, overflow="fold",
                         width=w)  # a text wraps between words, never inside one
    for row in report.rows:
        table.add_row(*(printable(_cell(row.get(c.key), c.kind, units)) for c in columns))
    return table


def to_table(report: Report, units: str, width: int | None = None, ascii_only: bool = False) -> Any:
    """A rich Table (with its notes as a caption) ready to print; at `width` (a terminal's),
    optional columns make room, and a number that still does not fit folds, never cut."""
    columns = fitting_columns(report, units, width)
    table = _table(report, columns, units, ascii_only, width)
    notes = list(report.notes)
    if len(columns) < len(report.columns):
        hidden = ", ".join(c.header for c in report.columns if c not in columns)
        notes.append(f"({hidden}: left out at {width} columns; --wide, a wider terminal or --format json shows them)")
    if notes:
        table.caption = printable("\n".join(notes))
    return table


RENDERERS: dict[str, Callable[[Report, str], str]] = {
    "json": lambda r, u: to_json(r),
    "yaml": lambda r, u: to_yaml(r),
    "csv": lambda r, u: to_csv(r),
    "markdown": to_markdown,
}


def render_text(report: Report, fmt: str, units: str, width: int = 120) -> str:
    """The report as text in any format; a table is drawn without colour (for files)."""
    if fmt in RENDERERS:
        return RENDERERS[fmt](report, units)
    if report.text is not None:
        return report.text
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, color_system=None, force_terminal=False).print(
        to_table(report, units, width)
    )
    return buf.getvalue()


def utf8(console: Any) -> bool:
    """Whether the terminal's encoding can draw box lines and bars (else ASCII fallbacks)."""
    return str(getattr(console, "encoding", "utf-8")).lower().replace("-", "").startswith("utf")


def stdout_console(pipe_width: int = 200) -> Any:
    """The console tables print on: the terminal's width, or COLUMNS; pipes and files get
    pipe_width, so that no number is ever cut (the one console-width rule of kvcalc)."""
    import os

    from rich.console import Console

    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=pipe_width)
    return console


def show(console: Any, renderable: Any, wide: bool = False) -> None:
    """Print a rich renderable: to a terminal as rich does; to a pipe or file as plain lines
    with no trailing spaces (and, with --wide, at the table's natural width)."""
    import sys

    if console.is_terminal and not wide:
        console.print(renderable)
        return
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=100_000 if wide else console.width, no_color=True, color_system=None,
            force_terminal=False, legacy_windows=False).print(renderable)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines()))


def emit(report: Report, fmt: str | None = "table", units: str = "iec", output: str | None = None,
         wide: bool = False) -> None:
    """Print the report to stdout, or write it whole to output (format None: by its extension);
    wide: every column, whatever the terminal's width."""
    fmt = output_format(fmt, output)
    units = check_choice(units, UNITS, "--units")
    if output:
        from .outfile import write_atomic

        write_atomic(output, render_text(report, fmt, units))
        return
    if fmt == "table" and report.text is not None:
        import sys

        sys.stdout.write(report.text)
        return
    if fmt == "table":
        console = stdout_console()
        show(console, to_table(report, units, None if wide else console.width, ascii_only=not utf8(console)), wide)
        return
    import sys

    sys.stdout.write(RENDERERS[fmt](report, units))
