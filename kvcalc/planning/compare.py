"""`kvcalc compare`: models side by side, or the head configurations of one model from MHA to
MQA, with KV bytes, share of MHA and saving; with --gpu, the decode speed bound of each."""

from __future__ import annotations

from typing import Any

from .capacity import Setup, decode_bound, kv_heads_per_gpu, parallel_setup, weights
from ..errors import InputError, KvcalcError
from ..core.formulas import DEFAULT_BLOCK_SIZE, check_kv_heads, divisors, kv_cache, layout_kind, layout_name
from ..models.model import Model
from ..engines import Engine, get_engine
from ..output.report import Column, Report, engine_doc

COLUMNS = [
    Column("model", "Model"),
    Column("layout", "Layout"),
    Column("n_kv_heads", "KV heads", "int"),
    Column("q_heads_per_kv_head", "Group", "int", optional=True),
    Column("bytes_per_token", "Bytes/token", "int", optional=True),
    Column("kv_cache_bytes", "KV cache (B)", "int", optional=True),
    Column("kv_cache_human", "KV cache", "bytes"),
    Column("ratio_vs_mha", "Share of MHA", "ratio"),
    Column("saving", "Saving vs MHA", "saving", optional=True),
]
GPU_COLUMNS = [Column("fits", "Fits", "bool"), Column("decode_tokens_per_s", "Decode <= tok/s", "tps")]


def parse_kv_heads(text: str | None, models: list[Model]) -> list[int] | None:
    """--kv-heads 64,32,8 or `all` (every divisor of n_heads of the one model compared)."""
    if text is None:
        return None
    if text.strip().lower() == "all":
        if len({m.n_heads for m in models}) != 1:
            raise InputError("--kv-heads all needs models with the same number of query heads")
        return divisors(models[0].n_heads)
    from ..output.units import parse_size_list

    heads = parse_size_list(text, "--kv-heads")
    for m in models:
        for h in heads:
            check_kv_heads(m, h)
    return heads


def _layout(model: Model, heads: int | None) -> str:
    from ..core.formulas import published_label

    return published_label(model) if heads is None else layout_name(model, heads)


def compare_report(models: list[Model], seq_len: int, batch_size: int = 1, kv_dtype: str = "auto",
                   engine: "Engine | str" = "exact", block_size: int = DEFAULT_BLOCK_SIZE, kv_heads: list[int] | None = None,
                   setup: Setup | None = None) -> Report:
    """One row per model (as published), or per model and head count with --kv-heads."""
    engine = get_engine(engine, block_size)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for m in models:
        mha = kv_cache(m, seq_len, batch_size, kv_dtype=kv_dtype, engine=engine, block_size=block_size,
                       n_kv_heads=m.n_heads)
        w = weights(m, setup) if setup is not None else None
        if mha.state is not None:  # the recurrent state is not K/V: said, with its bytes
            notes.append(f"{m.name} also keeps a recurrent state: {mha.state.n_layers} {mha.state.label} layers x "
                         f"{mha.state.bytes_per_layer:,} B = {mha.state.bytes_per_sequence:,} B per sequence, whatever "
                         f"the context (not in the K/V columns)")
        for heads in [None, *(kv_heads or [])]:  # the model as published first, then its rebuilds
            c = kv_cache(m, seq_len, batch_size, kv_dtype=kv_dtype, engine=engine, block_size=block_size, n_kv_heads=heads)
            ratio = c.total_bytes / mha.total_bytes if mha.total_bytes else 0.0
            row: dict[str, Any] = {
                "model": m.name, "layout": _layout(m, heads), "published": heads is None,
                "layout_kind": layout_kind(m, heads), "n_kv_heads": c.n_kv_heads,
                "q_heads_per_kv_head": m.n_heads // c.n_kv_heads, "kv_dtype": c.kv_dtype,
                "bytes_per_token": c.bytes_per_token, "kv_cache_bytes": c.total_bytes, "ratio_vs_mha": ratio,
            }
            if setup is not None and w is not None:
                try:
                    parallel_setup(m, None, setup.tp, 1)
                    if heads is not None:
                        kv_heads_per_gpu(heads, setup.tp)
                    row["decode_tokens_per_s"], kv = decode_bound(m, w, setup, seq_len, batch_size, heads)
                    row["fits"] = kv <= min(st.kv_budget_bytes for st in w.stages)
                except KvcalcError as err:
                    row["decode_tokens_per_s"] = row["fits"] = None
                    notes.append(f"{m.name} {row['layout']}: {err}")
            rows.append(row)
    display = [dict(r, kv_cache_human=r["kv_cache_bytes"], saving=r["ratio_vs_mha"]) for r in rows]
    columns = COLUMNS + (GPU_COLUMNS if setup is not None else [])
    dtypes = {r["kv_dtype"] for r in rows}
    doc: dict[str, Any] = {"seq_len": seq_len, "batch_size": batch_size, **engine_doc(engine),
                           "kv_dtype": dtypes.pop() if len(dtypes) == 1 else None, "rows": rows}  # null: see each row
    notes.insert(0, "share of MHA: each model against its own rebuild with one KV head per query head")
    if setup is not None:
        doc.update(gpu=setup.gpu.name, tp=setup.tp, hbm_bandwidth_bytes_per_s=setup.gpu.hbm_bandwidth_bytes_per_s)
        notes.append(
            f"decode bound on {setup.tp} x {setup.gpu.name}: tokens/s <= batch / ((weights per GPU + KV per GPU) / "
            f"bandwidth) for {batch_size:,} sequences of {seq_len:,} tokens; fewer KV bytes, fewer bytes read a step"
        )
        notes.append(f"fits: weights + KV of the batch within memory x {setup.gpu_memory_utilization:g} - "
                     f"{setup.reserve_bytes:,} B reserve per GPU (see `kvcalc fit` for the detail)")
    what = "head configurations" if kv_heads else "models"
    title = f"KV cache, {what} side by side: {seq_len:,} tokens x batch {batch_size}, engine {engine.label}"
    return Report(title, columns, display, doc, notes,
                  csv_prefix={"seq_len": seq_len, "batch_size": batch_size, "engine": engine.name})
