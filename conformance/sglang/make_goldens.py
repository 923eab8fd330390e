"""Record SGLang KV-pool goldens by running SGLang's OWN sizing and pool code on CPU.

What this is
------------
kvcalc must reproduce, to the byte, what SGLang allocates for its KV cache.  This script
imports a released SGLang wheel (pinned in requirements-sglang.txt; newest recorded: 0.5.23)
and drives the real code path that a server runs at start-up:

    ServerArgs(...).resolve_once()                      # SGLang's own argument resolution
    get_context().set_server_args(...)                  # runtime-context config bags
    ModelConfig.from_server_args(...)                   # head_dim, kv heads, SWA / mamba layers
    KVCacheConfigurator(...).configure(pre_model_load_memory=...)
        -> _profile_available_bytes -> config_from_budget -> pool configurator
        -> resolve_max_num_reqs -> _init_pools (MHATokenToKVPool / MLATokenToKVPool /
           SWAKVPool / HybridReqToTokenPool+MambaPool ...)

and records the numbers and the exact log lines SGLang printed
("KV Cache is allocated. dtype: ..., #tokens: ..., K size: ... GB, V size: ... GB",
"Mamba Cache is allocated. ...", "Use sliding window memory pool. ...", "Memory pool end. ...").

What is stubbed (and only this)
-------------------------------
* There is no GPU.  `get_available_gpu_memory` (imported into kv_cache_configurator) is replaced
  by a function returning the free-memory figure of the case, in GiB, exactly as SGLang's own
  function does (`free_bytes / (1 << 30)`).  When SGLang asks for the distributed value
  (world size > 1) the byte count is first rounded through a float32 tensor, as SGLang's
  all-reduce does (utils/common.py:get_available_gpu_memory).  The pre-load figure passed to
  `configure(pre_model_load_memory=...)` gets the same treatment (distributed/bootstrap.py
  measures it with distributed=world_size > 1).
* `get_device_memory_capacity` (arg_groups/memory_hook.py) returns the case's GPU size in MiB
  so that the default mem_fraction_static / chunked_prefill_size resolve as on that GPU.
* Pools are built on torch's "meta" device (shapes and dtypes are real, no memory is used);
  `torch.meta` is registered as an empty module so `torch.get_device_module("meta")` works.
* `current_platform.is_cpu()` is forced to False so that the CUDA pool classes are chosen
  (on a CPU platform SGLang swaps in its CPU fp8 recipe).
* The WORLD group is stated with `get_parallel().override_permanently(world_group=...)` (no
  torch.distributed); the model object is an empty namespace (no weights are loaded).
* `torchvision` cannot be loaded next to the CPU torch 2.13 wheel; SGLang only imports it for
  multimodal preprocessing, so it is served by an import stub (transformers is told first
  that torchvision is unavailable).

How to run
----------
    python3.11 -m venv /tmp/venv-sglang
    /tmp/venv-sglang/bin/pip install torch==2.13.0          # CPU wheel; pin torch FIRST
    /tmp/venv-sglang/bin/pip install --no-deps sglang==0.5.23
    /tmp/venv-sglang/bin/pip install -c <(echo torch==2.13.0) -r conformance/sglang/requirements-sglang.txt
    /tmp/venv-sglang/bin/python conformance/sglang/make_goldens.py            # all cases
    /tmp/venv-sglang/bin/python conformance/sglang/make_goldens.py --case NAME # one case, JSON to stdout

Legacy release (goldens-0.5.6.json): same venv recipe with `--no-deps sglang==0.5.6` and then
`pip install -c <(echo torch==2.13.0) transformers==4.57.1` (0.5.6's own pin; its DeepSeek-V2 and
Nemotron-H config code does not run under transformers 5).  The script picks its driver from the
installed version: <= 0.5.6 -> `run_case_legacy` (ModelRunner.init_memory_pool), newer -> `run_case`
(KVCacheConfigurator).  Releases 0.5.7-0.5.22 are not wired up.

It writes conformance/sglang/goldens-<sglang version>.json.  Each case runs in a fresh
subprocess (SGLang keeps process-global runtime context).  Model configs are the published
config.json fixtures in tests/fixtures/hf/ (copied into a temp dir as <name>/config.json);
Qwen3-Next-80B-A3B has no fixture, so its architecture keys are embedded below (QWEN3_NEXT).

Fields of a golden
------------------
config (fixture file), tp, page_size, kv_cache_dtype (as given and as resolved), gpu_mem_mib,
mem_fraction_static (resolved), pre_model_load_free_bytes and post_load_free_bytes (what was fed
in), budget_bytes (what _profile_available_bytes returned), cell_size_bytes (the pool
configurator's per-token cost), max_total_num_tokens, max_running_requests, context_len,
k_size_bytes / v_size_bytes (MHA) or kv_size_bytes (MLA), swa/full token counts and per-pool
bytes, mamba slots / per-slot bytes / conv+ssm bytes, and `logs` (SGLang's own log lines, in
order, from loggers under "sglang").
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "hf"
GiB = 1 << 30

# Qwen/Qwen3-Next-80B-A3B-Instruct architecture keys (rebuilt from the published config.json;
# KV-relevant: 48 layers, full attention every 4th layer, 2 kv heads x 256, GDN 16 key / 32
# value heads of dim 128, conv kernel 4).  Not a verbatim copy.
QWEN3_NEXT = {
    "architectures": ["Qwen3NextForCausalLM"],
    "model_type": "qwen3_next",
    "hidden_size": 2048,
    "intermediate_size": 5120,
    "num_hidden_layers": 48,
    "num_attention_heads": 16,
    "num_key_value_heads": 2,
    "head_dim": 256,
    "full_attention_interval": 4,
    "linear_conv_kernel_dim": 4,
    "linear_key_head_dim": 128,
    "linear_num_key_heads": 16,
    "linear_num_value_heads": 32,
    "linear_value_head_dim": 128,
    "num_experts": 512,
    "num_experts_per_tok": 10,
    "moe_intermediate_size": 512,
    "shared_expert_intermediate_size": 512,
    "decoder_sparse_step": 1,
    "mlp_only_layers": [],
    "norm_topk_prob": True,
    "max_position_embeddings": 262144,
    "partial_rotary_factor": 0.25,
    "rope_theta": 10000000,
    "rms_norm_eps": 1e-06,
    "vocab_size": 151936,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "hidden_act": "silu",
    "attention_bias": False,
    "attention_dropout": 0.0,
    "initializer_range": 0.02,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
}

H100_MIB = 81559  # torch total_memory of an H100 80GB SXM, in MiB
H200_MIB = 143771  # H200 141GB

# Free-memory figures: pre = free bytes before weights (after CUDA context / NCCL), post = free
# bytes after weights.  They are plausible numbers, not measurements; what matters is that the
# same numbers go into kvcalc.
CASES = [
    # --- GQA / MHA ---------------------------------------------------------------------
    dict(name="llama-3.1-8b-h100-tp1", config="Llama-3.1-8B.json", tp=1, page_size=1,
         gpu_mib=H100_MIB, mfs=None, pre=int(78.52 * GiB), post=int(63.55 * GiB)),
    dict(name="llama-3.1-8b-h100-tp1-page16", config="Llama-3.1-8B.json", tp=1, page_size=16,
         gpu_mib=H100_MIB, mfs=0.85, pre=int(78.52 * GiB), post=int(63.55 * GiB)),
    dict(name="llama-3.1-8b-h100-tp1-fp8", config="Llama-3.1-8B.json", tp=1, page_size=1,
         kv="fp8_e4m3", gpu_mib=H100_MIB, mfs=0.85, pre=int(78.52 * GiB), post=int(63.55 * GiB)),
    dict(name="llama-3.1-8b-h100-tp1-maxtokens", config="Llama-3.1-8B.json", tp=1, page_size=1,
         gpu_mib=H100_MIB, mfs=0.85, pre=int(78.52 * GiB), post=int(63.55 * GiB),
         extra=dict(max_total_tokens=100000)),
    dict(name="mistral-7b-v0.1-h100-tp2", config="Mistral-7B-v0.1.json", tp=2, page_size=1,
         gpu_mib=H100_MIB, mfs=0.87, pre=int(78.40 * GiB), post=int(71.63 * GiB)),
    dict(name="qwen2.5-7b-h100-tp1", config="Qwen2.5-7B.json", tp=1, page_size=1,
         gpu_mib=H100_MIB, mfs=0.85, pre=int(78.52 * GiB), post=int(64.21 * GiB)),
    # vllm#21348: "KV Cache is allocated. #tokens: 367404, K size: 8.23 GB, V size: 8.23 GB"
    # post chosen so the budget lands on 367404 tokens (cell 48128 B).
    dict(name="qwen3-235b-a22b-tp4-vllm21348", config="Qwen3-235B-A22B.json", tp=4, page_size=1,
         gpu_mib=H200_MIB, mfs=0.85, pre=int(139.0 * GiB),
         post=int(139.0 * GiB * 0.15) + 367404 * 48128 + 20000),
    dict(name="qwen3-235b-a22b-h200-tp8-fp8", config="Qwen3-235B-A22B.json", tp=8, page_size=1,
         kv="fp8_e4m3", gpu_mib=H200_MIB, mfs=None, pre=int(139.01 * GiB), post=int(110.2 * GiB)),
    dict(name="qwen3-235b-a22b-h200-tp8-dp8-attn", config="Qwen3-235B-A22B.json", tp=8, page_size=1,
         gpu_mib=H200_MIB, mfs=0.85, pre=int(139.01 * GiB), post=int(110.2 * GiB),
         extra=dict(dp_size=8, enable_dp_attention=True)),
    # --- MLA -----------------------------------------------------------------------------
    dict(name="deepseek-v3-h200-tp8", config="DeepSeek-V3.json", tp=8, page_size=64,
         gpu_mib=H200_MIB, mfs=0.88, pre=int(139.01 * GiB), post=int(60.35 * GiB),
         extra=dict(attention_backend="flashinfer")),
    dict(name="deepseek-v3-h200-tp8-fp8", config="DeepSeek-V3.json", tp=8, page_size=64,
         kv="fp8_e4m3", gpu_mib=H200_MIB, mfs=0.88, pre=int(139.01 * GiB), post=int(60.35 * GiB),
         extra=dict(attention_backend="flashinfer")),
    dict(name="deepseek-v2-lite-h100-tp1", config="DeepSeek-V2-Lite.json", tp=1, page_size=1,
         gpu_mib=H100_MIB, mfs=0.85, pre=int(78.52 * GiB), post=int(48.93 * GiB),
         extra=dict(attention_backend="flashinfer")),
    # --- SWA hybrids ---------------------------------------------------------------------
    dict(name="gemma-2-27b-h100-tp2", config="gemma-2-27b.json", tp=2, page_size=1,
         gpu_mib=H100_MIB, mfs=0.85, pre=int(78.40 * GiB), post=int(52.78 * GiB)),
    dict(name="gemma-3-12b-it-h100-tp1", config="gemma-3-12b-it.json", tp=1, page_size=1,
         gpu_mib=H100_MIB, mfs=0.85, pre=int(78.52 * GiB), post=int(54.20 * GiB)),
    dict(name="gemma-3-1b-it-h100-tp1", config="gemma-3-1b-it.json", tp=1, page_size=1,
         gpu_mib=H100_MIB, mfs=0.85, pre=int(78.52 * GiB), post=int(76.10 * GiB)),
    # gpt-oss: the mxfp4 weight-quant method is not registered on a CPU platform, so the
    # checkpoint's quantization_config is dropped (weights only; KV sizing is unaffected).
    dict(name="gpt-oss-20b-h100-tp1", config="gpt-oss-20b.json", tp=1, page_size=1,
         gpu_mib=H100_MIB, mfs=0.85, pre=int(78.52 * GiB), post=int(64.95 * GiB),
         drop_keys=["quantization_config"],
         # SGLang forces dtype=bfloat16 for mxfp4 gpt-oss checkpoints; stated here because the
         # quantization_config that triggers it was dropped.
         extra=dict(attention_backend="triton", dtype="bfloat16")),
    # --- Mamba / linear-attention hybrids ------------------------------------------------
    dict(name="qwen3-next-80b-a3b-h200-tp4", config="QWEN3_NEXT", tp=4, page_size=1,
         gpu_mib=H200_MIB, mfs=0.85, pre=int(139.01 * GiB), post=int(100.3 * GiB)),
    # default mem_fraction_static: with an explicit --mem-fraction-static, SGLang 0.5.6 crashes on
    # NemotronH in ServerArgs (its NemotronH branch reads self.model_config, which only the
    # default-fraction path creates).
    # default-fraction path creates).  --max-running-requests 48: 0.5.4-0.5.6 disable the radix
    # cache for NemotronH and then size the mamba pool as max_running_requests (else 512) slots;
    # 512 x 228 MB does not fit on an 80 GB GPU ("Not enough memory").
    dict(name="nemotron-h-56b-h100-tp4", config="Nemotron-H-56B-Base-8K.json", tp=4, page_size=1,
         gpu_mib=H100_MIB, mfs=None, pre=int(78.40 * GiB), post=int(52.10 * GiB),
         extra=dict(max_running_requests=48)),
]


# ---------------------------------------------------------------------------------------------
# import shims
# ---------------------------------------------------------------------------------------------
class _StubModule(types.ModuleType):
    __path__: list = []

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Any


class _AnyMeta(type):
    def __getattr__(cls, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Any

    def __getitem__(cls, item):
        return _Any

    def __or__(cls, other):
        return _Any

    __ror__ = __or__


class _Any(metaclass=_AnyMeta):
    """Stand-in for any attribute of a stubbed package (kernels that sizing never calls)."""

    def __init__(self, *a, **k):
        pass

    def __call__(self, *a, **k):
        return _Any()

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Any()

    def __iter__(self):
        return iter(())

    def __bool__(self):
        return False


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    roots = {"torchvision"}

    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] in self.roots:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return _StubModule(spec.name)

    def exec_module(self, module):
        pass


def _install_shims(legacy: bool = False):
    import transformers.utils.import_utils as iu

    assert not iu.is_torchvision_available(), "a real torchvision is installed; stub not needed"
    if legacy:
        # <= 0.5.6 import the CUDA kernel package and, off CUDA, vllm's activation layers at
        # module import time; neither is called by the sizing code.
        _StubFinder.roots = {"torchvision", "sgl_kernel", "vllm"}
    sys.meta_path.insert(0, _StubFinder())
    import torch

    torch.meta = types.ModuleType("torch.meta")


# ---------------------------------------------------------------------------------------------
# one case (runs inside a fresh interpreter)
# ---------------------------------------------------------------------------------------------
def _f32_bytes(b: int) -> float:
    import torch

    return torch.tensor(b, dtype=torch.float32).item()


def _write_model_dir(case: dict, workdir: Path) -> Path:
    mdir = workdir / case["name"]
    mdir.mkdir(parents=True, exist_ok=True)
    if case["config"] == "QWEN3_NEXT":
        cfg = dict(QWEN3_NEXT)
    else:
        cfg = json.loads((FIXTURES / case["config"]).read_text())
    for key in case.get("drop_keys", ()):
        cfg.pop(key, None)
    (mdir / "config.json").write_text(json.dumps(cfg, indent=2))
    return mdir


def _installed_sglang_version() -> tuple:
    from importlib.metadata import version

    v = version("sglang")
    nums = []
    for part in v.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit()) or "0"
        nums.append(int(digits))
    return tuple(nums), v


def run_case(case: dict, workdir: Path) -> dict:
    legacy = _installed_sglang_version()[0] <= (0, 5, 6)
    _install_shims(legacy=legacy)
    logs: list[str] = []

    class _Capture(logging.Handler):
        def emit(self, record):
            if record.name.startswith("sglang"):
                logs.append(record.getMessage())

    logging.basicConfig(level=logging.WARNING)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(_Capture())
    if legacy:
        return run_case_legacy(case, workdir, logs)

    import torch
    import sglang
    import sglang.srt.arg_groups.mamba_hook as mamba_hook
    import sglang.srt.arg_groups.memory_hook as memory_hook
    import sglang.srt.mem_cache.kv_cache_configurator as kcc
    from sglang.srt.configs.model_config import AttentionArch, ModelConfig
    from sglang.srt.mem_cache import kv_cache_dtype as kvd
    from sglang.srt.model_executor.model_runner_components.layer_setup import resolve_layer_indices
    from sglang.srt.model_executor.model_runner_components.load_model_utils import (
        resolve_sliding_window_size,
    )
    from sglang.srt.model_executor.model_runner_components.spec_aux_hidden_state import (
        SpecAuxHiddenStateConfig,
    )
    from sglang.srt.model_executor.pool_configurator import create_memory_pool_configurator
    from sglang.srt.platforms import current_platform
    from sglang.srt.runtime_context import get_context, get_model, get_parallel, get_schedule
    from sglang.srt.server_args import ServerArgs
    from sglang.srt.speculative.spec_info import SpeculativeAlgorithm

    mdir = _write_model_dir(case, workdir)

    memory_hook.get_device_memory_capacity = lambda device=None: case["gpu_mib"]
    current_platform.is_cpu = lambda: False
    # CUDA supports Mamba state snapshots (extra_buffer radix strategy); the CPU platform does not.
    mamba_hook._platform_supports_mamba_cache_extra_buffer = lambda: True

    tp = case["tp"]
    kwargs = dict(
        model_path=str(mdir), tp_size=tp, page_size=case["page_size"],
        kv_cache_dtype=case.get("kv", "auto"), skip_tokenizer_init=True, device="cuda",
        attention_backend="flashinfer",
    )
    if case.get("mfs") is not None:
        kwargs["mem_fraction_static"] = case["mfs"]
    kwargs.update(case.get("extra", {}))
    sa = ServerArgs(**kwargs)
    sa.resolve_once()
    get_context().set_server_args(sa)
    world = tp  # pp = 1 in every case; DP attention runs inside the tp ranks
    get_parallel().override_permanently(
        world_group=types.SimpleNamespace(cpu_group=None, world_size=world)
    )

    mc = ModelConfig.from_server_args(sa)
    model = types.SimpleNamespace()
    layer_info = resolve_layer_indices(model=model, model_config=mc, is_draft_worker=False)
    resolved_kv, kv_dtype = kvd.configure_kv_cache_dtype(
        server_args_kv_cache_dtype=get_model().kv_cache_dtype, model=None, model_dtype=mc.dtype,
        is_draft_worker=False, is_dflash=False, speculative_draft_attention_backend=None,
    )

    post = case["post"]

    def fake_available(device, gpu_id, distributed=False, empty_cache=True, cpu_group=None):
        b = _f32_bytes(post) if distributed else post
        return b / GiB

    kcc.get_available_gpu_memory = fake_available
    pre_gib = (_f32_bytes(case["pre"]) if world > 1 else case["pre"]) / GiB

    budget = {}
    orig_profile = kcc.KVCacheConfigurator._profile_available_bytes

    def recording_profile(self, pre_model_load_memory):
        b = orig_profile(self, pre_model_load_memory)
        budget["bytes"] = b
        return b

    kcc.KVCacheConfigurator._profile_available_bytes = recording_profile

    kvc = kcc.KVCacheConfigurator(
        device="meta", gpu_id=0, attn_dp_size=get_parallel().attn_dp_size, pp_size=1,
        pp_group=None, model=model, model_config=mc, server_args=sa, kv_cache_dtype=kv_dtype,
        kv_cache_dtype_str=resolved_kv or get_model().kv_cache_dtype, model_dtype=mc.dtype,
        page_size=get_schedule().page_size,
        sliding_window_size=resolve_sliding_window_size(model, mc),
        spec_algorithm=SpeculativeAlgorithm.from_string(None), is_draft_worker=False,
        post_capture_kv_active=False, spec_aux_config=SpecAuxHiddenStateConfig(),
        is_hybrid_swa=mc.is_hybrid_swa, is_hybrid_swa_compress=mc.is_hybrid_swa_compress,
        use_mla_backend=mc.attention_arch == AttentionArch.MLA, layer_info=layer_info,
        forward_stream=None, req_to_token_pool=None, token_to_kv_pool_allocator=None,
        memory_pool_config=None,
    )
    configurator = create_memory_pool_configurator(kvc)
    cell = getattr(configurator, "_cell_size", None)

    res = kvc.configure(pre_model_load_memory=pre_gib)

    out = dict(
        name=case["name"], sglang_version=sglang.__version__, config=case["config"], tp=tp,
        page_size=get_schedule().page_size, kv_cache_dtype=case.get("kv", "auto"),
        kv_cache_torch_dtype=str(kv_dtype), gpu_mem_mib=case["gpu_mib"],
        mem_fraction_static=get_schedule().mem_fraction_static,
        mem_fraction_static_given=case.get("mfs"),
        chunked_prefill_size=get_schedule().chunked_prefill_size,
        extra_args=case.get("extra", {}), dropped_config_keys=case.get("drop_keys", []),
        pre_model_load_free_bytes=case["pre"], post_load_free_bytes=post,
        distributed_float32=world > 1,
        budget_bytes=budget.get("bytes"),
        cell_size_bytes=float(cell) if isinstance(cell, float) else cell,
        configurator=type(configurator).__name__,
        context_len=mc.context_len,
        attention_arch=mc.attention_arch.name,
        num_hidden_layers=mc.num_hidden_layers,
        kv_heads_per_rank=mc.get_num_kv_heads(get_parallel().attn_tp_size),
        head_dim=mc.head_dim, v_head_dim=getattr(mc, "v_head_dim", None),
        max_total_num_tokens=res.max_total_num_tokens,
        max_running_requests=res.max_running_requests,
        full_max_total_num_tokens=res.full_max_total_num_tokens,
        swa_max_total_num_tokens=res.swa_max_total_num_tokens,
        sliding_window_size=kvc.sliding_window_size,
        token_to_kv_pool=type(res.token_to_kv_pool).__name__,
        req_to_token_pool_size=res.req_to_token_pool.size,
        # what the scheduler prints as max_total_num_tokens / context_len / max_prefill_tokens
        # (model_runner.logical_max_total_num_tokens; managers/tp_worker.py:get_worker_info)
        scheduler_max_total_num_tokens=res.req_to_token_pool.schedulable_token_capacity(
            kvc.logical_token_capacity(max_total_num_tokens=res.max_total_num_tokens)),
        max_prefill_tokens=get_schedule().max_prefill_tokens,
        attn_tp_size=get_parallel().attn_tp_size, attn_dp_size=get_parallel().attn_dp_size,
    )
    from sglang.srt.runtime_context import get_exec

    cgc = get_exec().graph.cuda_graph_config
    out["cuda_graph"] = dict(
        decode_backend=str(cgc.decode.backend), decode_max_bs=cgc.decode.max_bs,
        decode_bs_count=len(cgc.decode.bs or []),
        prefill_backend=str(cgc.prefill.backend),
        prefill_bs_count=len(cgc.prefill.bs or []),
    )
    if mc.is_hybrid_swa:
        out["swa_full_tokens_ratio"] = get_schedule().swa_full_tokens_ratio
        out["full_attention_layer_ids"] = list(layer_info.full_attention_layer_ids or [])
        out["swa_attention_layer_ids"] = list(layer_info.swa_attention_layer_ids or [])
    pool = res.token_to_kv_pool
    sizes = pool.get_kv_size_bytes()
    if isinstance(sizes, tuple):
        out["k_size_bytes"], out["v_size_bytes"] = int(sizes[0]), int(sizes[1])
    else:
        out["kv_size_bytes"] = int(sizes)
    for sub in ("full_kv_pool", "swa_kv_pool"):
        p = getattr(pool, sub, None)
        if p is not None:
            s = p.get_kv_size_bytes()
            out[sub] = dict(size=p.size, layer_num=p.layer_num, head_num=getattr(p, "head_num", None),
                            head_dim=getattr(p, "head_dim", None),
                            bytes=[int(x) for x in s] if isinstance(s, tuple) else int(s))
    mamba = getattr(res.req_to_token_pool, "mamba_pool", None)
    if mamba is not None:
        from sglang.srt.mem_cache.memory_pool import get_tensor_size_bytes

        params = kvc.mambaish_config.mamba2_cache_params
        cache = mamba.mamba_cache
        out["mamba"] = dict(
            max_mamba_cache_size=get_schedule().max_mamba_cache_size,
            mamba_full_memory_ratio=get_schedule().mamba_full_memory_ratio,
            pool_size=mamba.size,
            mamba_cache_per_req=int(params.mamba_cache_per_req),
            num_mamba_layers=len(params.layers),
            conv_shapes=[list(s) for s in params.shape.conv],
            temporal_shape=list(params.shape.temporal),
            conv_dtype=str(params.dtype.conv), ssm_dtype=str(params.dtype.temporal),
            conv_state_bytes=int(get_tensor_size_bytes(cache.conv)),
            ssm_state_bytes=int(get_tensor_size_bytes(cache.temporal)),
            total_bytes=int(mamba.get_kv_size_bytes()) if hasattr(mamba, "get_kv_size_bytes") else None,
        )
    out["logs"] = logs
    return out


# ---------------------------------------------------------------------------------------------
# legacy driver: SGLang <= 0.5.6 (monolithic ModelRunner.init_memory_pool)
# ---------------------------------------------------------------------------------------------
LEGACY_CASES = {
    "llama-3.1-8b-h100-tp1", "llama-3.1-8b-h100-tp1-page16", "llama-3.1-8b-h100-tp1-fp8",
    "llama-3.1-8b-h100-tp1-maxtokens", "mistral-7b-v0.1-h100-tp2", "qwen2.5-7b-h100-tp1",
    "qwen3-235b-a22b-tp4-vllm21348", "qwen3-235b-a22b-h200-tp8-fp8",
    "qwen3-235b-a22b-h200-tp8-dp8-attn", "deepseek-v3-h200-tp8", "deepseek-v3-h200-tp8-fp8",
    "deepseek-v2-lite-h100-tp1", "gemma-2-27b-h100-tp2", "gemma-3-1b-it-h100-tp1",
    "gpt-oss-20b-h100-tp1", "qwen3-next-80b-a3b-h200-tp4", "nemotron-h-56b-h100-tp4",
}


def _fake_model_for(cfg: dict):
    """The attributes of the loaded model object that ModelRunner reads while sizing.

    Only gpt-oss needs any: ModelRunner.__init__ reads model.get_attention_sliding_window_size()
    (models/gpt_oss.py: `config.sliding_window - 1`) and set_num_token_hybrid classifies layers by
    `layer.self_attn.attn.sliding_window_size` (window-1 for "sliding_attention" layers, -1 else).
    Gemma-2/3 also define a window, but server_args disables hybrid SWA memory for them first.
    """
    model = types.SimpleNamespace()
    if cfg.get("model_type") == "gpt_oss":
        w = cfg["sliding_window"] - 1
        model.get_attention_sliding_window_size = lambda: w
        layers = []
        for i, t in enumerate(cfg["layer_types"]):
            attn = types.SimpleNamespace(sliding_window_size=w if t == "sliding_attention" else -1)
            layers.append(types.SimpleNamespace(layer_id=i, self_attn=types.SimpleNamespace(attn=attn)))
        model.model = types.SimpleNamespace(layers=layers)
    return model


def run_case_legacy(case: dict, workdir: Path, logs: list) -> dict:
    import torch
    import sglang
    import sglang.srt.server_args as server_args_mod
    from sglang.srt.configs.model_config import AttentionArch, ModelConfig

    mdir = _write_model_dir(case, workdir)
    cfg = json.loads((mdir / "config.json").read_text())
    server_args_mod.get_device_memory_capacity = lambda device=None: case["gpu_mib"]
    import sglang.srt.model_executor.model_runner as mr

    tp = case["tp"]
    kwargs = dict(
        model_path=str(mdir), tp_size=tp, page_size=case["page_size"],
        kv_cache_dtype=case.get("kv", "auto"), skip_tokenizer_init=True, device="cuda",
        attention_backend="flashinfer",
    )
    if case.get("mfs") is not None:
        kwargs["mem_fraction_static"] = case["mfs"]
    kwargs.update(case.get("extra", {}))
    sa = server_args_mod.ServerArgs(**kwargs)  # resolves in __post_init__ in these releases
    mc = ModelConfig.from_server_args(sa)
    dp = sa.dp_size if sa.enable_dp_attention else 1
    attn_tp = tp // dp

    post = case["post"]

    def fake_available(device, gpu_id, distributed=False, empty_cache=True, cpu_group=None):
        b = _f32_bytes(post) if distributed else post
        return b / GiB

    mr.get_available_gpu_memory = fake_available
    mr.get_attention_tp_size = lambda: attn_tp
    mr.get_world_group = lambda: types.SimpleNamespace(world_size=tp, cpu_group=None)
    import sglang.srt.layers.dp_attention as dpa

    dpa._ATTN_TP_SIZE, dpa._ATTN_TP_RANK, dpa._ATTN_DP_SIZE, dpa._ATTN_DP_RANK = attn_tp, 0, dp, 0
    pre_gib = (_f32_bytes(case["pre"]) if tp > 1 else case["pre"]) / GiB

    r = mr.ModelRunner.__new__(mr.ModelRunner)
    # ModelRunner.__init__ (0.5.6), the assignments that sizing reads:
    r.mem_fraction_static = sa.mem_fraction_static
    r.device, r.gpu_id, r.tp_rank, r.tp_size = "meta", 0, 0, tp
    r.dp_size, r.pp_rank, r.pp_size = sa.dp_size, 0, 1
    r.model_config, r.server_args, r.is_draft_worker = mc, sa, False
    r.spec_algorithm = mr.SpeculativeAlgorithm.from_string(sa.speculative_algorithm)
    r.page_size = sa.page_size
    r.req_to_token_pool = r.token_to_kv_pool_allocator = None
    r.is_hybrid_swa = mc.is_hybrid_swa
    r.use_mla_backend = mc.attention_arch == AttentionArch.MLA
    r.attention_chunk_size = mc.attention_chunk_size
    r.model = _fake_model_for(cfg)
    r.dtype = mc.dtype
    # load_model(): sliding window
    r.sliding_window_size = None
    if hasattr(r.model, "get_attention_sliding_window_size"):
        r.sliding_window_size = r.model.get_attention_sliding_window_size()
    elif mc.attention_chunk_size is not None:
        r.sliding_window_size = mc.attention_chunk_size
    # __init__ after load_model: hybrid SWA switch and the mamba2 radix-cache switch
    if (not sa.disable_hybrid_swa_memory and r.sliding_window_size is not None
            and r.sliding_window_size > 0):
        archs = mc.hf_config.architectures
        if archs and not any("Llama4" in a for a in archs):
            r.is_hybrid_swa = mc.is_hybrid_swa = True
    if (m2 := r.mamba2_config) is not None:
        logging.getLogger("sglang.srt.model_executor.model_runner").warning(
            f"{m2.__class__.__name__} model detected, disable radix cache")
        sa.disable_radix_cache = True
    num_layers = max(mc.num_hidden_layers, getattr(mc, "num_attention_layers", 0) or 0)
    r.start_layer, r.end_layer = 0, num_layers
    r.num_effective_layers = num_layers

    orig_profile = mr.ModelRunner.profile_max_num_token
    budget = {}

    def recording_profile(self, total_gpu_memory):
        t = orig_profile(self, total_gpu_memory)
        budget["profiled_tokens"] = t
        return t

    mr.ModelRunner.profile_max_num_token = recording_profile
    r.init_memory_pool(pre_gib, sa.max_running_requests, sa.max_total_tokens)

    pool = r.token_to_kv_pool
    out = dict(
        name=case["name"], sglang_version=sglang.__version__, config=case["config"], tp=tp,
        page_size=sa.page_size, kv_cache_dtype=case.get("kv", "auto"),
        kv_cache_torch_dtype=str(r.kv_cache_dtype), gpu_mem_mib=case["gpu_mib"],
        mem_fraction_static=sa.mem_fraction_static, mem_fraction_static_given=case.get("mfs"),
        chunked_prefill_size=sa.chunked_prefill_size, cuda_graph_max_bs=sa.cuda_graph_max_bs,
        extra_args=case.get("extra", {}), dropped_config_keys=case.get("drop_keys", []),
        pre_model_load_free_bytes=case["pre"], post_load_free_bytes=post,
        distributed_float32=tp > 1, profiled_tokens=budget.get("profiled_tokens"),
        context_len=mc.context_len, attention_arch=mc.attention_arch.name,
        num_hidden_layers=mc.num_hidden_layers, kv_heads_per_rank=mc.get_num_kv_heads(attn_tp),
        head_dim=mc.head_dim, v_head_dim=getattr(mc, "v_head_dim", None),
        max_total_num_tokens=r.max_total_num_tokens,
        req_to_token_pool_size=r.req_to_token_pool.size,
        # managers/tp_worker.py (<= 0.5.9): what the scheduler logs as max_running_requests
        max_running_requests=min(
            r.max_total_num_tokens // 2 if sa.max_running_requests is None
            else sa.max_running_requests // (sa.dp_size if sa.enable_dp_attention else 1),
            r.req_to_token_pool.size),
        is_hybrid_swa=bool(r.is_hybrid_swa), sliding_window_size=r.sliding_window_size,
        full_max_total_num_tokens=getattr(r, "full_max_total_num_tokens", None),
        swa_max_total_num_tokens=getattr(r, "swa_max_total_num_tokens", None),
        token_to_kv_pool=type(pool).__name__, attn_tp_size=attn_tp,
    )
    sizes = pool.get_kv_size_bytes()
    if isinstance(sizes, tuple):
        out["k_size_bytes"], out["v_size_bytes"] = int(sizes[0]), int(sizes[1])
    else:
        out["kv_size_bytes"] = int(sizes)
    for sub in ("full_kv_pool", "swa_kv_pool"):
        p = getattr(pool, sub, None)
        if p is not None:
            s_ = p.get_kv_size_bytes()
            out[sub] = dict(size=p.size, layer_num=p.layer_num,
                            bytes=[int(x) for x in s_] if isinstance(s_, tuple) else int(s_))
    mamba = getattr(r.req_to_token_pool, "mamba_pool", None)
    if mamba is not None:
        from sglang.srt.mem_cache.memory_pool import get_tensor_size_bytes

        params = r.mambaish_config.mamba2_cache_params
        out["mamba"] = dict(
            max_mamba_cache_size=sa.max_mamba_cache_size,
            mamba_full_memory_ratio=sa.mamba_full_memory_ratio,
            disable_radix_cache=sa.disable_radix_cache,
            pool_size=mamba.size, mamba_cache_per_req=int(params.mamba_cache_per_req),
            num_mamba_layers=len(params.layers),
            conv_shapes=[list(x) for x in params.shape.conv],
            temporal_shape=list(params.shape.temporal),
            conv_dtype=str(params.dtype.conv), ssm_dtype=str(params.dtype.temporal),
            conv_state_bytes=int(get_tensor_size_bytes(mamba.mamba_cache.conv)),
            ssm_state_bytes=int(get_tensor_size_bytes(mamba.mamba_cache.temporal)),
        )
    out["logs"] = list(logs)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.case:
        case = next(c for c in CASES if c["name"] == args.case)
        with tempfile.TemporaryDirectory() as d:
            res = run_case(case, Path(d))
        print("GOLDEN-JSON " + json.dumps(res, default=str))
        return
    goldens, failures, version = [], [], None
    legacy = _installed_sglang_version()[0] <= (0, 5, 6)
    for case in CASES:
        if legacy and case["name"] not in LEGACY_CASES:
            continue
        p = subprocess.run([sys.executable, __file__, "--case", case["name"]],
                           capture_output=True, text=True, env=dict(os.environ))
        line = next((l for l in p.stdout.splitlines() if l.startswith("GOLDEN-JSON ")), None)
        if p.returncode != 0 or line is None:
            err = (p.stderr or "").strip().splitlines()[-5:]
            failures.append(dict(name=case["name"], error=err))
            print(f"FAIL {case['name']}: {err[-1] if err else p.returncode}", file=sys.stderr)
            continue
        g = json.loads(line[len("GOLDEN-JSON "):])
        version = g["sglang_version"]
        goldens.append(g)
        print(f"ok   {case['name']}: tokens={g['max_total_num_tokens']}", file=sys.stderr)
    out = Path(args.out) if args.out else HERE / f"goldens-{version}.json"
    out.write_text(json.dumps(dict(sglang_version=version, generator="conformance/sglang/make_goldens.py",
                                   goldens=goldens, failures=failures), indent=1) + "\n")
    print(f"wrote {out} ({len(goldens)} goldens, {len(failures)} failures)", file=sys.stderr)


if __name__ == "__main__":
    main()
