"""`kvcalc fit --engine sglang --kv-memory`: SGLang's token pool for the bytes it gives the pool,
with the lines SGLang prints at startup ("KV Cache is allocated. #tokens: N, K size: X GB, V size:
Y GB", SGLang's GB being GiB). The arithmetic is kvcalc.engines.sglang's."""

from __future__ import annotations

from typing import Any

from ..dtypes import resolve
from ..errors import InputError
from ..models.model import Model
from ..output.report import Column, Report, engine_doc

COLUMNS = [
    Column("layout", "Layout"),
    Column("cell_bytes", "Bytes/token/GPU", "int"),
    Column("max_total_num_tokens", "Tokens", "int"),
    Column("swa_tokens", "SWA tokens", "int", optional=True),
    Column("k_bytes", "K (B)", "int"),
    Column("v_bytes", "V (B)", "int"),
    Column("max_running_requests", "Requests", "int", optional=True),
    Column("max_concurrency", "Concurrency", "factor"),
]


def token_pool_report(model: Model, kv_memory: int, engine: Any, context_len: int, kv_dtype: str = "auto",
                      tp: int = 1, max_total_tokens: int | None = None) -> Report:
    """What SGLang allocates for `kv_memory` bytes of pool per GPU."""
    from ..engines.sglang import size_pool

    if model.n_heads % tp:
        raise InputError(f"--tp {tp} does not divide the {model.n_heads} query heads of {model.name}")
    from ..engines.sglang import allocated_line

    pool = size_pool(model, kv_memory, engine, kv_dtype, tp, max_total_tokens)
    kv_name = resolve(kv_dtype, engine.serving_dtype(model)).name
    per_seq = -(-context_len // pool.page_size) * pool.page_size
    swa = pool.parts[1] if len(pool.parts) > 1 else None
    row = {
        "layout": "MLA (published)" if pool.latent else "published", "cell_bytes": pool.cell_bytes,
        "max_total_num_tokens": pool.max_total_num_tokens, "swa_tokens": swa.tokens if swa else None,
        "k_bytes": pool.k_bytes, "v_bytes": pool.v_bytes,
        "max_running_requests": pool.max_running_requests(context_len),
        "max_concurrency": pool.max_total_num_tokens / per_seq,
    }
    lines = [line for line in (allocated_line(p, engine, kv_name) for p in pool.parts) if line]
    if pool.mamba is not None:
        lines.insert(0, pool.mamba.line())
        row["mamba_slots"] = pool.mamba.slots
        row["mamba_bytes"] = (pool.mamba.slots + 1) * pool.mamba.slot_bytes
    full = pool.parts[0]
    what = (f"{full.layers} layers x {full.k_row_bytes:,} B latent" if pool.latent else
            f"{full.layers} layers x (K {full.k_row_bytes:,} + V {full.v_row_bytes:,} B)")
    if swa is not None:
        what += f" + {engine.swa_full_tokens_ratio:g} x {swa.layers} SWA layers x {swa.k_row_bytes + swa.v_row_bytes:,} B"
    notes = []
    if pool.mamba is not None:
        m = pool.mamba
        notes.append(f"state slots first (0.5.17 on): {kv_memory:,} B x {engine.mamba_full_memory_ratio:g} / "
                     f"{1 + engine.mamba_full_memory_ratio:g} buys {m.slots:,} slots + 1 padding of {m.slot_bytes:,} B "
                     f"({m.layers} Mamba layers x (conv {m.conv_bytes:,} + SSM {m.ssm_bytes:,} B)); the KV pool takes "
                     f"the other {pool.available_bytes:,} B")
    notes += [
        f"cell = {what} = {pool.cell_bytes:,} B a token on each GPU"
        + ("" if pool.latent or tp == 1 else f" (max(1, {model.n_kv_heads} KV heads // tp {tp}) a GPU)"),
        f"max_total_num_tokens = {pool.available_bytes:,} // {pool.cell_bytes:,}"
        + (f", capped at --max-total-tokens {max_total_tokens:,}" if max_total_tokens is not None else "")
        + (f", floored to pages of {pool.page_size}" if pool.page_size > 1 else "") + f" = {pool.max_total_num_tokens:,}"
        + (f"; the SWA pool int({pool.max_total_num_tokens:,} x {engine.swa_full_tokens_ratio:g}) = {swa.tokens:,}"
           if swa is not None else ""),
        f"each layer's buffers hold the pool's tokens + {engine.extra} rows; SGLang logs: " + (" / ".join(lines) or
                                                                                              "(no line in this release)"),
        f"{pool.max_total_num_tokens / per_seq:.2f} requests of context_len {context_len:,} fit at once; "
        + (f"max_running_requests = min(tokens // 2, request slots) = {row['max_running_requests']:,}"
           if pool.mamba is None else "max_running_requests is also capped by the state slots a request takes "
                                      "(not modelled)"),
        f"rules of SGLang {engine.version}, the era from {engine.rules_version} (`kvcalc engines`)",
    ]
    doc = {
        "model": model.name, **engine_doc(engine), "kv_memory_bytes": kv_memory, "tp": tp,
        "page_size": pool.page_size, "context_len": context_len, "kv_dtype": kv_name, **row,
        "kv_bytes": pool.k_bytes + pool.v_bytes, "log": lines,
    }
    title = (f"{model.name}: SGLang token pool for {kv_memory:,} B per GPU (tp {tp}), context_len {context_len:,}, "
             f"{kv_name}, page {pool.page_size}")
    prefix = {k: doc[k] for k in ("model", "engine", "kv_memory_bytes", "tp", "page_size", "context_len", "kv_dtype")}
    return Report(title, COLUMNS, [row], doc, notes, csv_prefix=prefix)
