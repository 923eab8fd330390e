"""The published Qwen3-Next-80B-A3B config (48 layers) through vLLM 0.32.0's sizing path, as
make_family_goldens.py runs its tiny configs: at 4 and 16 GiB, max_model_len 262,144 (its own) and
32,768; the rows were added to goldens-families-0.32.0.json ("published_config").

    .venv-vllm/bin/python conformance/vllm/make_family_goldens_published.py   # prints the rows, writes issue_cases.json
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import make_family_goldens as R  # noqa: E402
from vllm.config import VllmConfig, set_current_vllm_config
from vllm.distributed import init_distributed_environment, initialize_model_parallel
with set_current_vllm_config(VllmConfig()):
    init_distributed_environment(world_size=1, rank=0, distributed_init_method="tcp://127.0.0.1:29529", local_rank=0, backend="gloo")
    initialize_model_parallel(1, 1)
out = []
q = json.load(open(Path(__file__).parents[2] / "tests/fixtures/hf/Qwen3-Next-80B-A3B-Thinking.json"))
for fam, cfg, lens in (("qwen3_next", q, (262144, 32768)),):
    for L in lens:
        for gib in (4, 16):
            for variant in ("default", "gpu_like"):
                row = R.run_case(fam, variant, cfg, L, gib * 1024**3)
                keep = {k: row.get(k) for k in ("family", "variant", "max_model_len", "available_bytes", "final_block_size",
                                                "num_blocks", "kv_cache_tokens", "max_concurrency", "max_in_flight_tokens",
                                                "refused", "error", "log_line")}
                print(json.dumps(keep)[:600], flush=True)
                out.append({**keep, "hf_config": cfg})
json.dump(out, open("issue_cases.json", "w"), indent=1)
