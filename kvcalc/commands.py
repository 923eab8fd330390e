"""The bodies of kvcalc's commands, free of typer: `kvcalc.cli` declares the options and calls
these; `kvcalc.fastpath` calls them straight from argv when it can. Each returns its exit code
(None for 0). No arithmetic here either: parse -> call the core -> render."""

from __future__ import annotations

import sys

MAX_CHART_POINTS = 2_000


# Warnings of this call, printed on stderr once it has succeeded (kvcalc.entry): a call that
# fails says only what is wrong.
WARNINGS: list[str] = []


def _wide(wide: bool) -> None:
    from . import report

    report.WIDE = bool(wide)


def _warn_context(models, seq_len) -> None:  # type: ignore[no-untyped-def]
    """A warning (not an error) for --seq beyond a model's trained context."""
    for m in models:
        if seq_len is not None and seq_len > m.max_context:
            WARNINGS.append(f"kvcalc: warning: --seq {seq_len:,} is beyond {m.name}'s trained context of "
                            f"{m.max_context:,} tokens (max_position_embeddings, rope scaling considered)")


def _setup(model, gpu, gpus, tp, pp, util, reserve, block_size, kv_dtype, weights_dtype, catalog, engine="vllm"):  # type: ignore[no-untyped-def]
    from .capacity import make_setup
    from .gpus import find_gpu
    from .units import parse_bytes, parse_fraction, parse_size

    return make_setup(
        model, find_gpu(gpu, catalog), parse_size(gpus, "--gpus") if gpus is not None else None,
        parse_size(tp, "--tp") if tp is not None else None, parse_size(pp, "--pp"), parse_fraction(util, "--gpu-memory-utilization"),
        parse_bytes(reserve, "--reserve", allow_zero=True), parse_size(block_size, "--block-size"), kv_dtype, weights_dtype,
        engine,
    )


def engine_for(spec, block_size=None, **options):  # type: ignore[no-untyped-def]
    """The engine of this call, built once from --engine NAME[@VERSION] and its options; a
    version newer than the newest checked is said after the answer."""
    from .engines import get_engine
    from .units import parse_size

    eng = get_engine(spec, parse_size(block_size, "--block-size") if block_size is not None else None, **options)
    if eng.warning:
        WARNINGS.append(eng.warning)
    return eng


def calc(model, seq, batch, kv_dtype, engine, block_size, units, fmt, output, measure, device, k_dtype, v_dtype, parallel, kv_unified, swa_full, ubatch, flash_attn, revision, wide=False) -> int | None:  # type: ignore[no-untyped-def]
    _wide(wide)
    from .errors import InputError
    from .registry import load_model
    from .report import UNITS, calc_report, check_choice, emit, output_format
    from .units import parse_size

    fmt, units = output_format(fmt, output), check_choice(units, UNITS, "--units")
    check_choice(device, ("auto", "cuda", "cpu"), "--device")
    seq_len, batch_size = parse_size(seq, "--seq"), parse_size(batch, "--batch")
    blocks = parse_size(block_size, "--block-size")
    llama = {"n_parallel": parse_size(parallel, "--parallel") if parallel is not None else None,
             "kv_unified": kv_unified, "swa_full": swa_full,
             "n_ubatch": parse_size(ubatch, "--ubatch") if ubatch is not None else None, "flash_attn": flash_attn}
    from .engines import engine_class

    if not engine_class(engine).has_option("n_parallel"):
        if any(v is not None for v in (k_dtype, v_dtype, *llama.values())):
            raise InputError("--k-dtype, --v-dtype, --parallel, --kv-unified, --swa-full, --ubatch and --flash-attn "
                             "are llama.cpp's: add --engine llama.cpp")
        llama = {}
    eng = engine_for(engine, block_size, **llama)
    cfg = load_model(model, revision)
    _warn_context([cfg], seq_len)
    if eng.shares_context:
        if batch_size != 1:
            raise InputError(f"with --engine {eng.name}, --seq is -c (n_ctx) shared by --parallel (-np) slots: "
                             "give --parallel instead of --batch")
        kv_dtype, v_dtype = (k_dtype if k_dtype is not None else kv_dtype), (v_dtype if v_dtype is not None else kv_dtype)
    if measure:
        from .measure import measure_report

        report, ok = measure_report(cfg, seq_len, batch_size, kv_dtype, eng, blocks, device, v_dtype)
        emit(report, fmt, units, str(output) if output else None)
        if not ok:
            return 1
        return
    emit(calc_report(cfg, seq_len, batch_size, kv_dtype, eng, blocks, v_dtype), fmt, units, str(output) if output else None)


def list_models(kv_dtype, fmt, output, wide=False) -> int | None:  # type: ignore[no-untyped-def]
    _wide(wide)
    from .registry import load_all
    from .report import emit
    from .summary import models_report

    emit(models_report(load_all(), kv_dtype), fmt, "iec", str(output) if output else None)


def show(model, fmt, revision) -> int | None:  # type: ignore[no-untyped-def]
    from .registry import load_model
    from .summary import show_text

    sys.stdout.write(show_text(load_model(model, revision), fmt))


def import_config(config, output, name) -> int | None:  # type: ignore[no-untyped-def]
    from .summary import import_yaml

    text = import_yaml(config, name)
    if output:
        from .outfile import write_atomic

        write_atomic(output, text)
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def measure_all(all_models, seq, batch, kv_dtype, engine, block_size, device, fmt, output) -> int | None:  # type: ignore[no-untyped-def]
    from .errors import InputError
    from .measure import measure_all_report
    from .registry import load_all
    from .report import emit
    from .units import parse_size

    if not all_models:
        raise InputError("kvcalc measure needs --all (one model: kvcalc MODEL --seq N --measure)")
    eng = engine_for(engine, block_size)
    report, ok = measure_all_report(list(load_all()), parse_size(seq, "--seq"), parse_size(batch, "--batch"), kv_dtype,
                                    eng, parse_size(block_size, "--block-size"), device)
    emit(report, fmt, "iec", str(output) if output else None)
    if not ok:
        return 1


def compare(models, seq, batch, kv_heads, kv_dtype, engine, block_size, gpu, tp, catalog, units, fmt, output, wide=False) -> int | None:  # type: ignore[no-untyped-def]
    _wide(wide)
    from .compare import compare_report, parse_kv_heads
    from .registry import load_model
    from .report import emit
    from .units import parse_size

    cfgs = [load_model(m) for m in models]
    heads = parse_kv_heads(kv_heads, cfgs)
    engine = engine_for(engine, block_size)
    if gpu is not None:
        from .capacity import DEFAULT_RESERVE, DEFAULT_UTILIZATION

        setup = _setup(cfgs[0], gpu, None, tp, "1", DEFAULT_UTILIZATION, DEFAULT_RESERVE, block_size, kv_dtype, "auto", catalog,
                       engine)
    else:
        setup = None
    _warn_context(cfgs, parse_size(seq, "--seq"))
    report = compare_report(cfgs, parse_size(seq, "--seq"), parse_size(batch, "--batch"), kv_dtype, engine,
                            parse_size(block_size, "--block-size"), heads, setup)
    emit(report, fmt, units, str(output) if output else None)


def table(models, seq, batch, kv_dtype, kv_heads, tp, engine, block_size, units, fmt, output, max_rows, wide=False) -> int | None:  # type: ignore[no-untyped-def]
    _wide(wide)
    from .grid import SCHEMA, TABLE_LIMIT, Grid, export, rows
    from .registry import load_model
    from .report import UNITS, Column, Report, check_choice, emit, output_format
    from .units import parse_size, parse_size_list

    fmt, units = output_format(fmt, output), check_choice(units, UNITS, "--units")
    grid = Grid([load_model(m) for m in models], parse_size_list(seq, "--seq"), parse_size_list(batch, "--batch"),
                [d.strip() for d in kv_dtype.split(",")],
                parse_size_list(kv_heads, "--kv-heads") if kv_heads is not None else None, parse_size_list(tp, "--tp"),
                engine_for(engine, block_size), parse_size(block_size, "--block-size"))
    grid.check(parse_size(max_rows, "--max-rows"))
    _warn_context(grid.models, grid.seqs.max())
    if fmt != "table":
        export(grid, fmt, str(output) if output else None)
        return
    from .errors import InputError

    if grid.n_rows > TABLE_LIMIT:
        raise InputError(f"{grid.n_rows:,} rows are too many for a terminal table (at most {TABLE_LIMIT:,}): use --format csv")
    grid.check()
    cols = [Column("model", "Model"), Column("layout", "Layout"), Column("n_kv_heads", "KV heads", "int"),
            Column("kv_dtype", "dtype", optional=True), Column("engine", "Engine", optional=True),
            Column("seq_len", "Tokens", "int"), Column("batch_size", "Batch", "int"), Column("tp", "TP", "int", optional=True),
            Column("kv_cache_bytes", "KV cache (B)", "int"), Column("kv_cache_human", "KV cache", "bytes"),
            Column("kv_cache_bytes_per_gpu", "per GPU", "bytes", optional=True)]
    grid_rows = [dict(zip(SCHEMA, r)) for r in rows(grid)]
    for r in grid_rows:
        r["kv_cache_human"] = r["kv_cache_bytes"]
    emit(Report(f"KV cache grid: {grid.n_rows:,} rows", cols, grid_rows), "table", units, str(output) if output else None)


def fit(model, gpu, seq, batch, gpus, tp, pp, kv_dtype, weights_dtype, weights_bytes, util, reserve, block_size, catalog, engine, kv_memory, max_model_len, max_batched, fmt, output, revision, wide=False) -> int | None:  # type: ignore[no-untyped-def]
    _wide(wide)
    from .errors import InputError
    from .registry import load_model
    from .report import emit
    from .units import parse_bytes, parse_size

    cfg = load_model(model, revision)
    if kv_memory is not None:
        from .engines import engine_class
        from .planning import pool_report

        if not engine_class(engine).sizes_pool:
            raise InputError("--kv-memory sizes vLLM's pool: use it with --engine vllm")
        length = parse_size(max_model_len if max_model_len is not None else seq if seq is not None else str(cfg.max_context),
                            "--max-model-len")
        eng = engine_for(engine, block_size, max_num_batched_tokens=parse_size(max_batched, "--max-num-batched-tokens"))
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
    elif weights_bytes is None and weights_dtype.strip().lower() == "auto" and "kvcalc.hub" in sys.modules:
        from .hub import WEIGHTS

        if cfg.name in WEIGHTS:  # the checkpoint's exact size, read with its config
            weights_bytes, how = str(WEIGHTS[cfg.name][0]), WEIGHTS[cfg.name][1]
            weights_from = f"the checkpoint's size, from {how}:"
    setup = _setup(cfg, gpu, gpus, tp, pp, util, reserve, block_size, kv_dtype, weights_dtype, catalog,
                   engine_for(engine, block_size))
    _warn_context([cfg], parse_size(seq, "--seq") if seq is not None else None)
    report = fit_report(cfg, setup, parse_size(seq, "--seq") if seq is not None else None,
                        parse_size(batch, "--batch") if batch is not None else None,
                        parse_bytes(weights_bytes, "--weights-bytes") if weights_bytes is not None else None, weights_from)
    emit(report, fmt, "iec", str(output) if output else None)


def plan(gpu, seq, model, batch, n_heads, n_layers, head_dim, min_tps, gpus, tp, pp, kv_dtype, weights_dtype, weights_bytes, util, reserve, block_size, catalog, engine, fmt, output, wide=False) -> int | None:  # type: ignore[no-untyped-def]
    _wide(wide)
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
    setup = _setup(cfg, gpu, gpus, tp, pp, util, reserve, block_size, kv_dtype, weights_dtype, catalog,
                   engine_for(engine, block_size))
    wb = parse_bytes(weights_bytes, "--weights-bytes", allow_zero=True) if weights_bytes is not None else None
    if min_tps is not None and not (min_tps > 0 and min_tps != float("inf")):
        from .errors import InputError

        raise InputError(f"--min-tokens-per-s: expected a finite number > 0, got {min_tps!r}")
    if model is not None:
        _warn_context([cfg], parse_size(seq, "--seq"))
    report = plan_report(cfg, setup, parse_size(seq, "--seq"), parse_size(batch, "--batch"), wb, min_tps)
    emit(report, fmt, "iec", str(output) if output else None)


def gpus_list(catalog, fmt, output, wide=False) -> int | None:  # type: ignore[no-untyped-def]
    _wide(wide)
    from .gpus import load_catalog
    from .planning import gpus_report
    from .report import emit

    emit(gpus_report(load_catalog(catalog)), fmt, "iec", str(output) if output else None)


def engines_list(fmt, output, wide=False) -> int | None:  # type: ignore[no-untyped-def]
    _wide(wide)
    from .report import emit
    from .summary import engines_report

    emit(engines_report(), fmt, "iec", str(output) if output else None)


def chart(model, seq, batch, kv_dtype, engine, plot, units, fmt, output) -> int | None:  # type: ignore[no-untyped-def]
    from .chart import chart_report, default_contexts, plot_png, render_bars
    from .registry import load_model
    from .report import UNITS, check_choice, emit, output_format, show, stdout_console, utf8
    from .units import parse_size, parse_size_list

    cfg = load_model(model)
    seqs = parse_size_list(seq, "--seq") if seq is not None else default_contexts(cfg)
    if len(seqs) > MAX_CHART_POINTS:
        from .errors import InputError

        raise InputError(f"--seq: {len(seqs):,} contexts are too many for a chart (at most {MAX_CHART_POINTS:,}); "
                         f"use a step, e.g. 1k:128k:4k, or kvcalc table for a grid")
    _warn_context([cfg], max(seqs, default=None))
    seqs = list(seqs)
    fmt, units = output_format(fmt, output), check_choice(units, UNITS, "--units")
    report, data = chart_report(cfg, seqs, parse_size(batch, "--batch"), kv_dtype, engine_for(engine))
    if plot is not None:
        plot_png(str(plot), cfg, seqs, data, parse_size(batch, "--batch"))
        print(f"wrote {plot}", file=sys.stderr)
    if fmt == "table" and output is None:
        console = stdout_console(pipe_width=120)  # pipes: room for the bars
        show(console, render_bars(report.title, seqs, data, units, ascii_only=not utf8(console), width=console.width))
        return
    emit(report, fmt, units, str(output) if output else None)
