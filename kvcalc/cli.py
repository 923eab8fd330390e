"""The kvcalc command line: parse -> call the core -> render. No arithmetic here.

`kvcalc MODEL --seq N` is short for `kvcalc calc MODEL --seq N`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from . import __version__
from .engines import DEFAULT_BLOCK_SIZE
from .errors import KvcalcError

DTYPE_HELP = "KV element type: auto (the model's own), fp32, fp16, bf16, fp8, fp8_e4m3, fp8_e5m2, int8, int4, nvfp4."
MAX_CHART_POINTS = 2_000
FORMAT_HELP = "Output format: table, json, csv, markdown or yaml (default: from -o's extension, else table)."


class DefaultGroup(TyperGroup):
    """Runs `calc` when the first argument is not a command name."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["calc", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx, formatter) -> None:  # type: ignore[no-untyped-def]
        formatter.write_usage("kvcalc", "MODEL --seq N [OPTIONS]  |  kvcalc COMMAND [ARGS]...")


app = typer.Typer(
    cls=DefaultGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Exact KV-cache sizes of LLMs, as MHA, GQA and MQA. `kvcalc MODEL --seq N` is `kvcalc calc MODEL --seq N`.",
)

ModelArg = Annotated[str, typer.Argument(help="Model name, alias or Hugging Face id (see `kvcalc list`), or a .yaml / config.json path.", show_default=False)]
SeqOpt = Annotated[str, typer.Option("--seq", "-s", help="Tokens per sequence: 4096, 4k or 128k.", show_default=False)]
BatchOpt = Annotated[str, typer.Option("--batch", "-b", help="Sequences in the batch.")]
DtypeOpt = Annotated[str, typer.Option("--kv-dtype", help=DTYPE_HELP)]
UnitsOpt = Annotated[str, typer.Option("--units", help="Human units in tables: iec (GiB) or si (GB).")]
FormatOpt = Annotated[Optional[str], typer.Option("--format", "-f", help=FORMAT_HELP, show_default=False)]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to FILE (whole, or not at all) instead of stdout.")]
EngineOpt = Annotated[str, typer.Option("--engine", "-e", help="Runtime profile: exact (what the model needs), hf (transformers), vllm (paged blocks), llama.cpp (cells, ggml types).")]
BlockOpt = Annotated[str, typer.Option("--block-size", help="Tokens per paged block (engine vllm).")]


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)] = False,
) -> None:
    if version:
        typer.echo(f"kvcalc {__version__}")
        raise typer.Exit()


@app.command("calc")
def calc(
    model: ModelArg,
    seq: SeqOpt,
    batch: BatchOpt = "1",
    kv_dtype: DtypeOpt = "auto",
    engine: EngineOpt = "exact",
    block_size: BlockOpt = str(DEFAULT_BLOCK_SIZE),
    units: UnitsOpt = "iec",
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    measure: Annotated[bool, typer.Option("--measure", help="Allocate the cache with PyTorch and compare (needs kvcalc\\[measure]).")] = False,
    device: Annotated[str, typer.Option("--device", help="Where --measure allocates: auto, cuda or cpu.")] = "auto",
    k_dtype: Annotated[Optional[str], typer.Option("--k-dtype", "-ctk", help="llama.cpp: K cache type (f16, q8_0, q4_0, ...; default --kv-dtype).", show_default=False)] = None,
    v_dtype: Annotated[Optional[str], typer.Option("--v-dtype", "-ctv", help="llama.cpp: V cache type (default --kv-dtype).", show_default=False)] = None,
    parallel: Annotated[Optional[str], typer.Option("--parallel", "-np", help="llama.cpp: sequence slots sharing --seq (-c); default llama-server's auto, 4 in a unified buffer.", show_default=False)] = None,
    kv_unified: Annotated[Optional[bool], typer.Option("--kv-unified/--no-kv-unified", help="llama.cpp: one KV buffer for all slots (default: on with auto -np, else off).", show_default=False)] = None,
    swa_full: Annotated[bool, typer.Option("--swa-full", help="llama.cpp: full-size cache for sliding-window layers.")] = False,
    ubatch: Annotated[str, typer.Option("--ubatch", "-ub", help="llama.cpp: physical batch size (n_ubatch).")] = "512",
    flash_attn: Annotated[str, typer.Option("--flash-attn", "-fa", help="llama.cpp: on, off or auto.")] = "auto",
) -> None:
    """KV-cache bytes of MODEL for --seq tokens, beside its MHA / GQA / MQA rebuilds."""
    from .registry import load_model
    from .report import UNITS, calc_report, check_choice, emit, output_format
    from .units import parse_size

    fmt, units = output_format(fmt, output), check_choice(units, UNITS, "--units")
    check_choice(device, ("auto", "cuda", "cpu"), "--device")
    seq_len, batch_size = parse_size(seq, "--seq"), parse_size(batch, "--batch")
    blocks = parse_size(block_size, "--block-size")
    cfg = load_model(model)
    llama_opts = (k_dtype, v_dtype, parallel, kv_unified, swa_full or None, flash_attn != "auto" or None, ubatch != "512" or None)
    if engine.strip().lower() in ("llama.cpp", "llamacpp"):
        from .engines import LlamaCpp
        from .engines.llamacpp import FLASH_ATTN
        from .errors import InputError

        if batch_size != 1:
            raise InputError("with --engine llama.cpp, --seq is -c (n_ctx) shared by --parallel (-np) slots: "
                             "give --parallel instead of --batch")
        n_par = parse_size(parallel, "--parallel") if parallel is not None else 4
        engine = LlamaCpp(n_parallel=n_par, kv_unified=kv_unified if kv_unified is not None else parallel is None,
                          swa_full=swa_full, n_ubatch=parse_size(ubatch, "--ubatch"),
                          flash_attn=check_choice(flash_attn, FLASH_ATTN, "--flash-attn"))
        kv_dtype, v_dtype = (k_dtype if k_dtype is not None else kv_dtype), (v_dtype if v_dtype is not None else kv_dtype)
    elif any(o is not None for o in llama_opts):
        from .errors import InputError

        raise InputError("--k-dtype, --v-dtype, --parallel, --kv-unified, --swa-full, --ubatch and --flash-attn "
                         "are llama.cpp's: add --engine llama.cpp")
    if measure:
        from .measure import measure_report

        report, ok = measure_report(cfg, seq_len, batch_size, kv_dtype, engine, blocks, device, v_dtype)
        emit(report, fmt, units, str(output) if output else None)
        if not ok:
            raise typer.Exit(1)
        return
    emit(calc_report(cfg, seq_len, batch_size, kv_dtype, engine, blocks, v_dtype), fmt, units, str(output) if output else None)


@app.command("list")
def list_models(
    kv_dtype: DtypeOpt = "auto",
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """Every shipped model: layers, heads, KV heads, head_dim, group size, bytes per token."""
    from .registry import load_all
    from .report import emit
    from .summary import models_report

    emit(models_report(load_all(), kv_dtype), fmt, "iec", str(output) if output else None)


@app.command("show")
def show(
    model: ModelArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="yaml (the config as a file of this schema) or json.")] = "yaml",
) -> None:
    """A model's config, its layer layout and the source of its numbers."""
    from .registry import load_model
    from .summary import show_text

    typer.echo(show_text(load_model(model), fmt), nl=False)


@app.command("import")
def import_config(
    config: Annotated[Path, typer.Argument(help="A Hugging Face config.json, or a .gguf file.", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the YAML here (e.g. configs/NAME.yaml).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="The model's name in kvcalc (default: from the file).")] = None,
) -> None:
    """Turn a config.json or a GGUF's metadata into a kvcalc YAML config."""
    from .summary import import_yaml

    text = import_yaml(config, name)
    if output:
        from .outfile import write_atomic

        write_atomic(output, text)
        typer.echo(f"wrote {output}", err=True)
    else:
        typer.echo(text, nl=False)


@app.command("measure")
def measure_all(
    all_models: Annotated[bool, typer.Option("--all", help="Every shipped model (required for now).")] = False,
    seq: Annotated[str, typer.Option("--seq", "-s", help="Tokens per sequence.")] = "128",
    batch: BatchOpt = "1",
    kv_dtype: DtypeOpt = "auto",
    engine: EngineOpt = "exact",
    block_size: BlockOpt = str(DEFAULT_BLOCK_SIZE),
    device: Annotated[str, typer.Option("--device", help="auto, cuda or cpu.")] = "cpu",
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """Allocate every shipped model's cache at a small size and compare with the formula."""
    from .errors import InputError
    from .measure import measure_all_report
    from .registry import load_all
    from .report import emit
    from .units import parse_size

    if not all_models:
        raise InputError("kvcalc measure needs --all (one model: kvcalc MODEL --seq N --measure)")
    report, ok = measure_all_report(list(load_all()), parse_size(seq, "--seq"), parse_size(batch, "--batch"), kv_dtype,
                                    engine, parse_size(block_size, "--block-size"), device)
    emit(report, fmt, "iec", str(output) if output else None)
    if not ok:
        raise typer.Exit(1)


# ----- capacity planning ------------------------------------------------------------------------

GpuOpt = Annotated[str, typer.Option("--gpu", "-g", help="GPU from the catalog (see `kvcalc gpus`), e.g. h100-80gb.", show_default=False)]
GpusOpt = Annotated[Optional[str], typer.Option("--gpus", help="GPUs in all (default tp x pp; more makes data-parallel replicas).")]
TpOpt = Annotated[Optional[str], typer.Option("--tp", help="Tensor-parallel GPUs (default --gpus / --pp, else 1).")]
PpOpt = Annotated[str, typer.Option("--pp", help="Pipeline-parallel stages.")]
UtilOpt = Annotated[str, typer.Option("--gpu-memory-utilization", help="Share of each GPU's memory to use, as vLLM's flag.")]
ReserveOpt = Annotated[str, typer.Option("--reserve", help="Memory per GPU kept for activations, CUDA graphs and the CUDA context: 2GiB, 1.5GB, bytes.")]
WDtypeOpt = Annotated[str, typer.Option("--weights-dtype", help="Weights element type: auto (the model's), fp32, fp16, bf16, fp8, int8, int4.")]
WBytesOpt = Annotated[Optional[str], typer.Option("--weights-bytes", help="Weights in all (e.g. 140GB), instead of counting parameters.")]
CatalogOpt = Annotated[Optional[Path], typer.Option("--gpu-catalog", help="A YAML file of more GPUs (same shape as kvcalc/gpus.yaml).")]


def _setup(model, gpu, gpus, tp, pp, util, reserve, block_size, kv_dtype, weights_dtype, catalog, engine="vllm"):  # type: ignore[no-untyped-def]
    from .capacity import make_setup
    from .gpus import find_gpu
    from .units import parse_bytes, parse_fraction, parse_size

    return make_setup(
        model, find_gpu(gpu, catalog), parse_size(gpus, "--gpus") if gpus is not None else None,
        parse_size(tp, "--tp") if tp is not None else None, parse_size(pp, "--pp"), parse_fraction(util, "--gpu-memory-utilization"),
        parse_bytes(reserve, "--reserve", allow_zero=True), parse_size(block_size, "--block-size"), kv_dtype, weights_dtype,
        engine.strip().lower(),
    )


@app.command("compare")
def compare(
    models: Annotated[list[str], typer.Argument(help="Models to put side by side (names, aliases or files).", show_default=False)],
    seq: SeqOpt,
    batch: BatchOpt = "1",
    kv_heads: Annotated[Optional[str], typer.Option("--kv-heads", help="Head configurations of each model: 64,32,8,1 or all (every divisor of n_heads).")] = None,
    kv_dtype: DtypeOpt = "auto",
    engine: EngineOpt = "exact",
    block_size: BlockOpt = str(DEFAULT_BLOCK_SIZE),
    gpu: Annotated[Optional[str], typer.Option("--gpu", "-g", help="Add the decode speed bound on this GPU.")] = None,
    tp: Annotated[Optional[str], typer.Option("--tp", help="Tensor-parallel GPUs for --gpu (default 1).")] = None,
    catalog: CatalogOpt = None,
    units: UnitsOpt = "iec",
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """Models, or the head configurations of one model (MHA to MQA), side by side."""
    from .compare import compare_report, parse_kv_heads
    from .registry import load_model
    from .report import emit
    from .units import parse_size

    cfgs = [load_model(m) for m in models]
    heads = parse_kv_heads(kv_heads, cfgs)
    if gpu is not None:
        from .capacity import DEFAULT_RESERVE, DEFAULT_UTILIZATION

        setup = _setup(cfgs[0], gpu, None, tp, "1", DEFAULT_UTILIZATION, DEFAULT_RESERVE, block_size, kv_dtype, "auto", catalog,
                       engine)
    else:
        setup = None
    report = compare_report(cfgs, parse_size(seq, "--seq"), parse_size(batch, "--batch"), kv_dtype, engine,
                            parse_size(block_size, "--block-size"), heads, setup)
    emit(report, fmt, units, str(output) if output else None)


@app.command("table")
def table(
    models: Annotated[list[str], typer.Argument(help="Models (names, aliases or files).", show_default=False)],
    seq: Annotated[str, typer.Option("--seq", "-s", help="Tokens: a list and/or ranges, 1k,4k,32k or 1k:128k:1k.", show_default=False)],
    batch: Annotated[str, typer.Option("--batch", "-b", help="Sequences: a list and/or ranges, 1,8,64 or 1:256.")] = "1",
    kv_dtype: Annotated[str, typer.Option("--kv-dtype", help="KV element types, comma-separated (auto, fp16, bf16, fp8, int8, int4, ...).")] = "auto",
    kv_heads: Annotated[Optional[str], typer.Option("--kv-heads", help="Rebuild each model with these KV-head counts (default: as published).")] = None,
    tp: Annotated[str, typer.Option("--tp", help="Tensor-parallel sizes, comma-separated.")] = "1",
    engine: EngineOpt = "exact",
    block_size: BlockOpt = str(DEFAULT_BLOCK_SIZE),
    fmt: Annotated[Optional[str], typer.Option("--format", "-f", help="table (terminal, up to 10,000 rows), csv, json, markdown or yaml; default: from -o's extension, else table.", show_default=False)] = None,
    output: OutputOpt = None,
    max_rows: Annotated[str, typer.Option("--max-rows", help="Refuse grids of more rows (ranges stream, so only time and disk are at stake).")] = "10000000",
) -> None:
    """The grid models x dtypes x KV heads x tp x seq x batch, one row each (see README for the columns)."""
    from .grid import GRID_ENGINES, SCHEMA, TABLE_LIMIT, TEXT_COLUMNS, Grid, export, rows
    from .registry import load_model
    from .report import Column, Report, check_choice, emit, output_format
    from .units import parse_size, parse_size_list

    fmt = output_format(fmt, output)
    grid = Grid([load_model(m) for m in models], parse_size_list(seq, "--seq"), parse_size_list(batch, "--batch"),
                [d.strip() for d in kv_dtype.split(",")],
                parse_size_list(kv_heads, "--kv-heads") if kv_heads is not None else None, parse_size_list(tp, "--tp"),
                check_choice(engine, GRID_ENGINES, "--engine"), parse_size(block_size, "--block-size"))
    grid.check(parse_size(max_rows, "--max-rows"))
    if fmt != "table":
        export(grid, fmt, str(output) if output else None)
        return
    from .errors import InputError

    if grid.n_rows > TABLE_LIMIT:
        raise InputError(f"{grid.n_rows:,} rows are too many for a terminal table (at most {TABLE_LIMIT:,}): use --format csv")
    grid.check()
    cols = [Column(k, k, "text" if k in TEXT_COLUMNS else "int") for k in SCHEMA]
    emit(Report(f"KV cache grid: {grid.n_rows:,} rows", cols, [dict(zip(SCHEMA, r)) for r in rows(grid)]),
         "table", "iec", str(output) if output else None)


@app.command("fit")
def fit(
    model: ModelArg,
    gpu: Annotated[Optional[str], typer.Option("--gpu", "-g", help="GPU from the catalog (see `kvcalc gpus`), e.g. h100-80gb; not needed with --kv-memory.", show_default=False)] = None,
    seq: Annotated[Optional[str], typer.Option("--seq", "-s", help="Tokens per sequence: how many such sequences fit.")] = None,
    batch: Annotated[Optional[str], typer.Option("--batch", "-b", help="Sequences at once: how long a context fits.")] = None,
    gpus: GpusOpt = None,
    tp: TpOpt = None,
    pp: PpOpt = "1",
    kv_dtype: DtypeOpt = "auto",
    weights_dtype: WDtypeOpt = "auto",
    weights_bytes: WBytesOpt = None,
    util: UtilOpt = "0.9",
    reserve: ReserveOpt = "2GiB",
    block_size: BlockOpt = str(DEFAULT_BLOCK_SIZE),
    catalog: CatalogOpt = None,
    engine: Annotated[str, typer.Option("--engine", "-e", help="Runtime whose rules size the cache: vllm (paged blocks), hf or exact; --kv-memory is vllm's.")] = "vllm",
    kv_memory: Annotated[Optional[str], typer.Option("--kv-memory", help="vLLM's 'Available KV cache memory' per GPU (e.g. 4GiB): size its pool exactly, no --gpu needed.")] = None,
    max_model_len: Annotated[Optional[str], typer.Option("--max-model-len", help="vLLM's max_model_len, with --kv-memory (default --seq, else the model's context).")] = None,
    max_batched: Annotated[str, typer.Option("--max-num-batched-tokens", help="vLLM's max_num_batched_tokens (8192: vllm serve on an H100).")] = "8192",
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """What fits on GPUs: max sequences at --seq, max context at --batch, decode bound; MHA / MQA beside.
    With --kv-memory: vLLM's own num_blocks, KV cache tokens and maximum concurrency."""
    from .errors import InputError
    from .registry import load_model
    from .report import check_choice, emit
    from .units import parse_bytes, parse_size

    from .capacity import PLANNING_ENGINES

    engine = check_choice(engine, PLANNING_ENGINES, "--engine")
    cfg = load_model(model)
    if kv_memory is not None:
        if engine != "vllm":
            raise InputError("--kv-memory sizes vLLM's pool: use it with --engine vllm")
        from .engines import Vllm
        from .planning import pool_report

        length = parse_size(max_model_len if max_model_len is not None else seq if seq is not None else str(cfg.max_context),
                            "--max-model-len")
        eng = Vllm(block_size=parse_size(block_size, "--block-size"),
                   max_num_batched_tokens=parse_size(max_batched, "--max-num-batched-tokens"))
        report = pool_report(cfg, parse_bytes(kv_memory, "--kv-memory"), eng, length, kv_dtype,
                             parse_size(tp, "--tp") if tp is not None else 1)
        emit(report, fmt, "iec", str(output) if output else None)
        return
    if gpu is None:
        raise InputError("kvcalc fit needs --gpu (the KV budget is then an estimate), or --kv-memory (vLLM's "
                         "'Available KV cache memory', sized exactly)")
    from .planning import fit_report

    weights_from = "--weights-bytes"
    if weights_bytes is None and str(model).endswith(".gguf"):
        from .gguf import from_gguf

        weights_bytes = str(from_gguf(model)[1])  # the tensor table: the weights' real size
        weights_from = "the GGUF's tensor table:"
    setup = _setup(cfg, gpu, gpus, tp, pp, util, reserve, block_size, kv_dtype, weights_dtype, catalog, engine)
    report = fit_report(cfg, setup, parse_size(seq, "--seq") if seq is not None else None,
                        parse_size(batch, "--batch") if batch is not None else None,
                        parse_bytes(weights_bytes, "--weights-bytes") if weights_bytes is not None else None, weights_from)
    emit(report, fmt, "iec", str(output) if output else None)


@app.command("plan")
def plan(
    gpu: GpuOpt,
    seq: SeqOpt,
    model: Annotated[Optional[str], typer.Argument(help="Model (or give --n-heads, --n-layers, --head-dim).", show_default=False)] = None,
    batch: BatchOpt = "1",
    n_heads: Annotated[Optional[str], typer.Option("--n-heads", help="Query heads (without MODEL).")] = None,
    n_layers: Annotated[Optional[str], typer.Option("--n-layers", help="Layers (without MODEL).")] = None,
    head_dim: Annotated[Optional[str], typer.Option("--head-dim", help="Head dimension (without MODEL).")] = None,
    min_tps: Annotated[Optional[float], typer.Option("--min-tokens-per-s", help="Decode speed target (bound) to meet.")] = None,
    gpus: GpusOpt = None,
    tp: TpOpt = None,
    pp: PpOpt = "1",
    kv_dtype: DtypeOpt = "auto",
    weights_dtype: WDtypeOpt = "auto",
    weights_bytes: WBytesOpt = None,
    util: UtilOpt = "0.9",
    reserve: ReserveOpt = "2GiB",
    block_size: BlockOpt = str(DEFAULT_BLOCK_SIZE),
    catalog: CatalogOpt = None,
    engine: Annotated[str, typer.Option("--engine", "-e", help="Runtime whose rules size the cache: vllm (paged blocks), hf or exact.")] = "vllm",
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """Every group count (divisor of n_heads) against a context and batch target; recommends one."""
    from .planning import plan_report
    from .registry import custom_model, load_model
    from .report import emit
    from .units import parse_bytes, parse_size

    if model is not None:
        given = [flag for flag, v in (("--n-heads", n_heads), ("--n-layers", n_layers), ("--head-dim", head_dim)) if v is not None]
        if given:
            from .errors import InputError

            raise InputError(f"{', '.join(given)} describe a model without MODEL: give MODEL or them, not both")
        cfg = load_model(model)
    else:
        cfg = custom_model(n_heads, n_layers, head_dim, kv_dtype)
        weights_bytes = weights_bytes or "0"
    setup = _setup(cfg, gpu, gpus, tp, pp, util, reserve, block_size, kv_dtype, weights_dtype, catalog, engine)
    wb = parse_bytes(weights_bytes, "--weights-bytes", allow_zero=True) if weights_bytes is not None else None
    if min_tps is not None and not (min_tps > 0 and min_tps != float("inf")):
        from .errors import InputError

        raise InputError(f"--min-tokens-per-s: expected a finite number > 0, got {min_tps!r}")
    report = plan_report(cfg, setup, parse_size(seq, "--seq"), parse_size(batch, "--batch"), wb, min_tps)
    emit(report, fmt, "iec", str(output) if output else None)


@app.command("gpus")
def gpus_list(
    catalog: CatalogOpt = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """The GPU catalog: memory as the driver reports it, HBM bandwidth, and sources."""
    from .gpus import load_catalog
    from .planning import gpus_report
    from .report import emit

    emit(gpus_report(load_catalog(catalog)), fmt, "iec", str(output) if output else None)


@app.command("chart")
def chart(
    model: ModelArg,
    seq: Annotated[Optional[str], typer.Option("--seq", "-s", help="Contexts: 1k,4k,32k or 1k:64k:8k (default: powers of two to the model's max).")] = None,
    batch: BatchOpt = "1",
    kv_dtype: DtypeOpt = "auto",
    engine: EngineOpt = "exact",
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also write a line chart to FILE.png (needs kvcalc\\[plot]).")] = None,
    units: UnitsOpt = "iec",
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """KV bytes against context length: the model and its MHA / GQA / MQA rebuilds, as bars."""
    from .chart import chart_report, default_contexts, plot_png, render_bars
    from .registry import load_model
    from .report import UNITS, check_choice, emit, output_format, stdout_console, utf8
    from .units import parse_size, parse_size_list

    cfg = load_model(model)
    seqs = parse_size_list(seq, "--seq") if seq is not None else default_contexts(cfg)
    if len(seqs) > MAX_CHART_POINTS:
        from .errors import InputError

        raise InputError(f"--seq: {len(seqs):,} contexts are too many for a chart (at most {MAX_CHART_POINTS:,}); "
                         f"use a step, e.g. 1k:128k:4k, or kvcalc table for a grid")
    seqs = list(seqs)
    fmt, units = output_format(fmt, output), check_choice(units, UNITS, "--units")
    report, data = chart_report(cfg, seqs, parse_size(batch, "--batch"), kv_dtype, engine)
    if plot is not None:
        plot_png(str(plot), cfg, seqs, data, parse_size(batch, "--batch"))
        typer.echo(f"wrote {plot}", err=True)
    if fmt == "table" and output is None:
        console = stdout_console(pipe_width=120)  # pipes: room for the bars
        console.print(render_bars(report.title, seqs, data, units, ascii_only=not utf8(console)))
        return
    emit(report, fmt, units, str(output) if output else None)


_TOUR = [
    ("kvcalc llama2-70b --seq 4096", "KV cache as published, MHA, GQA and MQA"),
    ("kvcalc compare llama2-70b --kv-heads all --seq 4k", "every head configuration side by side"),
    ("kvcalc fit llama2-70b --gpu h100-80gb --seq 4k", "what fits on the GPUs"),
    ("kvcalc model.gguf --seq 16k --engine llama.cpp", "what llama.cpp allocates"),
    ("kvcalc list", "the shipped models"),
]
SHORT_USAGE = (
    "Usage: kvcalc MODEL --seq N [OPTIONS]  |  kvcalc COMMAND [ARGS]...\n\n"
    + "".join(f"  {cmd.ljust(52)}{what}\n" for cmd, what in _TOUR)
    + "\nkvcalc --help lists every command; kvcalc COMMAND --help its options.\n"
)


class _StdoutGone(BaseException):
    """stdout's reader went away (a broken pipe): not click's business, nor an error."""


class _StdoutFailed(BaseException):
    """stdout is closed, or full: one line on stderr."""


class _GuardedStdout:
    """sys.stdout with its failures turned into _StdoutGone / _StdoutFailed, which click's own
    handling (exit 1 on a broken pipe) does not intercept."""

    def __init__(self, stream: object) -> None:
        self._stream = stream

    def _call(self, name: str, *args: object) -> object:
        if self._stream is None:
            raise _StdoutFailed("standard output is closed")
        try:
            return getattr(self._stream, name)(*args)
        except BrokenPipeError:
            raise _StdoutGone() from None
        except (OSError, ValueError) as err:
            raise _StdoutFailed(getattr(err, "strerror", None) or str(err)) from None

    def write(self, text: str) -> object:
        return self._call("write", text)

    def flush(self) -> object:
        return None if self._stream is None else self._call("flush")  # nothing written, nothing to fail

    def isatty(self) -> bool:
        return bool(self._stream is not None and self._stream.isatty())

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: every KvcalcError or usage error is one line on stderr; a broken pipe
    ends quietly (exit 141), a closed or full stdout is one line (exit 74), an interrupted write
    leaves no file and says "kvcalc: aborted"."""
    real_stdout = sys.stdout
    for stream in (real_stdout, sys.stderr):  # any terminal encoding: what it cannot show is replaced
        try:
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
    sys.stdout = _GuardedStdout(real_stdout)  # type: ignore[assignment]
    try:
        _run(argv)
    except _StdoutGone:
        _quiet_stdout(real_stdout)
        sys.exit(141)  # the shell's status for a writer killed by SIGPIPE
    except _StdoutFailed as err:
        _quiet_stdout(real_stdout)
        print(f"kvcalc: error: cannot write to standard output: {err.args[0] if err.args else 'failed'}", file=sys.stderr)
        sys.exit(74)  # EX_IOERR
    finally:
        if isinstance(sys.stdout, _GuardedStdout):
            sys.stdout = real_stdout


def _quiet_stdout(stream: object) -> None:
    """Point stdout at /dev/null so that the interpreter's final flush raises nothing more."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):
        pass


def _run(argv: list[str] | None) -> None:
    if not (sys.argv[1:] if argv is None else argv):
        sys.stdout.write(SHORT_USAGE)  # bare `kvcalc`: one short usage, not the whole help
        sys.exit(0)
    try:
        code = app(args=argv, prog_name="kvcalc", standalone_mode=False)
    except KvcalcError as err:
        print(f"kvcalc: error: {one_line(str(err))}", file=sys.stderr)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        print("kvcalc: aborted", file=sys.stderr)
        sys.exit(130)
    except Exception as err:
        _usage_error(err)
    except BaseException as err:
        if type(err).__name__ == "Interrupted":  # SIGTERM / SIGHUP during a write: the file was cleaned
            print("kvcalc: aborted", file=sys.stderr)
            sys.exit(128 + int(err.args[0]) if err.args else 143)
        raise
    sys.stdout.flush()
    sys.exit(code if isinstance(code, int) else 0)


def one_line(text: str) -> str:
    """A message as one line: newlines and control characters written as Python escapes, so a
    file name cannot forge more `kvcalc: error:` lines or reach the terminal raw."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _usage_error(err: Exception) -> None:
    """click's usage errors, as one line (typer vendors click: matched by shape, not class)."""
    if type(err).__name__ == "NoArgsIsHelpError" and getattr(err, "ctx", None) is not None:
        typer.echo(err.ctx.get_help())
        sys.exit(0)
    if type(err).__name__ == "NoSuchOption" and getattr(err, "option_name", None):
        import difflib

        close = difflib.get_close_matches(err.option_name, list(getattr(err, "possibilities", None) or []), n=3, cutoff=0.75)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        print(f"kvcalc: error: no such option: {one_line(err.option_name)}{hint}", file=sys.stderr)
        sys.exit(err.exit_code)
    if hasattr(err, "format_message") and hasattr(err, "exit_code"):
        print(f"kvcalc: error: {one_line(err.format_message())}", file=sys.stderr)
        sys.exit(err.exit_code)
    raise err
