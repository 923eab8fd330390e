"""One decode step of grouped-query attention over a cache layer, and the memory it takes while
it runs (issue #5, item 3). torch is imported by the caller (measure._torch) and passed in.

Two ways to attend G = n_heads / n_kv_heads query heads to one KV head:
- grouped: torch's scaled_dot_product_attention(enable_gqa=True) (torch >= 2.5), or, where that
  flag is missing, the query viewed as [B, H_kv, G, D] so each KV head serves its G queries with
  no copy at all;
- repeat_kv: the seeds' reference module, which repeat_interleaves K and V to n_heads before
  every call and so materialises G copies of the layer's cache while it runs:
  2 x B x S x n_heads x D x bytes, G times the layer's own 2 x B x S x n_kv_heads x D x bytes.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

from ..core.formulas import KVCache, LayerGroup

@dataclass(frozen=True)
class Peak:
    """One attention call: what it allocated beyond what was live before it."""

    method: str
    peak_bytes: int  # allocator peak growth (CUDA) or resident high-water growth (CPU) during the call
    copy_bytes: int  # storage of the K/V copies the method made itself (0 when it makes none)


@dataclass(frozen=True)
class DecodeStep:
    layer_kind: str
    shape: tuple[int, ...]  # one of K, V: [B, H_kv, S_layer, D]
    n_heads: int
    n_kv_heads: int
    batch: int  # sequences attended (a divisor of the batch when all would not fit)
    dtype: str
    layer_bytes: int  # K + V of this layer for `batch` sequences
    grouped: Peak
    repeat_kv: Peak
    max_abs_diff: float  # between the two outputs


def gqa_layer(cache: KVCache) -> LayerGroup | None:
    """The plain grouped-query layer group (K and V of the same heads and width) that holds the
    most tokens (a full layer before a sliding one); None for models without one (MLA latents,
    attention-free layers)."""
    plain = [g for g in cache.groups if g.tokens and g.k_heads and g.k_heads == g.v_heads and g.k_dim == g.v_dim]
    return max(plain, key=lambda g: g.tokens, default=None)


def _compute_dtype(torch: Any, kv_dtype: str, model_dtype: str) -> tuple[Any, str]:
    """Attention runs in a float type: the cache's own when it is fp32/fp16/bf16, else the model's
    (quantised caches are dequantised before attention)."""
    table = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    name = kv_dtype if kv_dtype in table else (model_dtype if model_dtype in table else "bf16")
    return table[name], name


def _has_enable_gqa(torch: Any) -> bool:
    try:
        return "enable_gqa" in inspect.signature(torch.nn.functional.scaled_dot_product_attention).parameters
    except (TypeError, ValueError):  # a builtin without a signature: read its docstring
        return "enable_gqa" in (torch.nn.functional.scaled_dot_product_attention.__doc__ or "")


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"{field} not in /proc/self/status")


def _trim_heap() -> None:
    """glibc's malloc_trim(0), where there is a glibc."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class _PeakMeter:
    """Transient memory of one call: torch.cuda's allocator peak on CUDA; on the CPU the growth of
    the process's resident high-water mark (VmHWM, reset through /proc/self/clear_refs)."""

    def __init__(self, torch: Any, device: str):
        self.torch, self.device = torch, device

    def __call__(self, fn: Callable[[], Any]) -> tuple[int, Any]:
        torch = self.torch
        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            out = fn()
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() - base, out
        _trim_heap()  # freed heap pages go back to the OS, so reusing them shows in the peak
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current resident size
        base = _status_bytes("VmRSS")
        out = fn()
        return max(0, _status_bytes("VmHWM") - base), out


def decode_step(torch: Any, cache: KVCache, n_heads: int, model_dtype: str, device: str,
                budget_bytes: float) -> DecodeStep | None:
    """Attend one new token per sequence over one GQA layer of the cache, both ways, and measure
    each call's transient memory. None when the model has no plain GQA layer."""
    g = gqa_layer(cache)
    if g is None:
        return None
    F = torch.nn.functional
    dtype, dtype_name = _compute_dtype(torch, cache.kv_dtype, model_dtype)
    elem = torch.empty((), dtype=dtype).element_size()
    h_kv, d, s = g.k_heads, g.k_dim, g.tokens
    group = n_heads // h_kv
    per_seq = 2 * h_kv * s * d * elem * (1 + group)  # the layer's K, V and repeat_kv's copies
    batch = next((b for b in range(cache.batch_size, 0, -1)
                  if cache.batch_size % b == 0 and b * per_seq <= budget_bytes), 0)
    if not batch:
        return None
    gen = torch.Generator(device=device).manual_seed(0)
    k = torch.randn(batch, h_kv, s, d, dtype=dtype, device=device, generator=gen)  # [B, H_kv, S, D]
    v = torch.randn(batch, h_kv, s, d, dtype=dtype, device=device, generator=gen)  # [B, H_kv, S, D]
    q = torch.randn(batch, n_heads, 1, d, dtype=dtype, device=device, generator=gen)  # [B, H, 1, D]
    copies: list[int] = []

    if _has_enable_gqa(torch):
        method = "sdpa(enable_gqa=True)"

        def grouped() -> Any:
            return F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    else:
        method = "sdpa over q viewed [B, H_kv, G, D]"

        def grouped() -> Any:
            out = F.scaled_dot_product_attention(q.view(batch, h_kv, group, d), k, v)  # [B, H_kv, G, D]
            return out.view(batch, n_heads, 1, d)

    def repeat() -> Any:
        # the seeds' repeat_kv: (B, S, H_kv, D) -> (B, S, H, D) by repeat_interleave, then transposed
        kr = k.transpose(1, 2).repeat_interleave(group, dim=2) if group > 1 else k.transpose(1, 2)
        vr = v.transpose(1, 2).repeat_interleave(group, dim=2) if group > 1 else v.transpose(1, 2)
        if group > 1:
            copies.append(kr.untyped_storage().nbytes() + vr.untyped_storage().nbytes())
        return F.scaled_dot_product_attention(q, kr.transpose(1, 2), vr.transpose(1, 2))

    meter = _PeakMeter(torch, device)
    try:
        for fn in (grouped, repeat):  # warm up: first calls load kernels and grow arenas
            fn()
        copies.clear()
        grouped_peak, out_g = meter(grouped)
        repeat_peak, out_r = meter(repeat)
        diff = (out_g.float() - out_r.float()).abs().max().item()
    finally:
        del k, v, q
        if device == "cuda":
            torch.cuda.empty_cache()
    return DecodeStep(
        layer_kind=g.kind, shape=(batch, h_kv, s, d), n_heads=n_heads, n_kv_heads=h_kv, batch=batch,
        dtype=dtype_name, layer_bytes=2 * batch * h_kv * s * d * elem,
        grouped=Peak(method, grouped_peak, 0),
        repeat_kv=Peak("K/V repeated to every query head", repeat_peak, sum(copies)),
        max_abs_diff=diff,
    )
