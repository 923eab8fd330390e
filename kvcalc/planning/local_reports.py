"""The report of `kvcalc fit --engine llama.cpp|ollama`: a budget per device (weights, KV cache,
compute and output buffers, margin) and the answer: the largest -c, the most -ngl, or a verdict
with what to change. The arithmetic lives in kvcalc.planning.local_fit."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..models.gguf_tensors import Weights, is_expert
from ..models.model import Model
from ..output.report import Column, Report, engine_doc
from ..output.units import human_bytes
from .local_fit import (
    CTX_STEP, DEFAULT_CTX, Local, Placement, check_ngl, max_context, max_ngl, place,
)

LOCAL_COLUMNS = [Column("line", "Budget"), Column("gpu_bytes", "GPU", "bytes"), Column("host_bytes", "Host", "bytes"),
                 Column("how", "How")]


def _ngl_words(model: Model, ngl: int) -> str:
    n = model.n_layers
    if ngl > n:
        return f"all {n + 1} layers on the GPU (-ngl {n + 1}: {n} blocks and the output layer)"
    if ngl == 0:
        return "no layer on the GPU (-ngl 0)"
    return f"{ngl} of {n + 1} layers on the GPU (-ngl {ngl})"


def _kv_words(local: Local) -> str:
    k, v = _dtypes(local).values()
    return f"KV cache ({k})" if k == v else f"KV cache (K {k}, V {v})"


def _usable_words(local: Local) -> str:
    if local.device_rule.startswith("iogpu"):
        return "iogpu.wired_limit_mb (given)"
    if local.gpu.unified:
        return "Metal's working set (recommendedMaxWorkingSetSize)"
    if local.gpu.vendor == "nvidia":
        return "what CUDA reports (sources: kvcalc gpus -f yaml)"
    return "the memory the driver reports"


def _dtypes(local: Local) -> dict[str, str]:
    from ..dtypes import resolve
    from ..engines.llamacpp import ggml_name

    return {"k_dtype": ggml_name(resolve(local.k_dtype, "fp16").name),
            "v_dtype": ggml_name(resolve(local.v_dtype, "fp16").name)}


def _fix(model: Model, w: Weights, local: Local, p: Placement) -> list[str]:
    """What to change when `p` does not fit: a smaller -c, fewer layers, experts on the CPU."""
    out = []
    ctx = max_context(model, w, local, p.ngl, p.n_ctx)
    if ctx is not None:
        out.append(f"-c {ctx.n_ctx:,} (the largest that fits at -ngl {p.ngl})")
    fewer = max_ngl(model, w, local, p.n_ctx)
    if fewer.fits and fewer.ngl < p.ngl:
        out.append(f"-ngl {fewer.ngl} (the most layers that fit at -c {p.n_ctx:,})")
    if model.moe is not None and any(is_expert(t.name) for t in w.tensors) and p.ngl > model.n_layers:
        for n in range(1, model.n_layers + 1):
            q = place(model, w, replace(local, n_cpu_moe=n), p.n_ctx, p.ngl)
            if q.fits:
                out.append(f"--n-cpu-moe {n} (the experts of the first {n} layers in host memory, every layer "
                           f"else on the GPU)")
                break
    if local.k_dtype in ("auto", "f16", "fp16"):
        out.append("a q8_0 cache (-ctk q8_0 -ctv q8_0, with flash attention) halves the KV cache")
    return out


def answer(model: Model, w: Weights, local: Local, n_ctx: int | None, ngl: int | None,
           limit: int) -> tuple[Placement, str]:
    """(the placement, the question answered: max_context | max_ngl | verdict)."""
    if n_ctx is None:
        g = check_ngl(model, ngl if ngl is not None else -1)
        p = max_context(model, w, local, g, limit)
        if p is not None:
            return p, "max_context"
        if ngl is not None:
            return place(model, w, local, CTX_STEP, g), "verdict"
        return max_ngl(model, w, local, min(DEFAULT_CTX, limit)), "max_ngl"
    if ngl is None:
        return max_ngl(model, w, local, n_ctx), "max_ngl"
    return place(model, w, local, n_ctx, check_ngl(model, ngl)), "verdict"


def local_fit_report(model: Model, w: Weights, local: Local, n_ctx: int | None, ngl: int | None,
                     extra_notes: list[str] | None = None, engine_words: str | None = None) -> Report:
    limit = model.max_context or (1 << 20)
    p, question = answer(model, w, local, n_ctx, ngl, limit)
    eng = local.engine
    slots = eng.n_parallel
    gpu_name = local.gpu.name
    who = engine_words or f"llama.cpp {eng.version}"
    if question == "max_context":
        own = " (the model's trained context: the GPU has room to spare)" if p.n_ctx == limit else ""
        head = (f"max context -c {p.n_ctx:,}{own}" + (f" ({p.n_ctx // slots:,} a slot x {slots})" if slots > 1 else "")
                + f", {_ngl_words(model, p.ngl)}")
    elif question == "max_ngl":
        head = (f"-c {p.n_ctx:,}: {_ngl_words(model, p.ngl)}" if p.fits
                else f"-c {p.n_ctx:,} does not fit even with -ngl 0")
    else:
        head = f"-c {p.n_ctx:,}, {_ngl_words(model, p.ngl)}: " + ("fits" if p.fits else "does NOT fit")
    title = f"{model.name} on {gpu_name} with {who}: {head}"
    cells = eng.cells_per_stream(p.n_ctx) * eng.streams()
    fa = eng.flash_attn
    k, v = _dtypes(local).values()
    on_gpu = min(p.ngl, model.n_layers)
    rows = [
        {"line": f"weights ({w.file_type or 'GGUF'})", "gpu_bytes": p.gpu.weights_bytes, "host_bytes": p.host.weights_bytes,
         "how": ("the GGUF's tensor table" if w.file_type is None else "config + llama.cpp's quantizer")
         + "; token_embd in host memory"},
        {"line": _kv_words(local), "gpu_bytes": p.gpu.kv_cache_bytes, "host_bytes": p.host.kv_cache_bytes,
         "how": f"{cells:,} cells, {slots} slot{'s' if slots > 1 else ''}; {on_gpu} of {model.n_layers} layers' on the GPU"},
        {"line": "compute buffers (est.)", "gpu_bytes": p.gpu.compute_buffer_bytes,
         "host_bytes": p.host.compute_buffer_bytes, "how": f"an estimate: -ub {eng.n_ubatch}, flash attention {fa}"},
        {"line": "output buffer", "gpu_bytes": 0, "host_bytes": p.host.output_buffer_bytes,
         "how": f"{model.vocab_size or 0:,} logits x {slots} x 4 B"},
        {"line": "total", "gpu_bytes": p.gpu.total_bytes, "host_bytes": p.host.total_bytes, "how": ""},
        {"line": "margin (kept free)", "gpu_bytes": local.margin_bytes, "host_bytes": None,
         "how": "llama.cpp's --fit target (--reserve)"},
        {"line": f"usable on the {'Mac' if local.gpu.unified else 'GPU'}", "gpu_bytes": local.device_bytes,
         "host_bytes": None, "how": _usable_words(local)},
        {"line": "free after the margin", "gpu_bytes": p.free_bytes, "host_bytes": None, "how": ""},
    ]
    notes = [
        f"usable: {human_bytes(local.device_bytes)} = {local.device_rule}",
        f"weights: {w.source}; token_embd stays in host memory"
        + (f"; --n-cpu-moe {local.n_cpu_moe}: the experts of blocks 0-{local.n_cpu_moe - 1} too" if local.n_cpu_moe else ""),
        f"KV cache: {k} K, {v} V; {'one buffer for all slots' if eng.kv_unified or slots == 1 else 'a stream a slot'}; "
        f"each layer's where its block is (`kvcalc calc --engine llama.cpp` gives llama.cpp's own lines)",
        f"compute buffers: an estimate of the graph's worst case for -ub {eng.n_ubatch} tokens against {cells:,} cells"
        f"{' (flash attention auto: on where the backend supports it)' if fa == 'auto' else ''}; docs/local.md says how "
        f"close it came on real logs",
    ]
    odd = sorted({"sliding-window" if k in "SC" else "MLA" if k == "M" else "recurrent" for k in set(model.layer_kinds)
                  if k in "SCMRH"})
    if odd:
        notes.append(f"compute buffers: {model.name}'s {', '.join(odd)} layers are sized as full attention there "
                     f"(an upper bound: kvcalc checked the graph of full-attention models only)")
    if not p.fits:
        notes.append("to fit: " + "; or ".join(_fix(model, w, local, p)))
    notes += extra_notes or []
    doc: dict[str, Any] = {
        "model": model.name, "gpu": gpu_name, **engine_doc(eng),
        "question": question, "fits": p.fits,
        "n_ctx": p.n_ctx, "n_parallel": slots, "kv_unified": eng.kv_unified, "n_ubatch": eng.n_ubatch,
        "flash_attn": fa, "ngl": p.ngl, "n_layers": model.n_layers, "n_cpu_moe": local.n_cpu_moe,
        **_dtypes(local), "weights_source": w.source, "weights_file_type": w.file_type,
        "weights_bytes": w.total_bytes, "kv_cache_bytes": p.gpu.kv_cache_bytes + p.host.kv_cache_bytes,
        "compute_buffer_bytes": p.gpu.compute_buffer_bytes + p.host.compute_buffer_bytes,
        "compute_is_estimate": True,
        "output_buffer_bytes": p.host.output_buffer_bytes,
        "margin_bytes": local.margin_bytes, "usable_bytes": local.device_bytes, "usable_rule": local.device_rule,
        "free_bytes": p.free_bytes,
        "devices": [
            {"device": gpu_name, "kind": "gpu", "weights_bytes": p.gpu.weights_bytes,
             "kv_cache_bytes": p.gpu.kv_cache_bytes, "compute_buffer_bytes": p.gpu.compute_buffer_bytes,
             "output_buffer_bytes": 0, "total_bytes": p.gpu.total_bytes, "usable_bytes": local.device_bytes,
             "margin_bytes": local.margin_bytes, "free_bytes": p.free_bytes},
            {"device": "host", "kind": "host", "weights_bytes": p.host.weights_bytes,
             "kv_cache_bytes": p.host.kv_cache_bytes, "compute_buffer_bytes": p.host.compute_buffer_bytes,
             "output_buffer_bytes": p.host.output_buffer_bytes, "total_bytes": p.host.total_bytes},
        ],
        "max_context": p.n_ctx if question == "max_context" else None,
        "max_ngl": p.ngl if question == "max_ngl" and p.fits else None,
        "notes": notes,
    }
    return Report(title, LOCAL_COLUMNS, rows, doc, notes)
