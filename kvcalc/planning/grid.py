"""`kvcalc table`: the cartesian grid of models x KV dtypes x KV heads x tp x seq x batch, one row
each, streamed to csv / json / markdown / yaml with bounded memory (a million rows in seconds).

The column schema (raw integers, units in the names) is SCHEMA; it is part of kvcalc's contract.
Each (model, dtype, heads, tp, seq) is computed once; the batch loop only multiplies.
"""

from __future__ import annotations

import itertools
import json
import sys
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterator

from .capacity import kv_heads_per_gpu, stage_model
from ..errors import InputError
from ..engines import Engine, get_engine
from ..core.formulas import DEFAULT_BLOCK_SIZE, check_kv_heads, kv_cache, layout_kind, layout_name, published_label
from ..models.model import Model

SCHEMA = (
    "model",  # kvcalc name
    "layout",  # the model's own, e.g. GQA-8 (published); or its rebuilds MHA, GQA-<n>, MQA
    "n_kv_heads",  # KV heads of the layout
    "kv_dtype",  # element type of the cache
    "engine",  # exact | hf | vllm (the release: the JSON document's engine_version)
    "seq_len",  # tokens per sequence
    "batch_size",  # sequences
    "tp",  # tensor-parallel GPUs
    "kv_heads_per_gpu",  # max(1, n_kv_heads // tp); 0 for an MLA latent (not split)
    "bytes_per_token",  # K + V of one token, all layers, whole model
    "bytes_per_sequence",  # one sequence of seq_len tokens, whole model
    "kv_cache_bytes",  # the batch, whole model
    "kv_cache_bytes_per_gpu",  # the batch, on one GPU of the tp group
    "published",  # true for the model as published, false for a rebuild
    "layout_kind",  # MHA | GQA | MQA | MLA | hybrid
)
TEXT_COLUMNS = {"model", "layout", "kv_dtype", "engine", "layout_kind"}  # the others are integers or booleans
TABLE_LIMIT = 10_000  # rows drawn as a terminal table; beyond, a file format
MAX_ROWS = 10_000_000  # rows written unless --max-rows says more (about 1 GB of CSV)
MAX_AXIS = 10_000  # values of the small axes (KV heads, tp, dtypes), which are held in memory


@dataclass(frozen=True)
class Grid:
    models: list[Model]
    seqs: list[int]
    batches: list[int]
    kv_dtypes: list[str]
    kv_heads: list[int] | None  # None: each model as published
    tps: list[int]
    engine: Engine = field(default_factory=Engine)
    block_size: int = DEFAULT_BLOCK_SIZE

    def __post_init__(self) -> None:
        object.__setattr__(self, "engine", get_engine(self.engine, self.block_size))
        if self.engine.shares_context:  # llama.cpp sizes slots sharing one -c, not a batch grid
            raise InputError(f"--engine {self.engine.name} sizes one context shared by --parallel slots, not a "
                             f"grid of batches: use kvcalc MODEL --seq N --engine {self.engine.name}")

    @property
    def n_rows(self) -> int:
        return (len(self.models) * len(self.kv_dtypes) * len(self.kv_heads or [None]) * len(self.tps)
                * len(self.seqs) * len(self.batches))

    def check(self, max_rows: int | None = None) -> None:
        """Refuse bad combinations, and grids bigger than asked for, before a single row is written."""
        for what, values in (("--kv-heads", self.kv_heads or []), ("--tp", self.tps), ("--kv-dtype", self.kv_dtypes)):
            if len(values) > MAX_AXIS:
                raise InputError(f"{what}: {len(values):,} values (at most {MAX_AXIS:,})")
        if max_rows is not None and self.n_rows > max_rows:
            raise InputError(f"{self.n_rows:,} rows, more than --max-rows {max_rows:,}: narrow the ranges, or give "
                             f"--max-rows {self.n_rows}")
        for m, heads, tp in itertools.product(self.models, self.kv_heads or [None], self.tps):
            if heads is not None:
                check_kv_heads(m, heads)
            if m.n_heads % tp:
                raise InputError(f"--tp {tp} does not divide the {m.n_heads} query heads of {m.name}")
            if heads is not None or not m.mla:
                kv_heads_per_gpu(heads if heads is not None else m.n_kv_heads, tp)
        for m, dt in itertools.product(self.models, self.kv_dtypes):
            kv_cache(m, 1, kv_dtype=dt, engine=self.engine, block_size=self.block_size)


def rows(grid: Grid) -> Iterator[tuple[Any, ...]]:
    """The grid's rows in SCHEMA order: models, dtypes, heads, tp, seq, then batch innermost."""
    for m, dt, heads, tp in itertools.product(grid.models, grid.kv_dtypes, grid.kv_heads or [None], grid.tps):
        per_gpu_heads = kv_heads_per_gpu(heads, tp) if heads is not None else None
        shard = stage_model(m, range(m.n_layers), tp, grid.engine)
        gpu_heads = per_gpu_heads if per_gpu_heads is not None else (0 if m.mla else shard.n_kv_heads)
        layout = published_label(m) if heads is None else layout_name(m, heads)
        own = (heads is None, layout_kind(m, heads))
        for s in grid.seqs:
            whole = kv_cache(m, s, 1, kv_dtype=dt, engine=grid.engine, block_size=grid.block_size, n_kv_heads=heads)
            one = kv_cache(shard, s, 1, kv_dtype=dt, engine=grid.engine, block_size=grid.block_size,
                           n_kv_heads=per_gpu_heads)
            per_seq, per_gpu = whole.total_bytes, one.total_bytes
            head = (m.name, layout, whole.n_kv_heads, whole.kv_dtype, grid.engine.name, s)
            tail = (tp, gpu_heads, whole.bytes_per_token, per_seq)
            for b in grid.batches:
                yield (*head, b, *tail, per_seq * b, per_gpu * b, *own)


def _csv(out: IO[str]) -> tuple[Callable[[tuple[Any, ...]], Any], Callable[[], None]]:
    import csv

    w = csv.writer(out, lineterminator="\n")
    w.writerow(SCHEMA)
    return (lambda r: w.writerow(["true" if v is True else "false" if v is False else v for v in r])), lambda: None


def _json(out: IO[str], said: tuple[str, ...] = ()) -> tuple[Callable[[tuple[Any, ...]], Any], Callable[[], None]]:
    out.write('{"columns": ' + json.dumps(SCHEMA) + ', "rows": [')
    first = [True]

    def row(r: tuple[Any, ...]) -> None:
        out.write(("\n" if first[0] else ",\n") + json.dumps(dict(zip(SCHEMA, r))))
        first[0] = False

    tail = f', "assumed_standard_attention": {json.dumps(list(said))}' if said else ""
    return row, lambda: out.write("\n]" + tail + "}\n")


def _markdown(out: IO[str]) -> tuple[Callable[[tuple[Any, ...]], Any], Callable[[], None]]:
    out.write("| " + " | ".join(SCHEMA) + " |\n|" + "|".join("---" if i < 5 else "---:" for i in range(len(SCHEMA))) + "|\n")
    return (lambda r: out.write("| " + " | ".join(map(str, r)) + " |\n")), lambda: None


def _yaml(out: IO[str]) -> tuple[Callable[[tuple[Any, ...]], Any], Callable[[], None]]:
    # JSON scalars are YAML scalars: strings quoted, integers bare
    def row(r: tuple[Any, ...]) -> None:
        out.write("".join(("- " if i == 0 else "  ") + f"{k}: {json.dumps(v)}\n" for i, (k, v) in enumerate(zip(SCHEMA, r))))

    return row, lambda: None


WRITERS = {"csv": _csv, "json": _json, "markdown": _markdown, "yaml": _yaml}


def write(grid: Grid, fmt: str, out: IO[str], progress: Callable[[int], None] | None = None,
          said: tuple[str, ...] = ()) -> int:
    """Stream the grid to `out` in `fmt`; `progress(n)` is told every 10,000 rows; `said`: the
    assumptions the JSON carries (assumed_standard_attention). Rows written."""
    row, end = _json(out, said) if fmt == "json" else WRITERS[fmt](out)
    n = 0
    for n, r in enumerate(rows(grid), 1):
        row(r)
        if progress is not None and n % 10_000 == 0:
            progress(n)
    end()
    return n


def export(grid: Grid, fmt: str, output: str | None, said: tuple[str, ...] = ()) -> None:
    """Check the grid, then stream it to stdout or, whole or not at all, to `output`, with a
    progress bar on stderr when that is a terminal and the rows go to a file."""
    grid.check()
    if output is None:
        write(grid, fmt, sys.stdout, said=said)
        return
    from ..output.outfile import open_atomic

    show = sys.stderr.isatty() and grid.n_rows >= 10_000
    with open_atomic(output) as f:
        if not show:
            write(grid, fmt, f, said=said)
            return
        from rich.progress import Progress

        with Progress(transient=True, console=__import__("rich.console").console.Console(stderr=True)) as bar:
            task = bar.add_task(f"writing {output}", total=grid.n_rows)
            write(grid, fmt, f, lambda n: bar.update(task, completed=n), said)
