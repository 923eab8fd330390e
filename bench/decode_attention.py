"""GPU benchmark: one decode step of attention over the KV cache of a model's MHA / GQA / MQA
rebuilds at several contexts: time per layer, achieved bytes/s against the GPU's HBM bandwidth
(from kvcalc's catalog), and the MHA / GQA time ratio (about n_heads / n_kv_heads when decoding
is memory-bound, as the seeds expect). Needs torch with CUDA; --device cpu runs it as a smoke test.

    python bench/decode_attention.py [--model llama2-70b] [--seq 1k,4k,16k,32k] [--batch 8]
                                     [--gpu h100-80gb] [--device cuda] [--iters 50]

Each call reads one layer's K and V ([B, H_kv, S, D] each); several layers are cycled so that
no call finds its cache in L2. Bytes counted: K + V of the layer (q and the output are tiny).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from kvcalc.core.formulas import variant_heads
from kvcalc.planning.gpus import find_gpu, load_catalog
from kvcalc.models.registry import load_model
from kvcalc.output.units import parse_size_list


def detect_gpu(torch):  # type: ignore[no-untyped-def]
    name = torch.cuda.get_device_name().lower()
    for g in load_catalog():
        if any(n.lower() == name or n.lower() in name for n in g.names[2:] + (g.name,)):
            return g
    return None


def time_calls(torch, fn, device: str, iters: int) -> float:  # type: ignore[no-untyped-def]
    """Median seconds of one call."""
    for _ in range(3):
        fn(0)
    times = []
    if device == "cuda":
        for i in range(iters):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn(i)
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1000)
    else:
        for i in range(iters):
            t = time.perf_counter()
            fn(i)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="llama2-70b")
    ap.add_argument("--seq", default="1k,4k,16k,32k")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--gpu", default=None, help="catalog name for the bandwidth (default: detected)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--min-bytes", type=float, default=1e9, help="cycle layers until this many bytes (beats L2)")
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F

    if args.device == "cuda" and not torch.cuda.is_available():
        print("bench/decode_attention.py: no CUDA device (run with --device cpu for a smoke test)", file=sys.stderr)
        return 2
    model = load_model(args.model)
    gpu = find_gpu(args.gpu) if args.gpu else (detect_gpu(torch) if args.device == "cuda" else None)
    bw = gpu.hbm_bandwidth_bytes_per_s if gpu else None
    dtype = torch.float16 if model.dtype == "fp16" else torch.bfloat16
    d, b, h = model.head_dim, args.batch, model.n_heads
    dev_name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"{model.name}: {h} query heads, head_dim {d}, batch {b}, {dtype}, on {dev_name}"
          + (f" (catalog {gpu.name}: {bw / 1e12:.2f} TB/s)" if gpu else ""))
    print(f"{'layout':>6} {'KV':>3} {'seq':>7} {'layer K+V (B)':>15} {'time/layer':>11} {'GB/s':>8} {'of HBM':>7} {'vs GQA':>7}")
    for s in parse_size_list(args.seq, "--seq"):
        times: dict[str, float] = {}
        results = []
        for layout, kv in variant_heads(model):
            layer_bytes = 2 * b * kv * s * d * torch.empty((), dtype=dtype).element_size()
            n_layers = max(1, min(model.n_layers, int(args.min_bytes // layer_bytes) + 1))
            try:
                ks = [torch.randn(b, kv, s, d, dtype=dtype, device=args.device) for _ in range(n_layers)]
                vs = [torch.randn(b, kv, s, d, dtype=dtype, device=args.device) for _ in range(n_layers)]
            except (RuntimeError, MemoryError):
                print(f"{layout:>6} {kv:>3} {s:>7,} {layer_bytes:>15,}   (does not fit)")
                continue
            q = torch.randn(b, h, 1, d, dtype=dtype, device=args.device)

            def step(i: int) -> None:
                F.scaled_dot_product_attention(q, ks[i % n_layers], vs[i % n_layers], enable_gqa=kv != h)

            t = time_calls(torch, step, args.device, args.iters)
            times[layout] = t
            results.append((layout, kv, layer_bytes, t))
            del ks, vs
            if args.device == "cuda":
                torch.cuda.empty_cache()
        for layout, kv, layer_bytes, t in results:
            rate = layer_bytes / t
            share = f"{rate / bw:7.1%}" if bw else "      -"
            ratio = f"{t / times['GQA']:6.2f}x" if "GQA" in times else "      -"
            print(f"{layout:>6} {kv:>3} {s:>7,} {layer_bytes:>15,} {t * 1e6:9.1f}us {rate / 1e9:8.1f} {share} {ratio}")
        if "MHA" in times and "GQA" in times:
            gqa_heads = dict(variant_heads(model))["GQA"]
            print(f"  seq {s:,}: MHA / GQA time = {times['MHA'] / times['GQA']:.2f} (memory-bound expectation "
                  f"{h // gqa_heads})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
