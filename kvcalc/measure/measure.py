"""--measure: allocate the caches a runtime would build with PyTorch and check the formula.

torch is imported inside these functions only. Measurement checks the formula, it never
replaces it: the report shows formula bytes, measured bytes and their ratio side by side.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import MeasureError
from .derive import Layers, derive, underivable
from ..engines import get_engine
from ..core.formulas import DEFAULT_BLOCK_SIZE, KVCache, divisors, kv_cache
from ..models.model import Model
from ..output.report import Column, Report
from .attention import DecodeStep, decode_step

SAFETY = 0.8  # use at most this share of the free memory
MAX_BATCH = 1_000_000  # sequences --measure will plan for; a subset is allocated and scaled


def _torch() -> Any:
    import warnings

    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # torch without numpy: harmless
    try:
        import torch
    except ImportError:
        raise MeasureError("--measure needs PyTorch: pip install 'kvcalc[measure]'") from None
    except Exception as err:  # noqa: BLE001 - a broken install (OSError from a shared library, ...)
        raise MeasureError(f"PyTorch is installed but fails to import ({type(err).__name__}: {err}); "
                           "reinstall it: pip install 'kvcalc[measure]'") from None
    return torch


def _rss_bytes() -> int:
    """Resident memory of this process (Linux /proc), 0 where unknown."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _mem_available() -> int:
    """Memory this process may still take: MemAvailable, less where the address-space limit
    (RLIMIT_AS) or the cgroup's memory.max leaves less room."""
    room = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    room.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            with open("/proc/self/statm") as f:
                used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            room.append(max(0, soft - used))
    except (ImportError, OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current") as f:
                room.append(max(0, int(limit) - int(f.read().strip())))
    except (OSError, ValueError):
        pass
    return min(room) if room else 0


def pick_device(torch: Any, device: str) -> str:
    device = device.strip().lower()
    if device not in ("auto", "cuda", "cpu"):
        raise MeasureError(f"unknown --device {device!r} (choose from: auto, cuda, cpu)")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise MeasureError("--device cuda: no CUDA device is available to this PyTorch")
    return device


ITEMSIZE = {"fp32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1, "int8": 1, "uint8": 1}


def _spec_bytes(layers: list[Layers]) -> int:
    """Bytes of one layer of each kind (the whole batch), as derive's shapes say."""
    total = 0
    for group in layers:
        for t in group.tensors:
            n = 1
            for d in t.shape:
                n *= d
            total += n * ITEMSIZE[t.dtype]
    return total


@dataclass(frozen=True)
class Plan:
    """What to allocate: every layer, or one layer of each kind; for how many sequences (a
    subset when the whole cache would not fit; measure() scales it back exactly)."""

    all_layers: bool
    batch: int  # sequences allocated


def plan(derived: Any, batch_size: int, free_bytes: int) -> Plan:
    """Every layer if the whole cache fits in SAFETY x free_bytes, else one layer of each kind and
    the largest divisor of the batch that fits (scaling stays exact: such layers are identical).
    derived(b) gives the layers for b sequences."""
    if sum(g.count * _spec_bytes([g]) for g in derived(batch_size)) <= SAFETY * free_bytes:
        return Plan(True, batch_size)
    per_seq = _spec_bytes(derived(1))
    for b in divisors(batch_size):  # largest first, O(sqrt(batch))
        if b * per_seq <= SAFETY * free_bytes:
            return Plan(False, b)
    raise MeasureError(
        f"even one layer of each kind for one sequence ({per_seq:,} B) does not fit in "
        f"{SAFETY:.0%} of the {free_bytes:,} B free"
    )


def _native(torch: Any, name: str) -> Any:
    table = {
        "fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "int8": torch.int8, "uint8": torch.uint8,
        "fp8": getattr(torch, "float8_e4m3fn", None), "fp8_e4m3": getattr(torch, "float8_e4m3fn", None),
        "fp8_e5m2": getattr(torch, "float8_e5m2", None),
    }
    return table.get(name)


def _allocate(torch: Any, group: Layers, device: str) -> list[Any]:
    """One layer's tensors, zeroed so that their pages are committed."""
    out = []
    for t in group.tensors:
        dtype = _native(torch, t.dtype)
        if dtype is None:  # a torch without float8: the same bytes as uint8
            dtype = torch.uint8
        out.append(torch.zeros(*t.shape, dtype=dtype, device=device))
    return out


PROGRESS_BYTES = 1 << 30  # allocations above this show a progress bar (they take seconds)


def _progress(total_layers: int, planned_bytes: int) -> Any:
    """advance(n, done=False): a bar on stderr, for a terminal and a large allocation only."""
    import sys

    if planned_bytes < PROGRESS_BYTES or not sys.stderr.isatty():
        return lambda n, done=False: None
    from rich.console import Console
    from rich.progress import Progress

    bar = Progress(console=Console(stderr=True), transient=True)
    task = bar.add_task(f"allocating {planned_bytes / (1 << 30):.1f} GiB", total=total_layers)
    bar.start()

    def advance(n: int, done: bool = False) -> None:
        bar.advance(task, n)
        if done:
            bar.stop()

    return advance


def measure(model: Model, seq_len: int, batch_size: int = 1, kv_dtype: str = "auto", engine: Any = "exact",
            block_size: int = DEFAULT_BLOCK_SIZE, device: str = "auto", v_dtype: str | None = None) -> dict[str, Any]:
    """Allocate the cache (zeros, so pages are committed), measure, free. A dict of results.

    What is allocated never comes from the formula: with the runtime installed, its own cache
    code decides (hf: transformers' cache layers keep what the attention layers produce for
    seq_len tokens; vllm: vLLM's KV-cache specs give the page and the blocks a request holds);
    otherwise kvcalc.measure.derive re-derives the tensors from the config (path "re-derivation"). The
    formula is only what the result is compared with."""
    if batch_size > MAX_BATCH:
        raise MeasureError(f"--measure allocates at most {MAX_BATCH:,} sequences (scaled exactly from fewer); got {batch_size:,}")
    opts = get_engine(engine, block_size)
    newest = get_engine(opts.name)
    if opts.rules_version != newest.rules_version:  # derive.py and the runtimes installed follow the newest rules
        raise MeasureError(f"--measure checks the rules of {newest.label}, not of {opts.label}: drop the @version")
    torch = _torch()
    dev = pick_device(torch, device)
    cache = kv_cache(model, seq_len, batch_size, kv_dtype=kv_dtype, engine=opts, block_size=block_size,
                     v_dtype=v_dtype)
    why = underivable(model, opts.name, grown=bool(opts.block_size) and cache.block_size != opts.block_size)
    if why:
        raise MeasureError(f"--measure does not allocate {why} of {model.name} yet: kvcalc's conformance suites "
                           f"check those sizes against the runtimes (conformance/README.md)")
    name = opts.name
    runtime = {"transformers": _hf_runtime, "vllm": _vllm_runtime}.get(opts.measure_runtime or "")
    runtime = runtime(model, cache, opts) if runtime else None

    def derived(b: int) -> list[Layers]:
        return derive(model, seq_len, b, name, opts, kv_dtype, v_dtype)

    if dev == "cuda":
        torch.cuda.synchronize()
        free_before = torch.cuda.mem_get_info()[0]
        alloc_before, reserved_before = torch.cuda.memory_allocated(), torch.cuda.memory_reserved()
    else:
        free_before = _mem_available()
    p = plan(derived, batch_size, free_before)
    rss_before = _rss_bytes()
    tensors: list[list[Any]] = []
    formula = cache.cache_bytes
    result: dict[str, Any] = {"device": dev, "formula_bytes": formula, "kv_dtype": cache.kv_dtype,
                              "engine": cache.engine, "path": runtime.label if runtime else "re-derivation"}
    groups = derived(p.batch)
    total_layers = sum(g.count if p.all_layers else 1 for g in groups)
    planned = sum((g.count if p.all_layers else 1) * _spec_bytes([g]) for g in groups)
    progress = _progress(total_layers, planned)
    try:
        storage = raw = 0
        for group in groups:
            n = group.count if p.all_layers else 1
            layers = []
            for _ in range(n):
                layers.append(runtime.layer(torch, group, dev, p.batch) if runtime is not None else _allocate(torch, group, dev))
                progress(1)
            tensors.extend(layers)
            group_bytes = sum(t.numel() * t.element_size() for layer in layers for t in layer)
            raw += sum(t.untyped_storage().nbytes() for layer in layers for t in layer)
            # identical layers and sequences: scale exactly back to every layer and the batch
            storage += group_bytes // n * group.count * (batch_size // p.batch)
        allocated_layers = len(tensors)
        result["measured_bytes"] = storage
        if dev == "cuda":
            torch.cuda.synchronize()
            result["allocated_delta_bytes"] = torch.cuda.memory_allocated() - alloc_before
            result["reserved_bytes"] = torch.cuda.memory_reserved() - reserved_before
            result["free_before_bytes"], result["free_after_bytes"] = free_before, torch.cuda.mem_get_info()[0]
            result["gpu"] = torch.cuda.get_device_name()
        else:
            result["rss_delta_bytes"] = _rss_bytes() - rss_before
        result["subset"] = not p.all_layers or p.batch < batch_size
        result["allocated_raw_bytes"] = raw
        result["allocated_layers"] = allocated_layers
        result["allocated_batch"] = p.batch
        result["shapes"] = [tuple(t.shape) for t in tensors[0]] if tensors else []
    except (RuntimeError, MemoryError) as err:  # torch.OutOfMemoryError is a RuntimeError
        raise MeasureError(f"allocation failed: {str(err).splitlines()[0]}") from None
    finally:
        progress(0, done=True)
        tensors.clear()
        if dev == "cuda":
            torch.cuda.empty_cache()
    result["kv_cache_bytes"], result["state_bytes"] = cache.total_bytes, cache.state_bytes
    result["ratio"] = result["measured_bytes"] / formula if formula else 1.0
    result["match"] = result["measured_bytes"] == formula
    return result


@dataclass(frozen=True)
class _HFRuntime:
    """transformers' own cache layers: DynamicLayer, DynamicSlidingWindowLayer, LinearAttentionLayer."""

    cache_utils: Any
    version: str
    window: int | None
    seq_len: int
    chunk: int | None = None  # a chunked layer is a sliding window of the chunk in transformers

    @property
    def label(self) -> str:
        return f"transformers {self.version}"

    def layer(self, torch: Any, group: Layers, device: str, batch: int) -> list[Any]:
        """Feed one layer what its attention (or Mamba mixer) produces for all seq_len tokens (the
        heads and dims kvcalc.measure.derive reads from the config), and return what transformers keeps."""
        cu = self.cache_utils
        if group.kind == "recurrent" and len(group.tensors) == 1:
            t = group.tensors[0]
            state = torch.zeros(*t.shape, dtype=_native(torch, t.dtype), device=device)
            if t.name == "kv":  # MiniMax's lightning state: a plain tensor on MiniMaxCache.linear_cache
                return [state]
            layer = cu.LinearAttentionLayer()  # LFM2's short convolution: a conv state only
            layer.update_conv_state(state, conv_kernel_size=t.shape[-1])
            return [layer.conv_states[0]]
        if group.kind == "recurrent":
            conv, ssm = group.tensors
            layer = cu.LinearAttentionLayer()
            layer.update_conv_state(torch.zeros(*conv.shape, dtype=_native(torch, conv.dtype), device=device),
                                    conv_kernel_size=conv.shape[-1])
            layer.update_recurrent_state(torch.zeros(*ssm.shape, dtype=_native(torch, ssm.dtype), device=device))
            return [layer.conv_states[0], layer.recurrent_states[0]]
        window = self.window if group.kind == "sliding" else self.chunk if group.kind == "chunked" else None
        layer = cu.DynamicSlidingWindowLayer(sliding_window=window) if window else cu.DynamicLayer()
        produced = [torch.zeros(t.shape[0], t.shape[1], self.seq_len, t.shape[3], dtype=_native(torch, t.dtype), device=device)
                    for t in group.tensors]
        layer.update(*produced)
        return [layer.keys, layer.values]


@dataclass(frozen=True)
class _VllmRuntime:
    """vLLM's own KV-cache specs: the page of block_size tokens, and the blocks a request holds."""

    kv: Any  # vllm.v1.kv_cache_interface
    version: str
    window: int | None
    seq_len: int
    opts: Any  # the Vllm engine: block size, tokens in flight

    @property
    def label(self) -> str:
        return f"vLLM {self.version}"

    def layer(self, torch: Any, group: Layers, device: str, batch: int) -> list[Any]:
        """One layer's pages for the batch: vLLM's page size x the blocks vLLM holds a request."""
        k = group.tensors[0]  # [blocks, block_size, heads, dim] as kvcalc.measure.derive reads the config
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}.get(k.dtype, torch.uint8)
        common = {"block_size": self.opts.block_size, "num_kv_heads": k.shape[2], "head_size": k.shape[3], "dtype": dtype}
        full_blocks = -(-self.seq_len // self.opts.block_size)
        if group.kind == "sliding":
            spec = self.kv.SlidingWindowSpec(sliding_window=self.window, **common)
            blocks = min(full_blocks, spec.max_admission_blocks_per_request(self.opts.in_flight_tokens, self.seq_len))
        else:
            spec = (self.kv.MLAAttentionSpec if group.kind == "mla" else self.kv.FullAttentionSpec)(**common)
            blocks = full_blocks
        return [torch.zeros(batch * blocks * spec.page_size_bytes, dtype=torch.uint8, device=device)]


def _vllm_runtime(model: Model, cache: KVCache, opts: Any) -> Any:
    """vLLM's KV-cache specs when vLLM is installed, the cache is in a dtype vLLM pages and the
    model has no Mamba layer; None otherwise (measure then re-derives)."""
    if cache.kv_dtype not in ("fp16", "bf16", "fp32", "fp8", "fp8_e4m3") or cache.state is not None \
            or model.attention_chunk_size is not None:  # chunked layers: the re-derivation
        return None
    try:
        import vllm
        from vllm.v1 import kv_cache_interface
    except Exception:  # noqa: BLE001 - absent or broken: the re-derivation path
        return None
    return _VllmRuntime(kv_cache_interface, vllm.__version__, model.sliding_window, cache.seq_len, opts)


def _hf_runtime(model: Model, cache: KVCache, opts: Any = None) -> Any:
    """transformers' cache layers when transformers is installed and the cache is in a torch
    dtype; None otherwise (measure then re-derives)."""
    if cache.kv_dtype not in ("fp32", "fp16", "bf16") or cache.v_dtype:
        return None
    try:
        import transformers
        from transformers import cache_utils
    except Exception:  # noqa: BLE001 - absent or broken: the re-derivation path
        return None
    return _HFRuntime(cache_utils, transformers.__version__, model.sliding_window, cache.seq_len, model.attention_chunk_size)


def decode(model: Model, seq_len: int, batch_size: int = 1, kv_dtype: str = "auto",
           device: str = "auto") -> DecodeStep | None:
    """One decode step over a GQA layer of the exact cache, grouped and with repeat_kv (see
    kvcalc.measure.attention); None when the model has no plain GQA layer or the step cannot be metered."""
    torch = _torch()
    dev = pick_device(torch, device)
    cache = kv_cache(model, seq_len, batch_size, kv_dtype=kv_dtype)
    free = torch.cuda.mem_get_info()[0] if dev == "cuda" else _mem_available()
    try:
        return decode_step(torch, cache, model.n_heads, model.dtype, dev, SAFETY * free)
    except OSError:  # no /proc/self/clear_refs (not Linux): no CPU peak to read
        return None
    except (RuntimeError, MemoryError) as err:
        raise MeasureError(f"decode step failed: {str(err).splitlines()[0]}") from None


def _decode_rows(step: DecodeStep) -> tuple[list[dict[str, Any]], list[str]]:
    rows = [
        {"what": f"decode step, {p.method}: transient peak", "bytes": p.peak_bytes, "human": p.peak_bytes, "ratio": None}
        for p in (step.grouped, step.repeat_kv)
    ]
    group = step.n_heads // step.n_kv_heads
    rep = step.repeat_kv
    notes = [
        f"decode step: 1 new token per sequence attends over one {step.layer_kind} layer, K and V each "
        f"{list(step.shape)} {step.dtype}, {step.n_heads} query heads (group of {group}); the layer's K+V is "
        f"{step.layer_bytes:,} B",
        f"a runtime that repeats K/V to every query head (repeat_kv, as in the reference GQA module) copies K "
        f"and V to {step.n_heads} heads: {rep.copy_bytes:,} B of copies "
        f"= {rep.copy_bytes / step.layer_bytes:.1f}x the layer's cache, on every call; peak {rep.peak_bytes:,} B "
        f"against {step.grouped.peak_bytes:,} B for {step.grouped.method} (outputs agree to {step.max_abs_diff:.1e})"
        if group > 1 else
        f"MHA (group of 1): repeating K/V to every query head copies nothing (there is one KV head a query "
        f"head), so neither way copies the cache; peaks "
        f"{rep.peak_bytes:,} B and {step.grouped.peak_bytes:,} B",
    ]
    return rows, notes


MEASURE_COLUMNS = [
    Column("what", "What"),
    Column("bytes", "Bytes", "int"),
    Column("human", "Size", "bytes"),
    Column("ratio", "vs formula", "ratio"),
]


def measure_report(model: Model, seq_len: int, batch_size: int, kv_dtype: str, engine: Any,
                   block_size: int, device: str, v_dtype: str | None = None) -> tuple[Report, bool]:
    """Formula and measurement side by side; ok is False when allocated bytes differ."""
    r = measure(model, seq_len, batch_size, kv_dtype, engine, block_size, device, v_dtype)
    engine = get_engine(engine).name
    formula = r["formula_bytes"]
    rows = [
        {"what": "formula", "bytes": formula, "human": formula, "ratio": 1.0},
        {"what": "allocated (tensor storage)", "bytes": r["measured_bytes"], "human": r["measured_bytes"], "ratio": r["ratio"]},
    ]
    extra = "rss_delta_bytes" if r["device"] == "cpu" else "allocated_delta_bytes"
    label = "process resident memory growth" if r["device"] == "cpu" else "torch.cuda.memory_allocated growth"
    if not r["subset"]:
        rows.append({"what": label, "bytes": r[extra], "human": r[extra], "ratio": r[extra] / formula if formula else 1.0})
    if r["device"] == "cuda" and not r["subset"]:
        rows.append({"what": "torch.cuda.memory_reserved growth", "bytes": r["reserved_bytes"], "human": r["reserved_bytes"],
                     "ratio": r["reserved_bytes"] / formula if formula else 1.0})
    how = (f"allocated by {r['path']}'s own cache layers, fed what each layer produces for {seq_len:,} tokens"
           if r["path"].startswith("transformers") else
           "allocated from kvcalc's re-derivation of the config (kvcalc/measure/derive.py), written apart from the formula")
    notes = [
        f"device: {r['device']}{' (' + r['gpu'] + ')' if r.get('gpu') else ''}; dtype {r['kv_dtype']}; engine {engine}; "
        f"one layer holds {', '.join(str(s) for s in r['shapes'])}",
        how,
    ]
    if r["subset"]:
        notes.append(
            f"measured {r['allocated_layers']} of {model.n_layers} layers and {r['allocated_batch']} of {batch_size} "
            f"sequences (the whole cache would not fit in {SAFETY:.0%} of free memory), scaled exactly per layer kind"
        )
    step = decode(model, seq_len, batch_size, kv_dtype, device)
    if step is not None:
        step_rows, step_notes = _decode_rows(step)
        rows += step_rows
        notes += step_notes
        if step.batch < batch_size:
            notes.append(f"the decode step ran over {step.batch} of {batch_size} sequences (all would not fit)")
    else:
        notes.append("no decode step: the model has no plain grouped-query layer (MLA latents or no attention), "
                     "or its transient memory cannot be read on this system")
    verdict = "MATCH: allocated bytes equal the formula" if r["match"] else "MISMATCH: allocated bytes differ from the formula"
    notes.append(verdict)
    doc = {
        "model": model.name, "seq_len": seq_len, "batch_size": batch_size, "kv_dtype": r["kv_dtype"], "engine": engine,
        "kv_cache_bytes": r.get("kv_cache_bytes", formula), "cache_bytes": formula, "measured_bytes": r["measured_bytes"], "ratio": r["ratio"], "device": r["device"],
        "match": r["match"], "subset": r["subset"], "path": r["path"], "state_bytes": r.get("state_bytes", 0),
        "allocated_layers": r["allocated_layers"], "allocated_batch": r["allocated_batch"],
    }
    for key in ("rss_delta_bytes", "reserved_bytes", "allocated_delta_bytes", "free_before_bytes", "free_after_bytes", "gpu"):
        if key in r:
            doc[key] = r[key]
    doc["decode_step"] = asdict(step) if step is not None else None
    title = f"{model.name}: KV cache measured for {seq_len:,} tokens x batch {batch_size}"
    return Report(title, MEASURE_COLUMNS, rows, doc, notes), r["match"]


ALL_COLUMNS = [
    Column("model", "Model"),
    Column("kv_cache_bytes", "Formula (B)", "int"),
    Column("measured_bytes", "Allocated (B)", "int"),
    Column("ratio", "Ratio", "ratio"),
    Column("verdict", "Verdict"),
]


def measure_all_report(models: list[Model], seq_len: int, batch_size: int, kv_dtype: str, engine: Any,
                       block_size: int, device: str) -> tuple[Report, bool]:
    """Every model allocated at a small size: formula against measured, one row each."""
    engine = get_engine(engine, block_size)
    rows = []
    for model in models:
        r = measure(model, seq_len, batch_size, kv_dtype, engine, block_size, device)
        rows.append({"model": model.name, "kv_cache_bytes": r["formula_bytes"], "measured_bytes": r["measured_bytes"],
                     "ratio": r["ratio"], "verdict": "match" if r["match"] else "MISMATCH", "device": r["device"]})
    ok = all(row["verdict"] == "match" for row in rows)
    title = f"Every model measured: {seq_len:,} tokens x batch {batch_size}, engine {engine.label}"
    notes = [f"{sum(r['verdict'] == 'match' for r in rows)} of {len(rows)} match"]
    return Report(title, ALL_COLUMNS, rows, {"seq_len": seq_len, "batch_size": batch_size, "engine": engine.name, "models": rows},
                  notes), ok
