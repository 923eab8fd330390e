"""Reports of capacity planning: `kvcalc fit`, `kvcalc plan` and `kvcalc gpus`. The arithmetic
lives in kvcalc.planning.capacity; this module lays its answers out as rows, notes and JSON documents."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .capacity import (
    LayoutFit, Setup, Weights, dtype_rule, fit_layouts, layout_fit, plan_layouts, serving_dtype, stages, weights,
)
from ..errors import InputError
from ..dtypes import resolve
from ..core.formulas import layout_kind
from .gpus import GPU
from ..models.model import FULL, Model
from ..output.report import Column, Report, engine_doc
from ..output.units import human_bytes, human_rate

FIT_COLUMNS = [
    Column("layout", "Layout"),
    Column("n_kv_heads", "KV heads", "int"),
    Column("kv_heads_per_gpu", "per GPU", "int", optional=True),
    Column("bytes_per_token_per_gpu", "Bytes/token/GPU", "int", optional=True),
    Column("num_blocks_per_gpu", "Blocks/GPU", "int"),
    Column("max_seqs", "Max seqs", "int"),
    Column("max_seqs_vs_mha", "vs MHA", "factor", optional=True),
    Column("max_context", "Max context", "int"),
    Column("decode_tokens_per_s", "Decode <= tok/s", "tps"),
]


def _setup_doc(model: Model, setup: Setup, w: Weights) -> dict[str, Any]:
    from ..output.report import source_doc

    return {
        "model": model.name,
        "source": source_doc(model),
        "gpu": setup.gpu.name,
        "gpu_memory_bytes": setup.gpu.memory_bytes,
        "hbm_bandwidth_bytes_per_s": setup.gpu.hbm_bandwidth_bytes_per_s,
        "n_gpus": setup.n_gpus,
        "tp": setup.tp,
        "pp": setup.pp,
        "replicas": setup.replicas,
        "gpu_memory_utilization": setup.gpu_memory_utilization,
        "usable_bytes_per_gpu": setup.usable_bytes,
        "reserve_bytes": setup.reserve_bytes,
        "block_size": setup.block_size,
        **engine_doc(setup.engine),
        "kv_dtype": resolve(setup.kv_dtype, serving_dtype(model, setup.engine)).name,
        "kv_dtype_rule": dtype_rule(model, setup.engine) if setup.kv_dtype.strip().lower() == "auto" else None,
        "weights_dtype": w.dtype,
        "params": w.params.total if w.params else None,
        "active_params": w.params.active if w.params else None,
        "weights_bytes": w.total_bytes,
        "weights_bytes_per_gpu": w.per_gpu_bytes,
        "kv_budget_bytes_per_gpu": min(s.kv_budget_bytes for s in w.stages),
        "weights_fit": all(s.kv_budget_bytes > 0 for s in w.stages),
    }


def _weights_how(setup: Setup, w: Weights, weights_from: str) -> str:
    """Where the weights' bytes came from, in words: counted, or given / read from a file."""
    if w.params is None:
        return f"{weights_from} {w.total_bytes:,}"
    how = f"{w.params.total:,} params x {w.dtype}"
    how += f", split over tp {setup.tp}" if setup.tp > 1 else ""
    return how + (f" and pp {setup.pp}" if setup.pp > 1 else "")


def _budget_note(setup: Setup, w: Weights, weights_from: str = "--weights-bytes") -> str:
    s = min(w.stages, key=lambda st: st.kv_budget_bytes)
    where = f"stage {w.stages.index(s) + 1} of {setup.pp}: " if setup.pp > 1 else ""
    how = _weights_how(setup, w, weights_from)
    return (
        f"KV budget per GPU ({where}floor(memory x utilization) - weights - reserve): "
        f"floor({setup.gpu.memory_bytes:,} x {setup.gpu_memory_utilization:g}) = {setup.usable_bytes:,} "
        f"- {s.weights_bytes_per_gpu:,} ({how}) - {setup.reserve_bytes:,} = {s.kv_budget_bytes:,} B"
    )


def _explain(model: Model, setup: Setup, row: LayoutFit, seq_len: int) -> str:
    """How flooring gives max_seqs: blocks per GPU, then whole sequences."""
    name = f"{model.name} {row.layout}" if row.layout.endswith("(published)") else row.layout
    if setup.engine.block_size and setup.pp == 1 and set(model.layer_kinds) == {FULL} and row.bytes_per_token_per_gpu:
        blocks_per_seq = -(-seq_len // setup.block_size)
        return (
            f"{name}: {row.bytes_per_token_per_gpu:,} B/token/GPU x {setup.block_size} = {row.block_bytes:,} B a block; "
            f"budget // block = {row.num_blocks_per_gpu:,} blocks; {seq_len:,} tokens = {blocks_per_seq:,} blocks a "
            f"sequence; {row.num_blocks_per_gpu:,} // {blocks_per_seq:,} = {row.max_seqs_per_replica:,} sequences"
        )
    unit = f"blocks of {setup.block_size} tokens" if setup.engine.block_size else f"engine {setup.engine.label}"
    return (f"{name}: one sequence of {seq_len:,} tokens takes {row.seq_bytes_per_gpu:,} B on a GPU "
            f"({unit}, windows and any recurrent state applied); budget // that = {row.max_seqs_per_replica:,} sequences")


def _serve_note(model: Model, setup: Setup, budget: int) -> str | None:
    """Whether plain `vllm serve` (max_model_len = the model's own context) would start on this
    budget: vLLM refuses to when one request of max_model_len does not fit its pool."""
    if not setup.engine.sizes_pool or setup.pp > 1 or model.max_context is None:
        return None
    if setup.engine.pool_unit == "tokens":  # SGLang: the token pool this budget gives
        from ..engines.sglang import size_pool as token_pool

        try:
            pool = token_pool(model, budget, setup.engine, setup.kv_dtype, setup.tp)
        except InputError:
            return None
        swa = f" and a SWA pool of {pool.parts[1].tokens:,}" if len(pool.parts) > 1 else ""
        return (f"SGLang's pool on this budget: max_total_num_tokens {pool.max_total_num_tokens:,}{swa} "
                f"({pool.max_total_num_tokens / model.max_context:.2f} requests of {model.name}'s {model.max_context:,} "
                f"tokens); `kvcalc fit --engine sglang --kv-memory` gives the lines it prints")
    from ..engines.vllm import estimate_max_model_len, size_pool

    try:
        pool = size_pool(model, budget, setup.engine, model.max_context, setup.kv_dtype, setup.tp)
    except InputError:  # a layout vLLM's pool sizing does not model (Mamba hybrids)
        return None
    if pool.fits:
        return None
    longest = estimate_max_model_len(model, budget, setup.engine, model.max_context, setup.kv_dtype, setup.tp)
    return (f"NOTE: plain `vllm serve` (max_model_len = {model.name}'s {model.max_context:,}) would refuse to start "
            f"on this budget: one request of {model.max_context:,} tokens needs {pool.blocks_per_request + pool.null_block:,} "
            f"blocks and {pool.num_blocks:,} fit; pass --max-model-len {longest:,} or less")


def _verdict(model: Model, w: Weights, d: LayoutFit, seq_len: int | None, batch_size: int | None) -> str | None:
    """The answer to `fit --seq S --batch B`, in one line, for the model as published."""
    if seq_len is None or batch_size is None:
        return None
    ask = f"{batch_size:,} x {seq_len:,} tokens"
    if not all(s.kv_budget_bytes > 0 for s in w.stages):
        return f"{ask} do not fit: the weights alone do not fit"
    seqs, ctx = d.max_seqs_per_replica or 0, d.max_context or 0
    if d.fits:
        return (f"{ask} fit: room for {seqs:,} such sequences (or {ctx:,} tokens each at batch {batch_size:,}), "
                f"{model.name} as published")
    return (f"{ask} do not fit: at most {seqs:,} sequences of {seq_len:,} tokens (or {ctx:,} tokens each at batch "
            f"{batch_size:,}), {model.name} as published")


def fit_report(model: Model, setup: Setup, seq_len: int | None, batch_size: int | None,
               weights_bytes: int | None = None, weights_from: str = "--weights-bytes", budget: Any = None,
               max_model_len: int | None = None) -> Report:
    """The model and its MHA / MQA rebuilds on a GPU setup: sequences, context, decode bound."""
    if seq_len is None and batch_size is None:
        raise InputError("kvcalc fit needs --seq (how many sequences fit) or --batch (how long a context fits), or both")
    w = weights(model, setup, weights_bytes)
    fits = [layout_fit(model, w, setup, lay, heads, seq_len, batch_size) for lay, heads in fit_layouts(model)]
    mha = fits[1]
    rows = []
    for f, (_, heads) in zip(fits, fit_layouts(model)):
        row = {**asdict(f), "published": heads is None, "layout_kind": layout_kind(model, heads)}
        row["max_seqs_vs_mha"] = (f.max_seqs / mha.max_seqs if mha.max_seqs else None) if f.max_seqs is not None else None
        rows.append(row)
    doc = _setup_doc(model, setup, w)
    doc.update(seq_len=seq_len, batch_size=batch_size, layouts=rows)
    verdict = _verdict(model, w, fits[0], seq_len, batch_size)
    doc.update(verdict=verdict, fits=fits[0].fits if doc["weights_fit"] else False)

    estimate = (" (an estimate: SGLang takes the share of the free memory it measures before and after loading the "
                "weights; give the bytes it gives the pool as --kv-memory for its exact sizing)"
                if setup.engine.pool_unit == "tokens" else
                " (an estimate: vLLM profiles its own activations; give vLLM's 'Available KV cache memory' as "
                "--kv-memory for its exact sizing)")
    notes = [_budget_note(setup, w, weights_from) + estimate] if budget is None else []
    if budget is not None:
        from .vllm_budget import startup

        lines, said, starts = startup(model, budget, setup, max_model_len, _weights_how(setup, w, weights_from))
        notes += lines
        doc["budget"] = budget.document()
        doc["budget"].update(said)
        if not starts:
            doc["fits"] = False
            verdict = doc["verdict"] = f"vLLM would refuse to start: {said['refusal']}"
    if not doc["weights_fit"]:
        need = w.per_gpu_bytes + setup.reserve_bytes
        notes.append(
            f"DOES NOT FIT: the weights alone need {w.per_gpu_bytes:,} B per GPU ({human_bytes(w.per_gpu_bytes)}) "
            f"+ {setup.reserve_bytes:,} B reserve = {need:,} B, more than the {setup.usable_bytes:,} B usable "
            f"on a {setup.gpu.name}; add GPUs (--tp / --pp), or quantise (--weights-dtype)"
        )
    elif seq_len is not None:
        for f in fits[:2]:
            notes.append(_explain(model, setup, f, seq_len))
        m0 = fits[0]
        if mha.max_seqs and m0.max_seqs is not None and not model.mla:
            ideal = mha.kv_heads_per_gpu / m0.kv_heads_per_gpu  # per GPU: replication can eat part of the saving
            whole = model.n_heads / model.n_kv_heads
            why = "" if ideal == whole else (
                f" per GPU ({whole:g}x in all, but tp {setup.tp} replicates each of its {model.n_kv_heads} KV heads "
                f"on {setup.tp // model.n_kv_heads} GPUs)")
            notes.append(
                f"{m0.layout} holds {m0.max_seqs:,} / {mha.max_seqs:,} = {m0.max_seqs / mha.max_seqs:.2f}x the "
                f"sequences of MHA; its KV is {ideal:g}x smaller{why}, and flooring (blocks per GPU, then whole "
                f"sequences) moves the ratio off {ideal:g}"
            )
    serve = _serve_note(model, setup, min(st.kv_budget_bytes for st in w.stages)) if doc["weights_fit"] else None
    if serve:
        notes.append(serve)
    if setup.tp > model.n_kv_heads and not model.mla:
        notes.append(
            f"tp {setup.tp} > {model.n_kv_heads} KV heads: each GPU holds 1 KV head (each head replicated on "
            f"{setup.tp // model.n_kv_heads} GPUs), never {model.n_kv_heads / setup.tp:g}; MQA gains nothing more"
        )
    if model.mla:
        notes.append("MLA: the latent is not split by tensor parallelism; every GPU holds it whole")
    if setup.pp > 1:
        sizes = ", ".join(str(len(r)) for r in stages(model.n_layers, setup.pp))
        notes.append(f"pp {setup.pp}: stages of {sizes} layers; the stage with the least room decides")
    if setup.replicas > 1:
        notes.append(f"{setup.n_gpus} GPUs = {setup.replicas} replicas of tp {setup.tp} x pp {setup.pp}; max seqs counts all replicas")
    d = fits[0]
    if doc["kv_dtype_rule"]:
        notes.append(f"KV dtype {doc['kv_dtype_rule']}")
    if seq_len is not None and model.max_context is not None and seq_len > model.max_context:
        notes.append(f"{seq_len:,} tokens is beyond {model.name}'s trained context of {model.max_context:,} tokens "
                     f"(max_position_embeddings, rope scaling considered): memory may hold it, the model was not trained for it")
    unfit = [f.layout for f in fits if f.fits is False]
    if unfit:
        notes.append(f"decode bound not computed for {', '.join(unfit)}: {batch_size:,} x {seq_len:,} tokens do not fit there")
    if d.decode_tokens_per_s is not None:
        notes.append(
            f"decode bound (one replica): tokens/s <= batch / ((weights read + KV of the batch) per GPU / "
            f"{human_rate(setup.gpu.hbm_bandwidth_bytes_per_s)}), at batch {d.decode_batch:,} x {d.decode_seq_len:,} tokens"
            + (" (MoE: experts read = min(n_experts, batch x experts per token))" if model.moe else "")
        )
    if batch_size is not None and d.max_context is not None and model.max_context is not None \
            and d.max_context > model.max_context:
        notes.append(f"max context is what memory holds; {model.name} itself is trained for {model.max_context:,} tokens")
    what = " and ".join(x for x in (f"{seq_len:,} tokens" if seq_len else "", f"batch {batch_size:,}" if batch_size else "") if x)
    title = (f"{verdict}\n" if verdict else "") + (f"{model.name} on {setup.n_gpus} x {setup.gpu.name} (tp {setup.tp}, pp {setup.pp}), {what}, "
             f"KV {doc['kv_dtype']}, weights {w.dtype}, engine {setup.engine.label}")
    prefix = {k: doc[k] for k in ("model", "gpu", "n_gpus", "tp", "pp", "kv_dtype", "weights_dtype", "seq_len", "batch_size")}
    return Report(title, FIT_COLUMNS, rows, doc, notes, csv_prefix=prefix)


PLAN_COLUMNS = [
    Column("layout", "Layout"),
    Column("n_kv_heads", "KV heads", "int"),
    Column("q_heads_per_kv_head", "Group", "int", optional=True),
    Column("kv_heads_per_gpu", "per GPU", "int"),
    Column("kv_bytes_per_gpu", "KV/GPU (B)", "int", optional=True),
    Column("kv_human", "KV/GPU", "bytes"),
    Column("fits", "Fits", "bool"),
    Column("max_seqs", "Max seqs", "int"),
    Column("decode_tokens_per_s", "Decode <= tok/s", "tps"),
]


def plan_report(model: Model, setup: Setup, seq_len: int, batch_size: int, weights_bytes: int | None = None,
                min_tokens_per_s: float | None = None) -> Report:
    """Every group count (divisor of n_heads) at a context and batch target, and the recommended
    one: the most KV heads (best quality) that fits and meets the speed target."""
    w = weights(model, setup, weights_bytes)
    budget = min(s.kv_budget_bytes for s in w.stages)
    rows = []
    for layout, heads in plan_layouts(model):
        own = heads == model.n_kv_heads and model.mla is None and set(model.layer_kinds) <= {FULL}  # the model itself
        row: dict[str, Any] = {"layout": layout, "published": own, "layout_kind": layout_kind(model, None if own else heads),
                               "n_kv_heads": heads, "q_heads_per_kv_head": model.n_heads // heads}
        try:
            f = layout_fit(model, w, setup, layout, heads, seq_len, batch_size)
        except InputError as err:  # a head count tp cannot shard
            row.update(kv_heads_per_gpu=None, kv_bytes_per_gpu=None, fits="no", reason=str(err),
                       max_seqs=None, decode_tokens_per_s=None)
            rows.append(row)
            continue
        ok = f.kv_bytes_per_gpu is not None and f.kv_bytes_per_gpu <= budget and budget > 0
        fast = min_tokens_per_s is None or (f.decode_tokens_per_s or 0) >= min_tokens_per_s
        row.update(kv_heads_per_gpu=f.kv_heads_per_gpu, kv_bytes_per_gpu=f.kv_bytes_per_gpu,
                   fits=ok and fast,
                   reason=None if ok and fast else ("too slow" if ok else "KV does not fit"),
                   max_seqs=f.max_seqs, decode_tokens_per_s=f.decode_tokens_per_s)
        rows.append(row)
    for r in rows:
        r["kv_human"] = r["kv_bytes_per_gpu"]
    best = next((r for r in rows if r["fits"]), None)
    notes = [_budget_note(setup, w)]
    if weights_bytes is None and w.params is None:
        notes.append("weights not counted: pass --weights-bytes")
    elif weights_bytes == 0:
        notes.insert(0, "WEIGHTS COUNTED AS 0 B: the whole usable memory is taken for KV; give --weights-bytes (or MODEL)")
    target = f"{batch_size:,} sequences of {seq_len:,} tokens"
    if min_tokens_per_s is not None:
        target += f" at >= {min_tokens_per_s:g} tokens/s"
    if best is not None:
        notes.append(
            f"RECOMMENDED: {best['n_kv_heads']} KV heads (groups of {best['q_heads_per_kv_head']}), the most KV heads "
            f"that hold {target}; more KV heads keep more of MHA's quality, fewer only save memory you do not need"
        )
    else:
        notes.append(f"NOTHING FITS {target}: even MQA needs more than the {budget:,} B KV budget per GPU "
                     "(or is too slow); add GPUs, shorten the context or the batch, or quantise the cache")
    doc = _setup_doc(model, setup, w)
    doc.update(seq_len=seq_len, batch_size=batch_size, min_tokens_per_s=min_tokens_per_s,
               recommended_n_kv_heads=best["n_kv_heads"] if best else None,
               layouts=[{k: v for k, v in r.items() if k != "kv_human"} for r in rows])
    title = (f"{model.name}: group counts for {target} on {setup.n_gpus} x {setup.gpu.name} (tp {setup.tp}, pp {setup.pp}), "
             f"engine {setup.engine.label}")
    prefix = {k: doc[k] for k in ("model", "gpu", "n_gpus", "tp", "pp", "kv_dtype", "seq_len", "batch_size")}
    return Report(title, PLAN_COLUMNS, rows, doc, notes, csv_prefix=prefix)


GPU_COLUMNS = [
    Column("name", "GPU"),
    Column("memory_bytes", "Memory (B)", "int", optional=True),
    Column("memory_human", "Memory", "bytes"),
    Column("cuda_total_human", "CUDA total", "bytes", optional=True),
    Column("gpu_usable_human", "GPU may use", "bytes"),
    Column("hbm_bandwidth_bytes_per_s", "Bandwidth (B/s)", "int", optional=True),
    Column("bandwidth_human", "Bandwidth", "rate"),
    Column("aliases", "Also"),
]


def gpus_report(gpus: list[GPU]) -> Report:
    rows = []
    for g in gpus:
        cuda, cuda_source = g.cuda_total
        usable, usable_rule = g.working_set()
        rows.append({
            "name": g.name, "vendor": g.vendor, "memory_bytes": g.memory_bytes, "memory_human": g.memory_bytes,
            "hbm_bandwidth_bytes_per_s": g.hbm_bandwidth_bytes_per_s, "bandwidth_human": g.hbm_bandwidth_bytes_per_s,
            "aliases": ", ".join(g.aliases), "source": g.source,
            "cuda_total_bytes": cuda, "cuda_total_human": cuda, "cuda_total_source": cuda_source,
            "cuda_total_derived": g.cuda_total_bytes is None,
            "gpu_usable_bytes": usable, "gpu_usable_human": usable, "gpu_usable_rule": usable_rule,
        })
    doc = {"gpus": [{k: v for k, v in r.items() if not k.endswith("_human")} | {"aliases": list(g.aliases)}
                    for r, g in zip(rows, gpus)]}
    notes = ["memory: total as the driver reports it (nvidia-smi memory.total); CUDA total: what CUDA reports "
             "(torch.cuda.mem_get_info, what vLLM takes its share of), from a public log, or derived (memory less "
             "512 MiB) where none shows it; bandwidth: vendor datasheet",
             "GPU may use: what llama.cpp can allocate there: CUDA's total (NVIDIA), the VRAM (AMD), or on a Mac "
             "Metal's recommendedMaxWorkingSetSize (a log's, else macOS's rule: 2/3 of the memory up to 32 GiB, 3/4 "
             "from 36 GiB; `sudo sysctl iogpu.wired_limit_mb=N` raises it: kvcalc fit --wired-limit)",
             "sources: kvcalc gpus --format yaml; add your own GPUs with --gpu-catalog FILE (same shape as kvcalc/planning/gpus.yaml)"]
    return Report("GPU catalog", GPU_COLUMNS, rows, doc, notes)


# ----- vLLM's own sizing: `kvcalc fit --engine vllm --kv-memory BYTES` ------------------------

POOL_COLUMNS = [
    Column("layout", "Layout"),
    Column("n_kv_heads", "KV heads", "int"),
    Column("page_bytes", "Page (B)", "int", optional=True),
    Column("groups_text", "Groups", optional=True),
    Column("num_blocks", "Blocks", "int"),
    Column("kv_cache_tokens", "Tokens", "int"),
    Column("max_concurrency", "Concurrency", "factor"),
    Column("fits", "Starts", "bool"),
]


def pool_report(model: Model, kv_memory: int, engine: Any, max_model_len: int, kv_dtype: str = "auto",
                tp: int = 1) -> Report:
    """What vLLM prints at start-up for `kv_memory` bytes of KV cache per GPU ("GPU KV cache size:
    N tokens", "Maximum concurrency for L tokens per request: C x"), for the model as published
    and rebuilt as MHA and MQA."""
    from .capacity import fit_layouts, kv_heads_per_gpu
    from ..engines.vllm import estimate_max_model_len, size_pool

    if model.n_heads % tp:
        raise InputError(f"--tp {tp} does not divide the {model.n_heads} query heads of {model.name}")
    kv_name = resolve(kv_dtype, engine.serving_dtype(model)).name
    rows, pools = [], []
    for layout, heads in fit_layouts(model):
        pool = size_pool(model, kv_memory, engine, max_model_len, kv_dtype, tp, heads)
        n_kv = heads if heads is not None else model.n_kv_heads
        latent = model.mla is not None and heads is None
        groups = [{"kind": g.kind, "n_layers": g.n_layers, "page_bytes": g.page_bytes,
                   "blocks_per_request": g.blocks_per_request} for g in pool.groups]
        rows.append({
            "layout": layout, "published": heads is None, "layout_kind": layout_kind(model, heads), "n_kv_heads": n_kv,
            "kv_heads_per_gpu": 0 if latent else kv_heads_per_gpu(n_kv, tp),
            "page_bytes": pool.groups[0].page_bytes, "block_bytes": pool.block_bytes,
            "groups_text": " + ".join(f"{g.n_layers} {g.kind}" for g in pool.groups),
            "groups": groups, "num_blocks": pool.num_blocks, "kv_cache_tokens": pool.kv_cache_tokens,
            "blocks_per_request": pool.blocks_per_request, "max_concurrency": pool.max_concurrency,
            "fits": pool.fits,
            "estimated_max_model_len": None if pool.fits else estimate_max_model_len(
                model, kv_memory, engine, max_model_len, kv_dtype, tp, heads),
        })
        pools.append(pool)
    first, pool = rows[0], pools[0]
    g0 = pool.groups[0]
    widest = max(pool.groups, key=lambda g: g.n_layers)
    notes = [
        f"num_blocks = {kv_memory:,} // ({widest.n_layers} layers x {widest.page_bytes:,} B pages) = {pool.num_blocks:,}"
        + (f" (the largest of {len(pool.groups)} KV-cache groups)" if len(pool.groups) > 1 else ""),
        f"a request of {max_model_len:,} tokens takes "
        + " + ".join(f"{g.blocks_per_request:,}" for g in pool.groups)
        + f" blocks; maximum concurrency = {pool.num_blocks:,} / {pool.blocks_per_request:,} = "
        f"{pool.max_concurrency:.2f}x; KV cache size = "
        + (f"{pool.num_blocks:,} // {len(pool.groups)} groups x {pool.block_size} = " if pool.tokens_rule == "blocks"
           else f"int({pool.max_concurrency:.6g} x {max_model_len:,}) = ")
        + f"{pool.kv_cache_tokens:,} tokens",
    ]
    if any(g.kind == "sliding" for g in pool.groups):
        notes.append(f"sliding layers reserve window - 1 + {engine.in_flight_tokens:,} tokens in flight "
                     f"({engine.in_flight_text}), + 1 block")
    if not first["fits"]:
        notes.append(
            f"DOES NOT FIT: vLLM refuses to start, one request of {max_model_len:,} tokens needs "
            f"{pool.blocks_per_request + 1:,} blocks with the null block, and {pool.num_blocks:,} fit; the estimated "
            f"maximum model length is {first['estimated_max_model_len']:,}")
    for r in rows[1:]:
        if not r["fits"]:
            notes.append(f"{r['layout']}: vLLM would refuse to start; estimated maximum model length "
                         f"{r['estimated_max_model_len']:,}")
    if model.mla:
        notes.append("MLA: one latent per token (576 elements for DeepSeek-V3), whole on every GPU")
    elif tp > model.n_kv_heads:
        notes.append(f"tp {tp} > {model.n_kv_heads} KV heads: each GPU holds 1 KV head (replicated)")
    rules = f"rules of vLLM {engine.version}, the era from {engine.rules_version} (vllm/v1/core/kv_cache_utils.py)"
    if all(g.kind == "mamba" for g in pool.groups):
        notes.append(f"no attention: one recurrent state of {g0.page_bytes:,} B per layer a request (a block of "
                     f"max_model_len tokens, no prefix caching), so the tokens vLLM reports are blocks x "
                     f"max_model_len; {rules}")
    else:
        notes.append(f"a page is {pool.block_size} tokens x {g0.page_bytes // pool.block_size:,} B = {g0.page_bytes:,} B "
                     f"per layer; {rules}")
    if model.ssm is not None and pool.block_size != engine.block_size and not all(g.kind == "mamba" for g in pool.groups):
        notes.append(f"a hybrid: vLLM grows the attention block from {engine.block_size} to {pool.block_size} tokens so "
                     f"that one page holds a layer's recurrent state (padded to the page); a request holds 2 state "
                     f"blocks a group (3 for Mamba-2, a prefill checkpoint: prefix caching is on)")
    doc = {
        "model": model.name, **engine_doc(engine), "kv_memory_bytes": kv_memory,
        "tp": tp, "block_size": pool.block_size, "max_model_len": max_model_len,
        "max_num_batched_tokens": engine.max_num_batched_tokens, "kv_dtype": kv_name, "layouts": rows,
        **{k: first[k] for k in ("num_blocks", "kv_cache_tokens", "max_concurrency", "page_bytes", "groups", "fits")},
    }
    title = (f"{model.name}: vLLM KV cache for {kv_memory:,} B per GPU (tp {tp}), max_model_len {max_model_len:,}, "
             f"{kv_name}, block {pool.block_size}")
    prefix = {k: doc[k] for k in ("model", "engine", "kv_memory_bytes", "tp", "block_size", "max_model_len", "kv_dtype")}
    table_rows = [{k: v for k, v in r.items() if k != "groups"} for r in rows]
    return Report(title, POOL_COLUMNS, table_rows, doc, notes, csv_prefix=prefix)


ENGINES_COLUMNS = [
    Column("engine", "Engine"),
    Column("share", "Share"),
    Column("kv_budget_bytes_per_gpu", "KV budget/GPU", "bytes"),
    Column("max_seqs", "Max seqs", "int"),
    Column("max_context", "Max context", "int"),
    Column("verdict", "Verdict", optional=True),
]


def _budget_line(b: dict[str, Any]) -> str:
    """vLLM's predicted budget in one line, GiB as it prints them."""
    g = 1 << 30
    return (f"predicted: requested {b['requested_bytes'] / g:.2f} - weights {b['weights_bytes'] / g:.2f} - peak activation "
            f"{b['peak_activation_bytes'] / g:.2f} - non-torch {b['non_torch_bytes'] / g:.2f} - CUDA graphs "
            f"{b['cuda_graph_bytes'] / g:.2f} = Available KV cache memory {b['available_kv_bytes'] / g:.2f} GiB "
            f"(rules of {b['rules_version']}; estimates: activation, non-torch, graphs)")


def engines_fit_report(model: Model, reports: list[Report]) -> Report:
    """`fit --engine vllm,sglang`: each engine's answer for the same GPUs, side by side (the model
    as published); each engine's whole fit is in the JSON's `engines`."""
    rows = []
    for r in reports:
        d = r.document
        published = next(x for x in d["layouts"] if x["published"])
        share = (f"--mem-fraction-static {d['mem_fraction_static']:g}" if "mem_fraction_static" in d else
                 f"--gpu-memory-utilization {d['gpu_memory_utilization']:g} x CUDA's total - weights - activation - "
                 f"non-torch - graphs" if "budget" in d else
                 f"--gpu-memory-utilization {d['gpu_memory_utilization']:g} - {human_bytes(d['reserve_bytes'], 'iec')} reserve")
        rows.append({"engine": f"{d['engine']} {d['engine_version'] or ''}".strip(), "share": share,
                     "kv_budget_bytes_per_gpu": d["kv_budget_bytes_per_gpu"], "max_seqs": published["max_seqs"],
                     "max_context": published["max_context"], "verdict": d.get("verdict")})
    first = reports[0].document
    doc = {"model": model.name, "gpu": first["gpu"], "n_gpus": first["n_gpus"], "tp": first["tp"], "pp": first["pp"],
           "seq_len": first["seq_len"], "batch_size": first["batch_size"], "rows": rows,
           "engines": [r.document for r in reports]}
    notes = [f"{row['engine']}: {_budget_line(r.document['budget']) if 'budget' in r.document else r.notes[0]}"
             for row, r in zip(rows, reports)]
    notes.append("each engine's own fit: --engine with one of them, or --format json (engines)")
    title = f"{model.name} on {first['n_gpus']} x {first['gpu']}: " + " vs ".join(r["engine"] for r in rows)
    return Report(title, ENGINES_COLUMNS, rows, doc, notes)
