"""`kvcalc fit --engine llama.cpp|ollama`: parse llama.cpp's flags, build the setup, call
kvcalc.planning.local_reports. No arithmetic here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..call import Call, Result
from ..errors import InputError


def weights_of(cfg: Any, model: str, weights_dtype: str, default_type: str | None) -> Any:
    """The model's GGUF tensors: a .gguf file's own table, or its config + llama.cpp's quantizer
    at --weights-dtype (or the runtime's default file type)."""
    from ..engines.llamacpp import ggml_name
    from ..models.gguf_quant import FILE_TYPES
    from ..models.gguf_tensors import from_config, from_file

    if str(model).lower().endswith(".gguf"):
        if weights_dtype.strip().lower() != "auto":
            raise InputError(f"--weights-dtype {weights_dtype}: a .gguf file's tensors have their own types; leave it out")
        return from_file(Path(model))
    ftype = weights_dtype.strip().lower()
    if ftype == "auto":
        if default_type is None:
            raise InputError(f"{cfg.name}: say which GGUF: --weights-dtype FILE_TYPE (q4_k_m, q8_0, f16 ...: "
                             f"llama-quantize's types) or give the .gguf file")
        ftype = default_type  # Ollama's library tags (llama3.1:8b ...) are Q4_K_M
    ftype = ggml_name(ftype)  # kvcalc's fp16 / fp32 are llama.cpp's f16 / f32
    if ftype not in FILE_TYPES:
        raise InputError(f"--weights-dtype {weights_dtype!r}: with --engine llama.cpp, a llama.cpp file type "
                         f"(choose from: {', '.join(FILE_TYPES)})")
    return from_config(cfg, ftype)


def local_fit(call: Call, model: str, cfg: Any, eng: Any, gpu: str, catalog: Any, seq: Any, batch: Any,
              k_dtype: str, v_dtype: str, weights_dtype: str, weights_bytes: Any, reserve: Any, ngl: Any,
              n_cpu_moe: Any, wired_limit: Any) -> Any:
    """The report of one llama.cpp / Ollama fit."""
    from ..output.units import parse_bytes, parse_size
    from ..planning.gpus import find_gpu
    from ..planning.local_fit import DEFAULT_MARGIN, Local
    from ..planning.local_reports import local_fit_report

    if weights_bytes is not None:
        raise InputError("--weights-bytes: llama.cpp places weights layer by layer; give the .gguf file or "
                         "--weights-dtype FILE_TYPE instead")
    device = find_gpu(gpu, catalog)
    if wired_limit is not None and not device.unified:
        raise InputError(f"--wired-limit is macOS's iogpu.wired_limit_mb: {device.name} is not an Apple GPU")
    size, rule = device.working_set(parse_bytes(wired_limit, "--wired-limit") if wired_limit is not None else None)
    notes: list[str] = []
    ollama = getattr(eng, "ollama", None)
    n_ctx = parse_size(seq, "--seq") if seq is not None else None
    if ollama is not None:
        eng, n_ctx, notes = ollama.setup(cfg, n_ctx, size)
        k_dtype, k_note = ollama.kv_dtype_for(k_dtype)
        v_dtype, v_note = ollama.kv_dtype_for(v_dtype)
        notes += [n for n in {k_note, v_note} if n]
    w = weights_of(cfg, model, weights_dtype, ollama.default_file_type if ollama else None)
    local = Local(device, eng.for_model(cfg), size, rule, k_dtype, v_dtype,
                  parse_bytes(reserve, "--reserve", allow_zero=True) if reserve is not None else DEFAULT_MARGIN,
                  parse_size(n_cpu_moe, "--n-cpu-moe") if n_cpu_moe is not None else 0, ollama is not None)
    if local.n_cpu_moe and cfg.moe is None:
        raise InputError(f"--n-cpu-moe: {cfg.name} has no experts (not a MoE model)")
    layers = int(ngl) if ngl is not None and str(ngl).lstrip("-").isdigit() else None
    if ngl is not None and layers is None and str(ngl).strip().lower() not in ("all", "auto"):
        raise InputError(f"--n-gpu-layers {ngl!r}: a number of layers, or all")
    if ngl is not None and str(ngl).strip().lower() == "all":
        layers = -1
    words = ollama.words(eng) if ollama else None
    return local_fit_report(cfg, w, local, n_ctx, layers, notes, words)


def slots(parallel: Any, batch: Any) -> int | None:
    """-np: --parallel, or --batch (sequences at once) where --parallel is not given."""
    from ..output.units import parse_size

    p = parse_size(parallel, "--parallel") if parallel is not None else None
    b = parse_size(batch, "--batch") if batch is not None else None
    if p is not None and b is not None and p != b:
        raise InputError(f"--batch {b} and --parallel {p}: with llama.cpp the sequences at once are its -np slots; "
                         f"give one")
    return p if p is not None else b


def fit(model, gpu, seq, batch, kv_dtype, weights_dtype, weights_bytes, reserve, catalog, engine, fmt, output,  # type: ignore[no-untyped-def]
        k_dtype, v_dtype, parallel, kv_unified, swa_full, ubatch, flash_attn, ngl, n_cpu_moe, wired_limit,
        fail_if_not_fit, wide=False, assume=False) -> Result:
    from ..engines import get_engine
    from ..models.registry import load_model
    from ..output.units import parse_size

    call = Call(wide=wide, assume=assume)
    if gpu is None:
        raise InputError("kvcalc fit --engine llama.cpp needs --gpu (a GPU or a Mac from `kvcalc gpus`, or auto)")
    options = {"n_parallel": slots(parallel, batch), "kv_unified": kv_unified, "swa_full": swa_full,
               "n_ubatch": parse_size(ubatch, "--ubatch") if ubatch is not None else None, "flash_attn": flash_attn}
    eng = get_engine(engine, None, **options)
    if eng.warning:
        call.warn(eng.warning)
    cfg = call.admit(load_model(model))
    k = k_dtype if k_dtype is not None else kv_dtype
    v = v_dtype if v_dtype is not None else kv_dtype
    report = local_fit(call, model, cfg, eng, gpu, catalog, seq, batch, k, v, weights_dtype, weights_bytes,
                          reserve, ngl, n_cpu_moe, wired_limit)
    call.emit(report, fmt, "iec", output)
    return call.done(1 if fail_if_not_fit and report.document.get("fits") is False else None)
