"""The bodies of kvcalc's commands, free of typer: `kvcalc.cli.app` declares the options and calls
these; `kvcalc.cli.fastpath` calls them straight from argv when it can. Each builds its Call at the
edge and returns a Result (exit code and warnings; kvcalc.call). No arithmetic here either:
parse -> call the core -> render."""

from __future__ import annotations

import sys

from ..call import Call, Result

MAX_CHART_POINTS = 2_000


def _warn_context(call, models, seq_len) -> None:  # type: ignore[no-untyped-def]
    """A warning (not an error) for --seq beyond a model's trained context."""
    for m in models:
        if seq_len is not None and m.max_context is not None and seq_len > m.max_context:
            call.warn(f"kvcalc: warning: --seq {seq_len:,} is beyond {m.name}'s trained context of "
                            f"{m.max_context:,} tokens (max_position_embeddings, rope scaling considered)")


def _setup(model, gpu, gpus, tp, pp, util, reserve, block_size, kv_dtype, weights_dtype, catalog, engine="vllm"):  # type: ignore[no-untyped-def]
    from ..planning.capacity import make_setup
    from ..planning.gpus import find_gpu
    from ..output.units import parse_bytes, parse_fraction, parse_size

    return make_setup(
        model, find_gpu(gpu, catalog), parse_size(gpus, "--gpus") if gpus is not None else None,
        parse_size(tp, "--tp") if tp is not None else None, parse_size(pp, "--pp"), parse_fraction(util, "--gpu-memory-utilization"),
        parse_bytes(reserve, "--reserve", allow_zero=True), _blocks(block_size), kv_dtype, weights_dtype,
        engine,
    )


def _blocks(block_size):  # type: ignore[no-untyped-def]
    """--block-size as given, else vLLM's 16 (the planning default; an engine's own default is its own)."""
    from ..engines import DEFAULT_BLOCK_SIZE
    from ..output.units import parse_size

    return parse_size(block_size, "--block-size") if block_size is not None else DEFAULT_BLOCK_SIZE


def engine_for(call, spec, block_size=None, **options):  # type: ignore[no-untyped-def]
    """The engine of this call, built once from --engine NAME[@VERSION] and its options; a
    version newer than the newest checked is said after the answer."""
    from ..engines import get_engine
    from ..output.units import parse_size

    eng = get_engine(spec, parse_size(block_size, "--block-size") if block_size is not None else None, **options)
    if eng.warning:
        call.warn(eng.warning)
    return eng


def calc(model, seq, batch, kv_dtype, engine, block_size, units, fmt, output, measure, device, k_dtype, v_dtype, parallel, kv_unified, swa_full, ubatch, flash_attn, revision, wide=False, assume=False) -> Result:  # type: ignore[no-untyped-def]
    call = Call(wide=wide, assume=assume)
    from ..errors import InputError
    from ..models.registry import load_model
    from ..output.report import UNITS, calc_report, check_choice, output_format
    from ..output.units import parse_size

    fmt, units = output_format(fmt, output), check_choice(units, UNITS, "--units")
    check_choice(device, ("auto", "cuda", "cpu"), "--device")
    seq_len, batch_size = parse_size(seq, "--seq"), parse_size(batch, "--batch")
    blocks = _blocks(block_size)
    llama = {"n_parallel": parse_size(parallel, "--parallel") if parallel is not None else None,
             "kv_unified": kv_unified, "swa_full": swa_full,
             "n_ubatch": parse_size(ubatch, "--ubatch") if ubatch is not None else None, "flash_attn": flash_attn}
    from ..engines import engine_class

    if not engine_class(engine).has_option("n_parallel"):
        if any(v is not None for v in (k_dtype, v_dtype, *llama.values())):
            raise InputError("--k-dtype, --v-dtype, --parallel, --kv-unified, --swa-full, --ubatch and --flash-attn "
                             "are llama.cpp's: add --engine llama.cpp")
        llama = {}
    eng = engine_for(call, engine, block_size, **llama)
    cfg = call.admit(load_model(model, revision))
    _warn_context(call, [cfg], seq_len)
    if eng.shares_context:
        if batch_size != 1:
            raise InputError(f"with --engine {eng.name}, --seq is -c (n_ctx) shared by --parallel (-np) slots: "
                             "give --parallel instead of --batch")
        kv_dtype, v_dtype = (k_dtype if k_dtype is not None else kv_dtype), (v_dtype if v_dtype is not None else kv_dtype)
    if measure:
        from ..measure.measure import measure_report

        report, ok = measure_report(cfg, seq_len, batch_size, kv_dtype, eng, blocks, device, v_dtype)
        call.emit(report, fmt, units, output)
        return call.done(None if ok else 1)
    call.emit(calc_report(cfg, seq_len, batch_size, kv_dtype, eng, blocks, v_dtype), fmt, units, output)
    return call.done()


def list_models(kv_dtype, fmt, output, wide=False) -> Result:  # type: ignore[no-untyped-def]
    call = Call(wide=wide)
    from ..models.registry import load_all
    from ..output.summary import models_report

    call.emit(models_report(load_all(), kv_dtype), fmt, "iec", output)
    return call.done()


def show(model, fmt, revision) -> Result:  # type: ignore[no-untyped-def]
    call = Call()
    from ..models.registry import load_model
    from ..output.summary import show_text

    sys.stdout.write(show_text(load_model(model, revision), fmt))
    return call.done()


def import_config(config, output, name) -> Result:  # type: ignore[no-untyped-def]
    call = Call()
    from ..output.summary import import_yaml

    text = import_yaml(config, name)
    if output:
        from ..output.outfile import write_atomic

        write_atomic(output, text)
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return call.done()


def measure_all(all_models, seq, batch, kv_dtype, engine, block_size, device, fmt, output) -> Result:  # type: ignore[no-untyped-def]
    call = Call()
    from ..errors import InputError
    from ..measure.measure import measure_all_report
    from ..models.registry import load_all
    from ..output.units import parse_size

    if not all_models:
        raise InputError("kvcalc measure needs --all (one model: kvcalc MODEL --seq N --measure)")
    eng = engine_for(call, engine, block_size)
    report, ok = measure_all_report(list(load_all()), parse_size(seq, "--seq"), parse_size(batch, "--batch"), kv_dtype,
                                    eng, _blocks(block_size), device)
    call.emit(report, fmt, "iec", output)
    return call.done(None if ok else 1)


def compare(models, seq, batch, kv_heads, kv_dtype, engine, block_size, gpu, tp, catalog, units, fmt, output, wide=False, assume=False) -> Result:  # type: ignore[no-untyped-def]
    call = Call(wide=wide, assume=assume)
    from ..planning.compare import compare_report, parse_kv_heads
    from ..models.registry import load_model
    from ..output.units import parse_size

    cfgs = [call.admit(load_model(m)) for m in models]
    heads = parse_kv_heads(kv_heads, cfgs)
    engine = engine_for(call, engine, block_size)
    if gpu is not None:
        from ..planning.capacity import DEFAULT_RESERVE, DEFAULT_UTILIZATION

        setup = _setup(cfgs[0], gpu, None, tp, "1", DEFAULT_UTILIZATION, DEFAULT_RESERVE, block_size, kv_dtype, "auto", catalog,
                       engine)
    else:
        setup = None
    _warn_context(call, cfgs, parse_size(seq, "--seq"))
    report = compare_report(cfgs, parse_size(seq, "--seq"), parse_size(batch, "--batch"), kv_dtype, engine,
                            _blocks(block_size), heads, setup)
    call.emit(report, fmt, units, output)
    return call.done()


def table(models, seq, batch, kv_dtype, kv_heads, tp, engine, block_size, units, fmt, output, max_rows, wide=False, assume=False) -> Result:  # type: ignore[no-untyped-def]
    call = Call(wide=wide, assume=assume)
    from ..planning.compare import parse_kv_heads
    from ..planning.grid import SCHEMA, TABLE_LIMIT, Grid, export, rows
    from ..models.registry import load_model
    from ..output.report import UNITS, Column, Report, check_choice, output_format
    from ..output.units import parse_size, parse_size_list

    fmt, units = output_format(fmt, output), check_choice(units, UNITS, "--units")
    models_ = [call.admit(load_model(m)) for m in models]
    grid = Grid(models_, parse_size_list(seq, "--seq"), parse_size_list(batch, "--batch"),
                [d.strip() for d in kv_dtype.split(",")],
                parse_kv_heads(kv_heads, models_) if kv_heads is not None else None, parse_size_list(tp, "--tp"),
                engine_for(call, engine, block_size), _blocks(block_size))
    grid.check(parse_size(max_rows, "--max-rows"))
    _warn_context(call, grid.models, grid.seqs.max())
    if fmt != "table":
        export(grid, fmt, str(output) if output else None, tuple(call.assumptions))
        for said in call.assumptions if fmt != "json" else ():  # CSV, Markdown, YAML: said after the rows
            call.warn(f"kvcalc: warning: {said}")
        return call.done()
    from ..errors import InputError

    if grid.n_rows > TABLE_LIMIT:
        raise InputError(f"{grid.n_rows:,} rows are too many for a terminal table (at most {TABLE_LIMIT:,}): use --format csv")
    grid.check()
    cols = [Column("model", "Model"), Column("layout", "Layout"), Column("n_kv_heads", "KV heads", "int"),
            Column("kv_dtype", "dtype", optional=True), Column("engine", "Engine", optional=True),
            Column("seq_len", "Tokens", "int"), Column("batch_size", "Batch", "int"), Column("tp", "TP", "int", optional=True),
            Column("kv_cache_bytes", "KV cache (B)", "int", optional=True), Column("kv_cache_human", "KV cache", "bytes"),
            Column("kv_cache_bytes_per_gpu", "per GPU", "bytes", optional=True)]
    grid_rows = [dict(zip(SCHEMA, r)) for r in rows(grid)]
    for r in grid_rows:
        r["kv_cache_human"] = r["kv_cache_bytes"]
    call.emit(Report(f"KV cache grid: {grid.n_rows:,} rows", cols, grid_rows), "table", units, output)
    return call.done()


def _fit_status(report, fail_if_not_fit):  # type: ignore[no-untyped-def]
    """Exit 1 for "does not fit" when the script asked (--fail-if-not-fit)."""
    return 1 if fail_if_not_fit and report.document.get("fits") is False else None


LOCAL_FLAGS = {"k_dtype": "--k-dtype", "v_dtype": "--v-dtype", "parallel": "--parallel", "kv_unified": "--kv-unified",
               "swa_full": "--swa-full", "ubatch": "--ubatch", "flash_attn": "--flash-attn", "ngl": "--n-gpu-layers",
               "n_cpu_moe": "--n-cpu-moe", "wired_limit": "--wired-limit"}
SERVING_FLAGS = {"gpus": "--gpus", "tp": "--tp", "util": "--gpu-memory-utilization", "block_size": "--block-size",
                 "kv_memory": "--kv-memory", "max_model_len": "--max-model-len", "max_batched": "--max-num-batched-tokens",
                 "mem_fraction": "--mem-fraction-static", "max_num_seqs": "--max-num-seqs", "revision": "--revision"}


def fit(model, gpu, seq, batch, gpus, tp, pp, kv_dtype, weights_dtype, weights_bytes, util, reserve, block_size, catalog, engine, kv_memory, max_model_len, max_batched, fmt, output, revision, wide=False, fail_if_not_fit=False, mem_fraction=None, max_num_seqs=None, enforce_eager=False, entrypoint="serve", assume=False, k_dtype=None, v_dtype=None, parallel=None, kv_unified=None, swa_full=None, ubatch=None, flash_attn=None, ngl=None, n_cpu_moe=None, wired_limit=None) -> Result:  # type: ignore[no-untyped-def]
    from ..engines import engine_class
    from ..errors import InputError

    given = locals()
    local = str(engine).count(",") == 0 and engine_class(str(engine)).plans_locally
    if local:  # llama.cpp's own placement: weights layer by layer, compute buffers, a margin
        serving = [flag for key, flag in SERVING_FLAGS.items() if given[key] is not None] + \
            (["--pp"] if str(pp) != "1" else []) + (["--enforce-eager"] if enforce_eager else [])
        if serving:
            raise InputError(f"{', '.join(serving)}: vLLM's and SGLang's, not llama.cpp's (see kvcalc fit --help)")
        from .local import fit as local_fit

        return local_fit(model, gpu, seq, batch, kv_dtype, weights_dtype, weights_bytes, reserve, catalog, engine, fmt,
                         output, k_dtype, v_dtype, parallel, kv_unified, swa_full, ubatch, flash_attn, ngl, n_cpu_moe,
                         wired_limit, fail_if_not_fit, wide, assume)
    llama = [flag for key, flag in LOCAL_FLAGS.items() if given[key] is not None]
    if llama:
        raise InputError(f"{', '.join(llama)}: llama.cpp's; add --engine llama.cpp (or ollama)")
    call = Call(wide=wide, assume=assume)
    from ..models.registry import GGUF_TENSORS, load_with_checkpoint
    from ..output.units import parse_bytes, parse_size

    cfg, checkpoint = load_with_checkpoint(model, revision)
    call.admit(cfg)
    specs = [e.strip() for e in str(engine).split(",")]  # an empty one is refused by name below
    if len(specs) > 1 and kv_memory is not None:
        raise InputError("--kv-memory sizes one engine's pool: give one --engine (the bytes each runtime gives its "
                         "pool differ)")
    if kv_memory is not None:
        from ..engines import engine_class
        from ..planning.reports import pool_report

        if not engine_class(engine).sizes_pool:
            raise InputError("--kv-memory sizes a serving engine's pool: use it with --engine vllm or sglang")
        if max_model_len is None and seq is None and cfg.max_context is None:
            raise InputError(f"{cfg.name}: its config gives no context length (max_position_embeddings): give --max-model-len")
        length = parse_size(max_model_len if max_model_len is not None else seq if seq is not None else str(cfg.max_context),
                            "--max-model-len")
        tp_size = parse_size(tp, "--tp") if tp is not None else 1
        if engine_class(engine).pool_unit == "tokens":  # SGLang's token pool
            from ..planning.token_pool import token_pool_report

            eng = engine_for(call, engine, block_size)
            report = token_pool_report(cfg, parse_bytes(kv_memory, "--kv-memory"), eng.for_model(cfg), length,
                                       kv_dtype, tp_size)
        else:
            eng = engine_for(call, engine, block_size, max_num_batched_tokens=parse_size(
                max_batched if max_batched is not None else "8192", "--max-num-batched-tokens"))
            report = pool_report(cfg, parse_bytes(kv_memory, "--kv-memory"), eng, length, kv_dtype, tp_size)
        call.emit(report, fmt, "iec", output)
        return call.done(_fit_status(report, fail_if_not_fit))
    if gpu is None:
        raise InputError("kvcalc fit needs --gpu (the KV budget is then an estimate), or --kv-memory (vLLM's "
                         "'Available KV cache memory', sized exactly)")
    from ..planning.reports import engines_fit_report

    weights_from = "--weights-bytes"
    if weights_bytes is None and checkpoint is not None:  # the weights' real size, read with the model
        size, how = checkpoint
        if how == GGUF_TENSORS:
            weights_bytes, weights_from = str(size), f"{how}:"
        elif weights_dtype.strip().lower() == "auto":
            weights_bytes, weights_from = str(size), f"the checkpoint's size, from {how}:"
    engines = [engine_for(call, spec, block_size) for spec in specs]
    if mem_fraction is not None and not any(e.pool_unit == "tokens" for e in engines):
        raise InputError("--mem-fraction-static is SGLang's: add --engine sglang (vLLM's is --gpu-memory-utilization)")
    _warn_context(call, [cfg], parse_size(seq, "--seq") if seq is not None else None)
    vllm = {"max_model_len": max_model_len, "max_batched": max_batched, "max_num_seqs": max_num_seqs,
            "enforce_eager": enforce_eager, "entrypoint": entrypoint}
    reports = [_gpu_fit(cfg, eng, gpu, gpus, tp, pp, util, reserve, block_size, kv_dtype, weights_dtype, catalog,
                        mem_fraction, seq, batch, weights_bytes, weights_from, vllm) for eng in engines]
    report = reports[0] if len(reports) == 1 else engines_fit_report(cfg, reports)
    if fail_if_not_fit and report.document.get("verdict") is None and len(reports) == 1:
        raise InputError("--fail-if-not-fit needs a verdict: give both --seq and --batch")
    call.emit(report, fmt, "iec", output)
    return call.done(max((_fit_status(r, fail_if_not_fit) or 0) for r in reports) or None)


def _gpu_fit(cfg, eng, gpu, gpus, tp, pp, util, reserve, block_size, kv_dtype, weights_dtype, catalog, mem_fraction,  # type: ignore[no-untyped-def]
             seq, batch, weights_bytes, weights_from, vllm):
    """One engine's fit on the GPUs: vLLM's budget as it would print it (or utilization less
    weights and --reserve, when given), or SGLang's (--mem-fraction-static less the weights)."""
    from ..output.units import parse_bytes, parse_fraction, parse_size
    from ..planning.reports import fit_report

    tokens_pool = eng.pool_unit == "tokens"  # SGLang: --mem-fraction-static covers weights and pool
    predicted = eng.sizes_pool and not tokens_pool and reserve is None  # vLLM's own budget, line by line
    how = None
    if tokens_pool:
        util, how = _mem_fraction(cfg, eng, gpu, gpus, tp, pp, catalog, mem_fraction)
    given_util = util
    if util is None:
        util = str(eng.default_utilization) if predicted else "0.9"
    setup = _setup(cfg, gpu, gpus, tp, pp, util, "0" if predicted or tokens_pool else (reserve if reserve is not None else "2GiB"),
                   block_size, kv_dtype, weights_dtype, catalog, eng)
    w_bytes = parse_bytes(weights_bytes, "--weights-bytes") if weights_bytes is not None else None
    budget = max_len = None
    if predicted:
        from ..planning.vllm_budget import budget_setup

        budget, setup = budget_setup(
            cfg, setup, w_bytes, parse_fraction(given_util, "--gpu-memory-utilization") if given_util else None,
            parse_size(vllm["max_batched"], "--max-num-batched-tokens") if vllm["max_batched"] is not None else None,
            parse_size(vllm["max_num_seqs"], "--max-num-seqs") if vllm["max_num_seqs"] is not None else None,
            vllm["entrypoint"], vllm["enforce_eager"])
        max_len = parse_size(vllm["max_model_len"], "--max-model-len") if vllm["max_model_len"] is not None \
            else cfg.max_context
        if seq is None and batch is None and vllm["max_model_len"] is not None:  # the question: max_model_len
            seq = str(max_len)
    elif reserve is not None and eng.sizes_pool and not tokens_pool:
        how = f"--reserve {reserve} (given): kvcalc's own budget, memory x utilization - weights - reserve, not vLLM's"
    report = fit_report(cfg, setup, parse_size(seq, "--seq") if seq is not None else None,
                        parse_size(batch, "--batch") if batch is not None else None, w_bytes, weights_from,
                        budget=budget, max_model_len=max_len)
    if how:
        report.notes.insert(0, how)
        report.document["mem_fraction_static"] = float(util)
    return report


def _mem_fraction(cfg, eng, gpu, gpus, tp, pp, catalog, given):  # type: ignore[no-untyped-def]
    """(--mem-fraction-static as a utilization, the note saying where it came from) for SGLang:
    its budget is the static fraction less the weights, with nothing else held back."""
    from ..output.units import parse_fraction, parse_size
    from ..planning.capacity import parallel_setup
    from ..planning.gpus import find_gpu

    if given is not None:
        fraction = parse_fraction(given, "--mem-fraction-static")
        return str(fraction), f"--mem-fraction-static {fraction:g} (given): KV pool = that share of each GPU - weights"
    device = find_gpu(gpu, catalog)
    tp_size, _, _ = parallel_setup(cfg, parse_size(gpus, "--gpus") if gpus is not None else None,
                                   parse_size(tp, "--tp") if tp is not None else None, parse_size(pp, "--pp"))
    fraction, rule = eng.default_mem_fraction(device.memory_bytes, tp_size, parse_size(pp, "--pp"))
    return str(fraction), f"--mem-fraction-static {fraction:g}, SGLang's default: {rule}; KV pool = that share - weights"


def plan(gpu, seq, model, batch, n_heads, n_layers, head_dim, min_tps, gpus, tp, pp, kv_dtype, weights_dtype, weights_bytes, util, reserve, block_size, catalog, engine, fmt, output, wide=False, fail_if_not_fit=False, assume=False) -> Result:  # type: ignore[no-untyped-def]
    call = Call(wide=wide, assume=assume)
    from ..planning.reports import plan_report
    from ..models.registry import custom_model, load_model
    from ..output.units import parse_bytes, parse_size

    if model is not None:
        given = [flag for flag, v in (("--n-heads", n_heads), ("--n-layers", n_layers), ("--head-dim", head_dim)) if v is not None]
        if given:
            from ..errors import InputError

            raise InputError(f"{', '.join(given)} describe a model without MODEL: give MODEL or them, not both")
        cfg = call.admit(load_model(model))
    else:
        cfg = custom_model(*(parse_size(v, flag) if v is not None else None for v, flag in (
            (n_heads, "--n-heads"), (n_layers, "--n-layers"), (head_dim, "--head-dim"))), kv_dtype)
        if weights_bytes is None:
            call.warn("kvcalc: warning: no MODEL, so no weights are counted (0 B): give --weights-bytes for the "
                            "KV budget to be real")
        weights_bytes = weights_bytes or "0"
    setup = _setup(cfg, gpu, gpus, tp, pp, util, reserve, block_size, kv_dtype, weights_dtype, catalog,
                   engine_for(call, engine, block_size))
    wb = parse_bytes(weights_bytes, "--weights-bytes", allow_zero=True) if weights_bytes is not None else None
    if min_tps is not None and not (min_tps > 0 and min_tps != float("inf")):
        from ..errors import InputError

        raise InputError(f"--min-tokens-per-s: expected a finite number > 0, got {min_tps!r}")
    if model is not None:
        _warn_context(call, [cfg], parse_size(seq, "--seq"))
    report = plan_report(cfg, setup, parse_size(seq, "--seq"), parse_size(batch, "--batch"), wb, min_tps)
    call.emit(report, fmt, "iec", output)
    return call.done(1 if fail_if_not_fit and report.document["recommended_n_kv_heads"] is None else None)


def gpus_list(catalog, fmt, output, wide=False) -> Result:  # type: ignore[no-untyped-def]
    call = Call(wide=wide)
    from ..planning.gpus import load_catalog
    from ..planning.reports import gpus_report

    call.emit(gpus_report(load_catalog(catalog)), fmt, "iec", output)
    return call.done()


def engines_list(fmt, output, wide=False) -> Result:  # type: ignore[no-untyped-def]
    call = Call(wide=wide)
    from ..output.summary import engines_report

    call.emit(engines_report(), fmt, "iec", output)
    return call.done()


def chart(model, seq, batch, kv_dtype, engine, plot, units, fmt, output, assume=False) -> Result:  # type: ignore[no-untyped-def]
    call = Call(assume=assume)
    from ..planning.chart import chart_report, default_contexts, plot_png, render_bars
    from ..models.registry import load_model
    from ..output.report import UNITS, check_choice, output_format, show, stdout_console, utf8
    from ..output.units import parse_size, parse_size_list

    cfg = call.admit(load_model(model))
    seqs = parse_size_list(seq, "--seq") if seq is not None else default_contexts(cfg)
    if len(seqs) > MAX_CHART_POINTS:
        from ..errors import InputError

        raise InputError(f"--seq: {len(seqs):,} contexts are too many for a chart (at most {MAX_CHART_POINTS:,}); "
                         f"use a step, e.g. 1k:128k:4k, or kvcalc table for a grid")
    _warn_context(call, [cfg], max(seqs, default=None))
    seqs = list(seqs)
    fmt, units = output_format(fmt, output), check_choice(units, UNITS, "--units")
    report, data = chart_report(cfg, seqs, parse_size(batch, "--batch"), kv_dtype, engine_for(call, engine))
    if plot is not None:
        plot_png(str(plot), cfg, seqs, data, parse_size(batch, "--batch"))
        print(f"wrote {plot}", file=sys.stderr)
    if fmt == "table" and output is None:
        console = stdout_console(pipe_width=120)  # pipes: room for the bars
        show(console, render_bars(report.title, seqs, data, units, ascii_only=not utf8(console), width=console.width))
        for said in call.assumptions:  # under the bars, as a table's notes
            print(said)
        return call.done()
    call.emit(report, fmt, units, output)
    return call.done()


def check_log(log, model, tp, fmt, output) -> Result:  # type: ignore[no-untyped-def]
    """Exit 0 when every recomputed line agrees, 1 when one does not, 2 when none is recognised."""
    call = Call()
    from ..logs.check import check_log as read
    from ..logs.report import check_log_report
    from ..models.registry import load_model
    from ..output.report import output_format
    from ..output.units import parse_size

    fmt = output_format(fmt, output)
    defaults = {"tp": parse_size(tp, "--tp")} if tp is not None else None
    checked = read(log, load_model(model) if model is not None else None, defaults)  # unreadable, nothing known: 2
    call.emit(check_log_report(checked), fmt, "iec", output)
    return call.done(checked.exit_code)
