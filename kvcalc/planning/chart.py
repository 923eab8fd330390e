"""`kvcalc chart`: KV bytes against context length for a model and its MHA / GQA / MQA rebuilds,
as bars in the terminal (rich) or, with --plot FILE.png, a line chart (matplotlib, optional)."""

from __future__ import annotations

from typing import Any

from ..errors import KvcalcError
from ..core.formulas import layout_kind, published_label, variant_heads, variants
from ..models.model import Model
from ..engines import Engine, get_engine
from ..output.report import Column, Report, engine_doc
from ..output.units import human_bytes

BAR_WIDTH = 48
COLUMNS = [Column("seq_len", "Context", "int"), Column("layout", "Layout"), Column("kv_cache_bytes", "KV cache (B)", "int")]


def default_contexts(model: Model) -> list[int]:
    """Powers of two from 1,024 tokens up to the model's max_context (at least 1k..128k)."""
    top = max(model.max_context or 131072, 1024)
    out, s = [], 1024
    while s <= top:
        out.append(s)
        s *= 2
    return out or [1024]


def series(model: Model, seqs: list[int], batch_size: int = 1, kv_dtype: str = "auto",
           engine: "Engine | str" = "exact") -> dict[str, list[int]]:
    """layout -> KV bytes at each context: the model as published, then MHA / GQA / MQA."""
    out: dict[str, list[int]] = {}
    for s in seqs:
        for c in variants(model, s, batch_size, kv_dtype=kv_dtype, engine=engine):
            label = published_label(model) if c.layout == "model" else c.layout
            out.setdefault(label, []).append(c.total_bytes)
    return out


def chart_report(model: Model, seqs: list[int], batch_size: int = 1, kv_dtype: str = "auto",
                 engine: "Engine | str" = "exact") -> tuple[Report, dict[str, list[int]]]:
    engine = get_engine(engine)
    data = series(model, seqs, batch_size, kv_dtype, engine)
    kinds = [(True, layout_kind(model))] + [(False, layout_kind(model, h)) for _, h in variant_heads(model)]  # series order
    rows = [{"seq_len": s, "layout": lay, "published": p, "layout_kind": k, "kv_cache_bytes": v[i]}
            for i, s in enumerate(seqs) for (lay, v), (p, k) in zip(data.items(), kinds)]
    lines = [{"layout": lay, "published": p, "layout_kind": k, "kv_cache_bytes": v}
             for (lay, v), (p, k) in zip(data.items(), kinds)]
    doc = {"model": model.name, "batch_size": batch_size, **engine_doc(engine), "seq_lens": seqs, "series": data,
           "lines": lines}
    title = f"{model.name}: KV cache against context, batch {batch_size}, engine {engine.label}"
    return Report(title, COLUMNS, rows, doc, [], csv_prefix={"model": model.name, "batch_size": batch_size}), data


def render_bars(title: str, seqs: list[int], data: dict[str, list[int]], units: str = "iec",
                ascii_only: bool = False, width: int = 80) -> Any:
    """A rich renderable: for each context, one bar a layout, scaled to the largest value (bars
    of '#' on a terminal that cannot draw block elements)."""
    from ..output.report import printable

    from rich.table import Table
    from rich.text import Text

    top = max((v for vals in data.values() for v in vals), default=0) or 1
    fixed = max(len(f"{s:,}") for s in seqs) + max(len(label) for label in data) + 10 + 6  # 3 gaps of 2
    bar_width = max(8, min(BAR_WIDTH, width - fixed - 2))
    styles = ["bold white", "red", "green", "blue", "magenta"]
    table = Table(title=printable(title), title_justify="left", show_header=True, box=None, pad_edge=False)
    table.add_column("Context", justify="right", no_wrap=True)
    table.add_column("Layout", no_wrap=True)
    table.add_column("KV cache", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    for i, s in enumerate(seqs):
        for j, (label, vals) in enumerate(data.items()):
            v = vals[i]
            eighths = round(v / top * bar_width * 8)
            if ascii_only:
                bar = "#" * max(1, round(eighths / 8))
            else:
                bar = "█" * (eighths // 8) + ("▏▎▍▌▋▊▉"[eighths % 8 - 1] if eighths % 8 else "") or "▏"
            table.add_row(f"{s:,}" if j == 0 else "", printable(label), human_bytes(v, units),
                          Text(bar, style=styles[j % len(styles)]))
        if i < len(seqs) - 1:
            table.add_row("", "", "", "")
    return table


def plot_png(path: str, model: Model, seqs: list[int], data: dict[str, list[int]], batch_size: int) -> None:
    """A line chart of KV GiB against context (log2 axis), written whole to path."""
    try:
        import matplotlib
    except ImportError:
        raise KvcalcError("--plot needs matplotlib: pip install 'kvcalc[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..output.outfile import open_atomic

    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    from ..output.units import IEC

    top = max((v for vals in data.values() for v in vals), default=1) or 1
    unit, scale = next(((u, s) for u, s in IEC if top >= s), ("B", 1))  # the unit human_bytes would pick
    for i, (label, vals) in enumerate(data.items()):
        own = i == 0  # the model as published: drawn on top, dashed and thick, so a rebuild never hides it
        ax.plot(seqs, [v / scale for v in vals], label=label, marker="D" if own else "o", markersize=7 if own else 4,
                linestyle="--" if own else "-", linewidth=2.5 if own else 1.5, zorder=3 if own else 2,
                color="black" if own else None)
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: _tokens(x)))
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel(f"KV cache ({unit})")
    ax.set_title(f"{model.name}: KV cache, batch {batch_size}")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fmt = path.rsplit(".", 1)[-1].lower() if "." in path else "png"
    try:
        with open_atomic(path, "wb") as f:
            fig.savefig(f, format=fmt, bbox_inches="tight")
    except ValueError as err:  # an extension matplotlib cannot write
        raise KvcalcError(f"--plot {path}: {err}") from None
    finally:
        plt.close(fig)


def _tokens(x: float) -> str:
    """A tick in tokens: 512, 1k, 32k, 1M."""
    n = int(round(x))
    for unit, size in (("M", 1 << 20), ("k", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return f"{n:,}"
