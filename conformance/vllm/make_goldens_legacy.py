"""Regenerate goldens-<release>.json: an older vLLM release's own KV-cache sizing.

make_goldens.py records vLLM 0.32.0; this script records the same CASES (same fixtures, 4 and
16 GiB available, kv dtypes auto and fp8, block size 16, max_num_batched_tokens 8192 and the
2049 cases) with an older release, for kvcalc's versioned engine (``--engine vllm@X``):

- 0.10.x (V1 engine): EngineArgs -> VllmConfig; the model built on the meta device; the KV-cache
  specs from that release's own GPUModelRunner.get_kv_cache_spec() (which reads each Attention
  layer's num_kv_heads / head_size / sliding_window and cache_config.block_size); then its
  get_kv_cache_config() + unify_kv_cache_configs(), as EngineCore._initialize_kv_caches calls
  them. "GPU KV cache size: N tokens" and "Maximum concurrency for L tokens per request: C x"
  are taken from the log records that get_kv_cache_config() itself emits (the raw arguments:
  int tokens, float concurrency), not recomputed. A refusal is its check_enough_kv_cache_memory()
  ValueError, with the length estimate_max_model_len() suggests.
- 0.8.x, V0 engine (--engine=v0, the default for 0.8 here; note that 0.8.0+ default to V1 and
  fall back to V0 only for what V1 lacks, e.g. an fp8 KV cache without FlashAttention 3 or
  VLLM_USE_V1=0; `--engine=v1` records 0.8's V1 into goldens-0.8.5-v1.json, by the 0.10 method):
  EngineArgs -> VllmConfig; the model built on the meta
  device (its layers' geometry is what ModelConfig reports); vllm/worker/cache_engine.py
  CacheEngine.get_cache_block_size(), the bytes of one block over all layers; N =
  int(available // block bytes), the formula of vllm/worker/worker.py
  Worker.determine_num_available_blocks (which needs a profiled GPU, so it is not called);
  vllm/worker/worker.py raise_if_cache_size_invalid() itself (V0 refuses only with no block, or
  fewer blocks than one max_model_len sequence needs); then vllm/executor/executor_base.py
  ExecutorBase.initialize_cache() itself, on a stand-in executor, whose two log records give
  "# cuda blocks: N, # CPU blocks: M" and "Maximum concurrency for L tokens per request: C x"
  (C = N x block_size / max_model_len). V0 rows skip the 2049-batched cases (V0 reserves nothing
  for tokens in flight) and leave max_num_batched_tokens to V0's default (it must be >=
  max_model_len without chunked prefill).

How it runs without a GPU (no compiled kernel of these wheels loads beside torch 2.13 CPU):
- the platform is a stand-in, SizingPlatform: vLLM's CpuPlatform class for the device queries,
  reporting an H100 (capability 9.0, 80 GiB, bf16/fp16/fp32, fp8 KV supported as with
  FlashAttention 3) and CUDA's check_and_update_config block-size rule (16 unless given; MLA's
  FlashMLA block of 64 on Hopper is recorded as extra rows, MLA_EXTRA_BLOCK_SIZES).
  While EngineArgs.create_engine_config() runs, the platform reports itself as CUDA
  (PlatformEnum.CUDA), so the config is what `vllm serve` builds on a GPU: V1 is chosen for
  sliding-window models (on CPU 0.10 falls back to V0 for them) and the hybrid KV-cache
  manager stays on (VllmConfig.__post_init__ disables it on non-CUDA platforms). While the
  model is built it reports itself out-of-tree (PlatformEnum.OOT), so no layer looks up a
  CUDA or CPU kernel op.
- every attention layer gets SizingBackend, a stub backend whose impl accepts any argument:
  in these releases no KV-cache spec reads the backend (0.10: the runner builds the spec from
  the layer; 0.8: the cache engine from ModelConfig), so the stub changes no number.
- Mistral-7B-Instruct-v0.3's fixture has no "architectures" (0.32 infers it; these releases say
  "No model architectures are specified"): the published ["MistralForCausalLM"] is added.
- DeepSeek-V2-Lite's fixture keeps the architecture keys only; the MoE router keys the old
  model classes read unconditionally (scoring_func, topk_method, ...) are added with the
  published values for building only (BUILD_KEYS; none is a KV-cache key, and rows keep
  "overrides" as the 0.32 goldens do).
- small patches, each where it is made: a stub `vllm._C` module (the CUDA kernels' import);
  ModelConfig's hub lookup of safetensors dtypes answers "none" at once (offline it fails the
  same way, after retries); 0.8 only: `vllm.cumem_allocator` marked missing (as on ROCm),
  torch's inductor imported before 0.8's triton placeholder, and model-class inspection run in
  this process instead of a `python -m vllm.model_executor.models.registry` subprocess.
- tensor parallelism (the gpt-oss-120b case) builds the model with the tensor-parallel group's
  world size set to tp (rank 0) in a one-process gloo group: the layers then hold
  num_kv_heads // tp heads, as rank 0 of a real TP group does.

Venvs (see conformance/README.md for the 0.32 one):

    python3 -m venv .venv-vllm-0.10 && .venv-vllm-0.10/bin/pip install torch==2.13.0
    .venv-vllm-0.10/bin/pip install --no-deps vllm==0.10.1.1 compressed-tensors==0.10.2
    .venv-vllm-0.10/bin/pip install "transformers>=4.55,<4.56" "tokenizers>=0.21.1" \
        "pydantic>=2.10,<2.12" msgspec cloudpickle psutil cachetools regex requests tqdm blake3 \
        py-cpuinfo protobuf pyzmq "gguf>=0.13" pyyaml einops prometheus_client pillow cbor2 \
        pybase64 setproctitle partial-json-parser fastapi "openai>=1.99.1,<2" openai-harmony \
        mistral_common tiktoken watchfiles python-json-logger aiohttp diskcache numba==0.61.2
    .venv-vllm-0.10/bin/python conformance/vllm/make_goldens_legacy.py   # goldens-0.10.1.1.json

    (0.8.5: the same with vllm==0.8.5, "transformers>=4.51.1,<4.52", compressed-tensors==0.9.3,
     see VENV_0_8 below; writes goldens-0.8.5.json, and with --engine=v1 goldens-0.8.5-v1.json.)
    The exact environments: requirements-vllm-0.10.1.1.txt and requirements-vllm-0.8.5.txt
    beside this file (pip freeze, torch 2.13.0 CPU installed first).
- 0.8 only: transformers 4.51 has no deepseek_v2 config (it came from the hub's remote code),
  so a stand-in DeepseekV2Config is registered (see _register_deepseek_v2_config); no release
  before 0.10.1 has gpt-oss, so its rows are in "failed" with transformers' refusal.
- 0.8 only: the fp8 KV-cache check of EngineArgs' V1 oracle asks FlashAttention for fp8
  support, answered True as on Hopper with FA3 (else 0.8 falls back to V0 for fp8).

Arguments: fixture names restrict the run (then it writes goldens-<release>.partial.json).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import types
from itertools import product
from pathlib import Path

os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_goldens import (AVAILABLE, BLOCK_SIZE, CASES, FIXTURES, KV_DTYPES,  # noqa: E402
                          MAX_NUM_BATCHED_TOKENS)

VENV_0_8 = """
    python3 -m venv .venv-vllm-0.8 && .venv-vllm-0.8/bin/pip install torch==2.13.0
    .venv-vllm-0.8/bin/pip install --no-deps vllm==0.8.5 compressed-tensors==0.9.3
    .venv-vllm-0.8/bin/pip install "transformers>=4.51.1,<4.52" "tokenizers>=0.19.1" "pydantic>=2.9,<2.12" \\
        msgspec cloudpickle psutil cachetools regex requests tqdm blake3 py-cpuinfo protobuf pyzmq \\
        "gguf>=0.13" pyyaml einops prometheus_client pillow fastapi "openai>=1.52,<2" mistral_common \\
        tiktoken watchfiles aiohttp diskcache numba==0.61.2 partial-json-parser sentencepiece \\
        opencv-python-headless lark==1.2.2 importlib_metadata python-json-logger "llguidance<0.8,>=0.7.9"
"""

# Keys the old model classes read without a default; added for building only (published values).
BUILD_KEYS = {
    # the fixture has no "architectures"; 0.32 infers it from model_type, these releases refuse
    "Mistral-7B-Instruct-v0.3": {"architectures": ["MistralForCausalLM"]},
    "DeepSeek-V2-Lite": {"scoring_func": "softmax", "topk_method": "greedy", "n_group": 1, "topk_group": 1,
                         "routed_scaling_factor": 1.0, "norm_topk_prob": False, "moe_layer_freq": 1,
                         "first_k_dense_replace": 1, "ep_size": 1, "aux_loss_alpha": 0.001, "seq_aux": True},
}
# DeepSeek's MLA on an H100: 0.10's CudaPlatform forces FlashMLA's block of 64 (cuda.py
# check_and_update_config); the rows at 16 are what the Triton MLA backend (or --block-size 16 with
# VLLM_ATTENTION_BACKEND=TRITON_MLA) keeps.
MLA_EXTRA_BLOCK_SIZES = {"DeepSeek-V2-Lite": (64,)}

# The gpt-oss-120b case from a public log of vLLM (TP 4, 16384 tokens, 2048 batched tokens, 45.32 GiB
# per GPU): "Maximum concurrency for 16,384 tokens per request: 284.25x".
GPT_OSS_CASE = {"fixture": "gpt-oss-120b", "tp": 4, "max_model_len": 16384, "max_num_batched_tokens": 2048,
                "available_bytes": int(45.32 * 2**30), "logged_max_concurrency": "284.25"}

_GIB = 2**30


# ----- the stand-in platform and backend ------------------------------------------------------


def _install_platform():
    """Make vLLM's current_platform a SizingPlatform (see the module docstring)."""
    sys.modules.setdefault("vllm._C", types.ModuleType("vllm._C"))  # no kernel loads; none is needed
    # 0.8's vllm/worker/worker.py imports the cumem allocator (libcuda); None in sys.modules makes
    # that import a ModuleNotFoundError, which vllm/device_allocator/cumem.py takes as "no cumem"
    sys.modules.setdefault("vllm.cumem_allocator", None)
    import torch
    from importlib.metadata import version
    if version("vllm").startswith("0.8."):
        # 0.8's vllm.triton_utils puts a placeholder module in sys.modules["triton"] when triton is
        # absent, which torch 2.13's inductor then fails to import against: import inductor first.
        import functorch.compile  # noqa: F401
        import torch._dynamo.backends.debugging  # noqa: F401
        import torch._dynamo.testing  # noqa: F401
        import torch._inductor.compile_fx  # noqa: F401
    import vllm.platforms as platforms
    from vllm.platforms.cpu import CpuPlatform
    from vllm.platforms.interface import DeviceCapability, PlatformEnum

    class SizingPlatform(CpuPlatform):
        _enum = PlatformEnum.OOT
        device_name = "cuda"  # CudaPlatform's; V0 logs "# cuda blocks: N"
        device_type = "cpu"

        @property
        def supported_dtypes(self):  # CudaPlatformBase.supported_dtypes at capability >= 8.0
            return [torch.bfloat16, torch.float16, torch.float32]

        @classmethod
        def get_device_capability(cls, device_id: int = 0):
            return DeviceCapability(9, 0)

        @classmethod
        def get_device_name(cls, device_id: int = 0) -> str:
            return "NVIDIA H100 80GB HBM3"

        @classmethod
        def get_device_total_memory(cls, device_id: int = 0) -> int:
            return 80 * _GIB

        @classmethod
        def is_kv_cache_dtype_supported(cls, kv_cache_dtype: str, *args, **kwargs) -> bool:
            return True  # fp8 KV with FlashAttention 3 on Hopper

        @classmethod
        def is_async_output_supported(cls, enforce_eager) -> bool:
            return True

        @classmethod
        def check_and_update_config(cls, vllm_config) -> None:
            # CudaPlatformBase.check_and_update_config, its block-size part (the MLA forcing is
            # done by the rows of MLA_EXTRA_BLOCK_SIZES, which pass the forced size).
            cache_config = vllm_config.cache_config
            if cache_config and cache_config.block_size is None:
                cache_config.block_size = 16
            parallel_config = vllm_config.parallel_config
            if parallel_config.worker_cls == "auto":
                import vllm.envs as envs
                parallel_config.worker_cls = ("vllm.v1.worker.gpu_worker.Worker" if envs.VLLM_USE_V1
                                              else "vllm.worker.worker.Worker")

        @classmethod
        def get_attn_backend_cls(cls, *args, **kwargs) -> str:
            return f"{__name__}.SizingBackend"

        @classmethod
        def default_v1(cls, model_config) -> bool:
            return True

        @classmethod
        def supports_v1(cls, model_config) -> bool:
            return True

    platforms._current_platform = SizingPlatform()
    if version("vllm").startswith("0.8."):
        # 0.8 inspects each architecture in a fresh `python -m vllm.model_executor.models.registry`,
        # which hits the triton placeholder above; inspect in this process instead (same result)
        from vllm.model_executor.models import registry

        def in_process(fn):  # as in the subprocess: no CUDA platform while model modules import
            saved, platforms._current_platform._enum = platforms._current_platform._enum, PlatformEnum.OOT
            try:
                return fn()
            finally:
                platforms._current_platform._enum = saved
        registry._run_in_subprocess = in_process
        _register_deepseek_v2_config()
    # A local config without torch_dtype makes ModelConfig ask the hub for the checkpoint's
    # safetensors dtypes (with retries and sleeps); offline that fails and falls back to float32
    # (served as bf16), so answer "no metadata" at once: the same outcome, without the waits.
    import vllm.config as vllm_config_module
    if hasattr(vllm_config_module, "try_get_safetensors_metadata"):
        vllm_config_module.try_get_safetensors_metadata = lambda *args, **kwargs: None
    return platforms._current_platform


def _register_deepseek_v2_config():
    """transformers 4.51 (0.8's) has no deepseek_v2 config: DeepSeek-V2 was served with the hub's
    remote configuration_deepseek.py (trust_remote_code), which cannot be fetched here. This class
    stands in for it: the same defaults (the remote DeepseekV2Config.__init__), every key of the
    fixture kept; the KV cache reads kv_lora_rank, qk_rope_head_dim and num_hidden_layers only."""
    from transformers import AutoConfig, PretrainedConfig

    defaults = dict(vocab_size=102400, hidden_size=4096, intermediate_size=11008, moe_intermediate_size=1407,
                    num_hidden_layers=30, num_attention_heads=32, num_key_value_heads=32, n_shared_experts=None,
                    n_routed_experts=None, ep_size=1, routed_scaling_factor=1.0, kv_lora_rank=512,
                    q_lora_rank=1536, qk_rope_head_dim=64, v_head_dim=128, qk_nope_head_dim=128,
                    topk_method="gready", n_group=None, topk_group=None, num_experts_per_tok=None,
                    moe_layer_freq=1, first_k_dense_replace=0, norm_topk_prob=False, scoring_func="softmax",
                    aux_loss_alpha=0.001, seq_aux=True, hidden_act="silu", max_position_embeddings=2048,
                    initializer_range=0.02, rms_norm_eps=1e-6, use_cache=True, pretraining_tp=1,
                    rope_theta=10000.0, rope_scaling=None, attention_bias=False, attention_dropout=0.0)

    class DeepseekV2Config(PretrainedConfig):
        model_type = "deepseek_v2"

        def __init__(self, **kwargs):
            for key, value in defaults.items():
                kwargs.setdefault(key, value)
            tie = kwargs.pop("tie_word_embeddings", False)
            own = {k: kwargs.pop(k) for k in list(kwargs) if k in defaults}
            for key, value in own.items():
                setattr(self, key, value)
            super().__init__(tie_word_embeddings=tie, **kwargs)

    try:
        AutoConfig.register("deepseek_v2", DeepseekV2Config)
    except ValueError:
        pass  # transformers knows it already


class _AnyImpl:
    """An attention impl that takes any argument and computes nothing (sizing only)."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def _make_backend():
    from vllm.attention.backends.abstract import AttentionBackend

    class SizingBackend(AttentionBackend):  # type: ignore[misc]
        accept_output_buffer = True

        @staticmethod
        def get_name() -> str:
            return "FLASH_ATTN_VLLM_V1" if _V1 else "FLASH_ATTN"

        @staticmethod
        def get_impl_cls():
            return _AnyImpl

        @staticmethod
        def get_metadata_cls():
            raise NotImplementedError

        @staticmethod
        def get_builder_cls():
            raise NotImplementedError

        @staticmethod
        def get_state_cls():
            raise NotImplementedError

        @staticmethod
        def get_kv_cache_shape(num_blocks, block_size, num_kv_heads, head_size, *args, **kwargs):
            return (2, num_blocks, block_size, num_kv_heads, head_size)

        @staticmethod
        def swap_blocks(*args, **kwargs):
            raise NotImplementedError

        @staticmethod
        def copy_blocks(*args, **kwargs):
            raise NotImplementedError

    SizingBackend.__abstractmethods__ = frozenset()  # whatever else a release declares abstract
    return SizingBackend


_V1 = True
SizingBackend = None  # set in main(), resolved by name from get_attn_backend_cls


# ----- building a config and a model ----------------------------------------------------------


def _config(model_dir: str, max_len: int, kv_dtype: str, batched: int, block_size: int, tp: int = 1):
    from vllm.engine.arg_utils import EngineArgs
    from vllm.platforms import current_platform
    from vllm.platforms.interface import PlatformEnum

    args = EngineArgs(model=model_dir, skip_tokenizer_init=True, max_model_len=max_len, block_size=block_size,
                      max_num_batched_tokens=batched, load_format="dummy", enforce_eager=True,
                      kv_cache_dtype=kv_dtype, tensor_parallel_size=tp,
                      distributed_executor_backend="mp" if tp > 1 else None)
    import vllm.attention.utils.fa_utils as fa_utils
    supports_fp8 = fa_utils.flash_attn_supports_fp8
    fa_utils.flash_attn_supports_fp8 = lambda: True  # FlashAttention 3 on Hopper (0.8's V1 check for fp8 KV)
    current_platform._enum = PlatformEnum.CUDA  # the config `vllm serve` builds on a GPU
    try:
        return args.create_engine_config()
    finally:
        current_platform._enum = PlatformEnum.OOT
        fa_utils.flash_attn_supports_fp8 = supports_fp8


def _build(vc, tp: int = 1):
    """The model on the meta device, the tensor-parallel group's size set to tp (rank 0)."""
    import torch
    from vllm.distributed import parallel_state
    try:
        from vllm.model_executor.model_loader.utils import initialize_model
    except ImportError:  # 0.8
        from vllm.model_executor.model_loader.loader import _initialize_model as initialize_model

    group = parallel_state.get_tp_group()
    saved = group.world_size
    group.world_size = tp
    try:
        with torch.device("meta"):
            return initialize_model(vllm_config=vc)
    finally:
        group.world_size = saved


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def _capture(logger_name: str) -> _Records:
    handler = _Records()
    log = logging.getLogger(logger_name)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return handler


def _release(handler: _Records, logger_name: str) -> None:
    logging.getLogger(logger_name).removeHandler(handler)


# ----- V1 (0.10.x) ----------------------------------------------------------------------------


def size_v1(model_dir: str, max_len: int, kv_dtype: str, available: int, batched: int, block_size: int,
            tp: int = 1) -> dict:
    from types import SimpleNamespace

    from vllm.config import set_current_vllm_config
    from vllm.utils import STR_DTYPE_TO_TORCH_DTYPE
    from vllm.v1.core.kv_cache_utils import get_kv_cache_config, unify_kv_cache_configs
    try:
        from vllm.v1.attention.backends.utils import get_kv_cache_layout
    except ImportError:  # 0.8: one layout
        def get_kv_cache_layout():
            return None
    from vllm.v1.worker.gpu_model_runner import GPUModelRunner

    vc = _config(model_dir, max_len, kv_dtype, batched, block_size, tp)
    cc = vc.cache_config
    with set_current_vllm_config(vc):
        _build(vc, tp)
        # GPUModelRunner.__init__'s attributes that get_kv_cache_spec reads
        runner = SimpleNamespace(
            vllm_config=vc, shared_kv_cache_layers={}, attention_chunk_size=vc.model_config.attention_chunk_size,
            kv_cache_dtype=(vc.model_config.dtype if cc.cache_dtype == "auto"
                            else STR_DTYPE_TO_TORCH_DTYPE[cc.cache_dtype]))
        specs = GPUModelRunner.get_kv_cache_spec(runner)
        first = next(iter(specs.values()))
        common = {
            "kv_cache_dtype": kv_dtype, "torch_kv_dtype": str(first.dtype).replace("torch.", ""),
            "max_model_len": max_len, "requested_block_size": block_size, "block_size": first.block_size,
            "max_num_batched_tokens": vc.scheduler_config.max_num_batched_tokens,
            # 0.10's SlidingWindowSpec reserves window - 1 + max_num_batched_tokens: one batch in flight
            "max_in_flight_tokens": vc.scheduler_config.max_num_batched_tokens,
            # 0.8 has no hybrid manager: get_kv_cache_config always unifies sliding layers to full
            "hybrid_kv_cache_manager": not getattr(vc.scheduler_config, "disable_hybrid_kv_cache_manager", True),
            "layout": get_kv_cache_layout(), "available_bytes": available,
        }
        if tp != 1:
            common["tp"] = tp
        logger_name = "vllm.v1.core.kv_cache_utils"
        handler = _capture(logger_name)
        try:
            config = get_kv_cache_config(vc, specs, available)
        except ValueError as err:  # vLLM refuses to start: one request of max_model_len does not fit
            match = re.search(r"estimated maximum model length is (\d+)", str(err))
            return {**common, "refused": True, "estimated_max_model_len": int(match.group(1)) if match else 0,
                    "error": str(err).split(". ")[0]}
        finally:
            _release(handler, logger_name)
        groups_in_log_order = list(config.kv_cache_groups)
        unify_kv_cache_configs([config])  # one worker: sorts the groups, keeps num_blocks
    lines = {r.msg.split(":")[0]: r for r in handler.records if r.msg.startswith(("GPU KV cache size",
                                                                                   "Maximum concurrency"))}
    tokens_rec, conc_rec = lines["GPU KV cache size"], lines["Maximum concurrency for %s tokens per request"]
    groups = []
    for g in groups_in_log_order:
        spec = g.kv_cache_spec
        groups.append({"spec": type(spec).__name__, "use_mla": bool(getattr(spec, "use_mla", False)),
                       "n_layers": len(g.layer_names), "page_bytes": spec.page_size_bytes,
                       "block_size": spec.block_size, "sliding_window": getattr(spec, "sliding_window", None),
                       "attention_chunk_size": getattr(spec, "attention_chunk_size", None)})
    return {**common, "refused": False, "num_blocks": config.num_blocks,
            "kv_cache_tokens": int(tokens_rec.args[0].replace(",", "")), "max_concurrency": conc_rec.args[1],
            "log": [tokens_rec.getMessage(), conc_rec.getMessage()], "groups": groups}


# ----- V0 (0.8.x) -----------------------------------------------------------------------------


def size_v0(model_dir: str, max_len: int, kv_dtype: str, available: int, batched, block_size: int,
            tp: int = 1) -> dict:
    from vllm.config import set_current_vllm_config
    from vllm.executor.executor_base import ExecutorBase
    from vllm.utils import STR_DTYPE_TO_TORCH_DTYPE
    from vllm.worker.cache_engine import CacheEngine
    from vllm.worker.worker import raise_if_cache_size_invalid

    # V0 sizes no sliding window and no in-flight batch: max_num_batched_tokens is left to V0's
    # own default (without chunked prefill it must be >= max_model_len)
    vc = _config(model_dir, max_len, kv_dtype, None, block_size, tp)
    mc, cc, pc = vc.model_config, vc.cache_config, vc.parallel_config
    with set_current_vllm_config(vc):
        _build(vc, tp)  # the model builds: the geometry below is the one its layers hold
        cache_block_size = CacheEngine.get_cache_block_size(cc, mc, pc)
    torch_kv = mc.dtype if cc.cache_dtype == "auto" else STR_DTYPE_TO_TORCH_DTYPE[cc.cache_dtype]
    common = {
        "kv_cache_dtype": kv_dtype, "torch_kv_dtype": str(torch_kv).replace("torch.", ""),
        "max_model_len": max_len, "requested_block_size": block_size, "block_size": cc.block_size,
        "max_num_batched_tokens": vc.scheduler_config.max_num_batched_tokens,
        "chunked_prefill": vc.scheduler_config.chunked_prefill_enabled,
        "sliding_window": mc.get_sliding_window(), "available_bytes": available,
        "cache_block_bytes": cache_block_size,
        "n_layers": mc.get_num_layers_by_block_type(pc, _attention_block_type()),
        "head_size": mc.get_head_size(), "num_kv_heads": mc.get_num_kv_heads(pc), "use_mla": mc.use_mla,
    }
    if tp != 1:
        common["tp"] = tp
    # vllm/worker/worker.py Worker.determine_num_available_blocks (after its GPU profiling)
    num_gpu_blocks = max(int(available // cache_block_size), 0) if cache_block_size else 0
    num_cpu_blocks = max(int(cc.swap_space_bytes // cache_block_size), 0) if cache_block_size else 0
    try:
        raise_if_cache_size_invalid(num_gpu_blocks, cc.block_size, mc.is_attention_free, mc.max_model_len,
                                    pc.pipeline_parallel_size)
    except ValueError as err:
        return {**common, "refused": True, "num_blocks": num_gpu_blocks, "error": str(err).split(". ")[0]}
    # vllm/executor/executor_base.py ExecutorBase.initialize_cache: its two log lines, from itself
    logger_name = "vllm.executor.executor_base"
    handler = _capture(logger_name)
    stand_in = types.SimpleNamespace(cache_config=cc, model_config=mc, collective_rpc=lambda *a, **k: None)
    try:
        ExecutorBase.initialize_cache(stand_in, num_gpu_blocks, num_cpu_blocks)
    finally:
        _release(handler, logger_name)
    blocks_rec = next(r for r in handler.records if r.msg.startswith("# %s blocks"))
    conc_rec = next(r for r in handler.records if r.msg.startswith("Maximum concurrency"))
    return {**common, "refused": False, "num_blocks": blocks_rec.args[1], "num_cpu_blocks": blocks_rec.args[2],
            "kv_cache_tokens": blocks_rec.args[1] * cc.block_size, "max_concurrency": conc_rec.args[1],
            "log": [blocks_rec.getMessage(), conc_rec.getMessage()]}


def _attention_block_type():
    from vllm.utils import LayerBlockType
    return LayerBlockType.attention


# ----- main -----------------------------------------------------------------------------------


def _model_dir(tmp: str, fixture: str, overrides: dict) -> str:
    cfg = json.loads((FIXTURES / f"{fixture}.json").read_text())
    cfg.pop("quantization_config", None)  # sizing needs no quantised kernels; weights are meta
    for key, value in BUILD_KEYS.get(fixture, {}).items():
        cfg.setdefault(key, value)
    cfg.update(overrides)
    (Path(tmp) / "config.json").write_text(json.dumps(cfg))
    return tmp


def main() -> None:
    global _V1, SizingBackend
    _install_platform()
    import vllm
    import vllm.envs as envs
    from vllm.config import VllmConfig, set_current_vllm_config
    from vllm.distributed import init_distributed_environment, initialize_model_parallel

    release = vllm.__version__
    engine = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--engine=")),
                  "v0" if release.startswith("0.8.") else "v1")
    _V1 = engine == "v1"
    os.environ["VLLM_USE_V1"] = "1" if _V1 else "0"  # set: EngineArgs then raises instead of falling back
    SizingBackend = _make_backend()
    globals()["SizingBackend"] = SizingBackend
    size = size_v1 if _V1 else size_v0

    import socket
    with socket.socket() as sock:  # a free local port for the one-process gloo group
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with set_current_vllm_config(VllmConfig()):
        init_distributed_environment(world_size=1, rank=0, distributed_init_method=f"tcp://127.0.0.1:{port}",
                                     local_rank=0, backend="gloo")
        initialize_model_parallel(1, 1)
    only = {a for a in sys.argv[1:] if not a.startswith("--")}
    rows, failed = [], []
    for fixture, lens, *more in CASES:
        batched_list = more[0] if more else (MAX_NUM_BATCHED_TOKENS,)
        overrides = more[1] if len(more) > 1 else {}
        if only and fixture not in only:
            continue
        blocks = (BLOCK_SIZE,) + MLA_EXTRA_BLOCK_SIZES.get(fixture, ())
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = _model_dir(tmp, fixture, overrides)
            for kv_dtype, max_len, available, batched, block in product(KV_DTYPES, lens, AVAILABLE, batched_list,
                                                                        blocks):
                if batched != MAX_NUM_BATCHED_TOKENS and (kv_dtype, available) != ("auto", AVAILABLE[0]):
                    continue  # the odd in-flight counts: one dtype, one size is enough
                if not _V1 and batched != MAX_NUM_BATCHED_TOKENS:
                    continue  # V0 reserves nothing for tokens in flight: those rows would repeat
                try:
                    row = size(model_dir, max_len, kv_dtype, available, batched, block)
                except Exception as err:  # noqa: BLE001 - recorded: the release cannot build this case here
                    if os.environ.get("GOLDENS_DEBUG"):
                        import traceback
                        traceback.print_exc()
                    failed.append({"fixture": fixture, "overrides": overrides, "kv_cache_dtype": kv_dtype,
                                   "max_model_len": max_len, "block_size": block,
                                   "error": f"{type(err).__name__}: {' '.join(str(err).split())[:600]}"})
                    print(fixture, "FAILED", failed[-1]["error"], file=sys.stderr)
                    continue
                rows.append({"fixture": fixture, "overrides": overrides, **row})
                print(fixture, overrides or "", kv_dtype, max_len, available >> 30, "GiB", batched, "batched",
                      block, "block:", "refused" if row["refused"] else (row["num_blocks"], row["kv_cache_tokens"],
                                                                         row["max_concurrency"]), file=sys.stderr)
    extra = []
    if not only or GPT_OSS_CASE["fixture"] in only:
        case = GPT_OSS_CASE
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = _model_dir(tmp, case["fixture"], {})
            try:
                row = size(model_dir, case["max_model_len"], "auto", case["available_bytes"],
                           case["max_num_batched_tokens"], BLOCK_SIZE, tp=case["tp"])
                row = {"fixture": case["fixture"], "overrides": {}, **row,
                       "public_log_max_concurrency": case["logged_max_concurrency"],
                       "reproduces_public_log": (not row["refused"]
                                                 and f"{row['max_concurrency']:.2f}" == case["logged_max_concurrency"])}
            except Exception as err:  # noqa: BLE001
                row = {"fixture": case["fixture"], "error": f"{type(err).__name__}: {err}"}
            extra.append(row)
            print("gpt-oss-120b TP4:", row, file=sys.stderr)
    header = {
        "vllm_version": release,
        "engine": "V1" if _V1 else "V0",
        "platform": "SizingPlatform (make_goldens_legacy.py): CPU process standing in for one H100 80GB; "
                    "config built as on CUDA, model on the meta device, stub attention backend",
        "method": (METHOD_V1 if _V1 else METHOD_V0),
        "default_engine_of_release": ("V1 (VLLM_USE_V1 defaults to 1 from 0.8.0; V0 only as a fallback for "
                                      "features V1 lacks, or with VLLM_USE_V1=0)"),
        "build_only_config_keys": BUILD_KEYS,
        "notes": NOTES_V1 if _V1 else NOTES_V0,
    }
    out = {**header, "rows": rows, "failed": failed, "extra": extra}
    stem = f"goldens-{release}" + ("" if engine == ("v0" if release.startswith("0.8.") else "v1") else f"-{engine}")
    target = HERE / (f"{stem}.json" if not only else f"{stem}.partial.json")
    target.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {len(rows)} rows ({sum(r['refused'] for r in rows)} refused, {len(failed)} failed) to {target}",
          file=sys.stderr)


NOTES_V1 = [
    "block_size 16 rows of DeepSeek-V2-Lite are what Triton MLA (or VLLM_ATTENTION_BACKEND=TRITON_MLA) keeps; "
    "on an H100 this release's CudaPlatform forces FlashMLA's 64 (vllm/platforms/cuda.py check_and_update_config), "
    "recorded as the rows with requested_block_size 64",
    "kv_cache_tokens is this release's own 'GPU KV cache size': num_blocks * block_size (one KV-cache group) or "
    "num_blocks // number_of_groups * min_block_size (hybrid), not int(concurrency x max_model_len) as from 0.20.1",
    "hybrid groups: group size = the smallest bucket, buckets split into contiguous slices (0.9.1..0.10.2), "
    "num_blocks = available // page // group_size",
    "refusal: sum over layers of max_memory_usage_bytes > available (no null block held back, unlike 0.29+)",
    "release 0.8.x only: V1 has no hybrid manager; get_kv_cache_config turns sliding layers into full ones when "
    "full and sliding layers are mixed (a model of sliding layers only, Mistral-7B-v0.1, keeps SlidingWindowSpec and "
    "its window-limited fit check), and prints concurrency = num_blocks * block_size / max_model_len",
]
NOTES_V0 = [
    "V0 sizes every attention layer alike (sliding windows ignored); kv_cache_tokens = num_blocks * block_size "
    "(V0 prints no 'KV cache size' line)",
    "MLA rows are not padded in this release (576 elements; the 256-byte alignment existed in 0.7.2 and 0.7.3 only)",
    "auto dtype of a float32 checkpoint is float16 in 0.8.4..0.9.0 (gemma-2-9b rows)",
    "block_size 64 rows of DeepSeek-V2-Lite: FlashMLA's block, forced on Hopper by vllm/platforms/cuda.py",
]
METHOD_V1 = ("vLLM's own functions: EngineArgs.create_engine_config(); the model built on the meta device "
             "(vllm.model_executor.model_loader.utils.initialize_model); specs from "
             "vllm.v1.worker.gpu_model_runner.GPUModelRunner.get_kv_cache_spec (called on the runner attributes "
             "it reads); vllm.v1.core.kv_cache_utils.get_kv_cache_config + unify_kv_cache_configs. "
             "kv_cache_tokens and max_concurrency are the arguments of get_kv_cache_config's own "
             "'GPU KV cache size' / 'Maximum concurrency' log records; 'log' is their text. groups are listed "
             "in get_kv_cache_config's order (before unify_kv_cache_configs sorts them). "
             "max_in_flight_tokens = max_num_batched_tokens (0.10 reserves one batch for a sliding window). "
             "Refusals: check_enough_kv_cache_memory's ValueError and estimate_max_model_len's suggestion.")
METHOD_V0 = ("vLLM's own functions where they exist without a GPU: EngineArgs.create_engine_config(); the model "
             "built on the meta device; vllm.worker.cache_engine.CacheEngine.get_cache_block_size(cache_config, "
             "model_config, parallel_config); then the formulas of vllm/worker/worker.py "
             "determine_num_available_blocks (num_gpu_blocks = int(available // cache_block_size)) and "
             "raise_if_cache_size_invalid (refused when max_model_len > block_size x num_gpu_blocks), and "
             "vllm/executor/executor_base.py initialize_cache (concurrency = num_gpu_blocks x block_size / "
             "max_model_len), reproduced here since they need a profiled GPU. kv_cache_tokens = num_gpu_blocks x "
             "block_size (V0 prints no 'GPU KV cache size' line).")


if __name__ == "__main__":
    main()
