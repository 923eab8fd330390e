"""Tiny random-weight models of the families whose layers are not a plain attention stack, in
their own config shapes (Llama 4's chunked layers, Qwen3-Next's gated DeltaNet, the Mamba and
Mamba-2 hybrids, Zamba2's shared attention, Gemma 3n's shared KV, LFM2's short convolutions,
MiniMax's lightning attention, pure Mamba and Mamba-2), each with the keys its transformers 5.23.0
config class derives the layout from. REFUSED: the configs transformers cannot run or that
kvcalc refuses by name (each test says which and why).

Written from a survey of transformers 5.23.0's caches (every tensor of each case listed after a
prefill and a decode step), which these tests now repeat on every run.
"""

from __future__ import annotations

from typing import Any

from .cases import Case

VOCAB = 128
COMMON_ATTN = dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=2, vocab_size=VOCAB,
                   pad_token_id=0, bos_token_id=1, eos_token_id=2)

FAMILIES: list[Case] = []
TORCH_NAMES = {"bf16": "bfloat16", "fp32": "float32", "fp16": "float16"}


def case(name: str, model_type: str, dtype: str = "bf16", **kw: Any) -> None:
    FAMILIES.append(Case(name, {"model_type": model_type, "torch_dtype": TORCH_NAMES[dtype], **kw}))


# llama4 text: 8 layers, default no_rope_layers (interval 4) -> layers 3,7 full (NoPE), others chunked
case("llama4", "llama4_text", **COMMON_ATTN, head_dim=16, num_hidden_layers=8, intermediate_size=32,
     intermediate_size_mlp=32, num_local_experts=2, num_experts_per_tok=1, interleave_moe_layer_step=2,
     attention_chunk_size=16)
case("llama4_fp32", "llama4_text", dtype="fp32", **COMMON_ATTN, head_dim=16, num_hidden_layers=4,
     intermediate_size=32, intermediate_size_mlp=32, num_local_experts=2, num_experts_per_tok=1,
     attention_chunk_size=16)
# chunk larger than the prefill: nothing dropped
case("llama4_chunk64", "llama4_text", **COMMON_ATTN, head_dim=16, num_hidden_layers=4, intermediate_size=32,
     intermediate_size_mlp=32, num_local_experts=2, num_experts_per_tok=1, attention_chunk_size=64)

# attention_chunk_size=None with the default (chunked) layer_types
case("llama4_nochunk", "llama4_text", **COMMON_ATTN, head_dim=16, num_hidden_layers=4, intermediate_size=32,
     intermediate_size_mlp=32, num_local_experts=2, num_experts_per_tok=1, attention_chunk_size=None)
# explicit no_rope_layers (1 = rope/chunked, 0 = NoPE/full)
case("llama4_norope_list", "llama4_text", **COMMON_ATTN, head_dim=16, num_hidden_layers=4, intermediate_size=32,
     intermediate_size_mlp=32, num_local_experts=2, num_experts_per_tok=1, attention_chunk_size=16,
     no_rope_layers=[0, 1, 0, 1])

case("qwen3_next", "qwen3_next", **COMMON_ATTN, head_dim=16, num_hidden_layers=4, intermediate_size=32,
     linear_num_key_heads=2, linear_key_head_dim=8, linear_num_value_heads=4, linear_value_head_dim=12,
     linear_conv_kernel_dim=4, num_experts=2, num_experts_per_tok=1, moe_intermediate_size=32,
     shared_expert_intermediate_size=32)
case("qwen3_next_fp32", "qwen3_next", dtype="fp32", **COMMON_ATTN, head_dim=16, num_hidden_layers=4,
     intermediate_size=32, linear_num_key_heads=2, linear_key_head_dim=8, linear_num_value_heads=4,
     linear_value_head_dim=12, linear_conv_kernel_dim=4, num_experts=2, num_experts_per_tok=1,
     moe_intermediate_size=32, shared_expert_intermediate_size=32)

# falcon_h1: explicit mamba_d_ssm (=96, != expand*hidden=128) so the rule shows which one is used
case("falcon_h1", "falcon_h1", **COMMON_ATTN, head_dim=16, num_hidden_layers=2, intermediate_size=32,
     mamba_d_ssm=96, mamba_n_heads=4, mamba_n_groups=2, mamba_d_state=16, mamba_d_conv=4, mamba_expand=2,
     mamba_chunk_size=16)
case("falcon_h1_dssm_none", "falcon_h1", **COMMON_ATTN, head_dim=16, num_hidden_layers=2, intermediate_size=32,
     mamba_d_ssm=None, mamba_n_heads=8, mamba_n_groups=1, mamba_d_state=16, mamba_d_conv=4, mamba_expand=2,
     mamba_chunk_size=16)
case("falcon_h1_fp32", "falcon_h1", dtype="fp32", **COMMON_ATTN, head_dim=16, num_hidden_layers=2,
     intermediate_size=32, mamba_d_ssm=96, mamba_n_heads=4, mamba_n_groups=2, mamba_d_state=16, mamba_d_conv=4,
     mamba_expand=2, mamba_chunk_size=16)

# no mamba_d_ssm key at all: the config default (1024) applies, not mamba_expand * hidden_size
case("falcon_h1_dssm_default", "falcon_h1", **COMMON_ATTN, head_dim=16, num_hidden_layers=1, intermediate_size=32,
     mamba_n_heads=8, mamba_n_groups=1, mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=16)
# no attention layer at all
case("bamba_noattn", "bamba", **COMMON_ATTN, num_hidden_layers=2, intermediate_size=32, attn_layer_indices=None,
     mamba_n_heads=8, mamba_n_groups=2, mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=16)
case("bamba", "bamba", **COMMON_ATTN, num_hidden_layers=3, intermediate_size=32, attn_layer_indices=[1],
     mamba_n_heads=8, mamba_n_groups=2, mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=16)
case("bamba_fp32", "bamba", dtype="fp32", **COMMON_ATTN, num_hidden_layers=3, intermediate_size=32,
     attn_layer_indices=[1], mamba_n_heads=8, mamba_n_groups=2, mamba_d_state=16, mamba_d_conv=4,
     mamba_expand=2, mamba_chunk_size=16)

case("zamba2", "zamba2", hidden_size=64, num_attention_heads=4, num_key_value_heads=None, vocab_size=VOCAB,
     pad_token_id=0, bos_token_id=1, eos_token_id=2,
     num_hidden_layers=5, layers_block_type=["mamba", "hybrid", "mamba", "hybrid", "mamba"], num_mem_blocks=2, intermediate_size=32,
     n_mamba_heads=8, mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, mamba_ngroups=1, chunk_size=16,
     use_mamba_kernels=False, adapter_rank=4)

case("zamba2_kv2", "zamba2", hidden_size=64, num_attention_heads=4, num_key_value_heads=2, vocab_size=VOCAB,
     pad_token_id=0, bos_token_id=1, eos_token_id=2, num_hidden_layers=3,
     layers_block_type=["mamba", "hybrid", "hybrid"], num_mem_blocks=1, intermediate_size=32,
     n_mamba_heads=4, mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, mamba_ngroups=2, chunk_size=16,
     adapter_rank=4)

case("granitemoehybrid", "granitemoehybrid", **COMMON_ATTN, num_hidden_layers=4, intermediate_size=32,
     layer_types=["mamba", "attention", "mamba", "mamba"], num_local_experts=2, num_experts_per_tok=1,
     shared_intermediate_size=32, mamba_n_heads=8, mamba_n_groups=2, mamba_d_state=16, mamba_d_conv=4,
     mamba_expand=2, mamba_chunk_size=16)
case("granitemoehybrid_newnames", "granitemoehybrid", **COMMON_ATTN, num_hidden_layers=4, intermediate_size=32,
     layer_types=["linear_attention", "full_attention", "linear_attention", "linear_attention"],
     num_local_experts=2, num_experts_per_tok=1, shared_intermediate_size=32, mamba_n_heads=8, mamba_n_groups=2,
     mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=16)
case("granitemoehybrid_default_types", "granitemoehybrid", **COMMON_ATTN, num_hidden_layers=2,
     intermediate_size=32, num_local_experts=2, num_experts_per_tok=1, shared_intermediate_size=32,
     mamba_n_heads=8, mamba_n_groups=2, mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=16)

NEMO = dict(**COMMON_ATTN, head_dim=16, intermediate_size=32, mamba_num_heads=8, mamba_head_dim=16, n_groups=2,
            ssm_state_size=16, conv_kernel=4, expand=2, chunk_size=16, n_routed_experts=2, num_experts_per_tok=1,
            moe_intermediate_size=32, moe_shared_expert_intermediate_size=32, use_mamba_kernels=False)
case("nemotron_h_pattern", "nemotron_h", **NEMO, hybrid_override_pattern="M-M*-E")
case("nemotron_h_blocktype", "nemotron_h", **NEMO,
     layers_block_type=["mamba", "mlp", "mamba", "attention", "mlp", "moe"])
case("nemotron_h_fp32", "nemotron_h", dtype="fp32", **NEMO, hybrid_override_pattern="M*-")
# expand*hidden (128) != mamba_num_heads*mamba_head_dim (8*24=192): which one sizes the conv state?
case("nemotron_h_headdim24", "nemotron_h", **{**NEMO, "mamba_head_dim": 24}, hybrid_override_pattern="M*")

GEMMA3N = dict(**COMMON_ATTN, head_dim=16, num_hidden_layers=10, num_kv_shared_layers=4, sliding_window=16,
               intermediate_size=32, vocab_size_per_layer_input=VOCAB, hidden_size_per_layer_input=8,
               laurel_rank=4, altup_num_inputs=4)
case("gemma3n", "gemma3n_text", **GEMMA3N)
case("gemma3n_noshare", "gemma3n_text", **{**GEMMA3N, "num_kv_shared_layers": 0})

case("lfm2", "lfm2", **COMMON_ATTN, num_hidden_layers=4, intermediate_size=32, full_attn_idxs=[1, 3],
     conv_L_cache=3, block_auto_adjust_ff_dim=False)
case("lfm2_fp32", "lfm2", dtype="fp32", **COMMON_ATTN, num_hidden_layers=4, intermediate_size=32,
     full_attn_idxs=[1, 3], conv_L_cache=3, block_auto_adjust_ff_dim=False)

case("minimax", "minimax", **COMMON_ATTN, head_dim=16, num_hidden_layers=4, intermediate_size=32,
     num_local_experts=2, num_experts_per_tok=1, block_size=16)
case("minimax_fp32", "minimax", dtype="fp32", **COMMON_ATTN, head_dim=16, num_hidden_layers=4,
     intermediate_size=32, num_local_experts=2, num_experts_per_tok=1, block_size=16)
# the published checkpoint's key: is attn_type_list read?  (0 = lightning/linear, 1 = softmax)
case("minimax_attn_type_list", "minimax", **COMMON_ATTN, head_dim=16, num_hidden_layers=4, intermediate_size=32,
     num_local_experts=2, num_experts_per_tok=1, block_size=16, attn_type_list=[0, 0, 0, 1])

case("mamba", "mamba", hidden_size=64, state_size=16, conv_kernel=4, expand=2, num_hidden_layers=2,
     vocab_size=VOCAB, use_mambapy=False)
case("mamba_fp32", "mamba", dtype="fp32", hidden_size=64, state_size=16, conv_kernel=4, expand=2,
     num_hidden_layers=2, vocab_size=VOCAB)
case("mamba_fp16", "mamba", dtype="fp16", hidden_size=64, state_size=16, conv_kernel=4, expand=2,
     num_hidden_layers=2, vocab_size=VOCAB)

case("mamba2", "mamba2", hidden_size=64, num_heads=8, head_dim=16, n_groups=2, state_size=16, conv_kernel=4,
     expand=2, num_hidden_layers=2, vocab_size=VOCAB, chunk_size=16)
case("mamba2_fp32", "mamba2", dtype="fp32", hidden_size=64, num_heads=8, head_dim=16, n_groups=2, state_size=16,
     conv_kernel=4, expand=2, num_hidden_layers=2, vocab_size=VOCAB, chunk_size=16)

case("jamba", "jamba", **COMMON_ATTN, num_hidden_layers=4, intermediate_size=32, attn_layer_period=2,
     attn_layer_offset=1, expert_layer_period=2, expert_layer_offset=1, num_experts=2, num_experts_per_tok=1,
     mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, use_mamba_kernels=False)
case("jamba_fp32", "jamba", dtype="fp32", **COMMON_ATTN, num_hidden_layers=4, intermediate_size=32,
     attn_layer_period=2, attn_layer_offset=1, expert_layer_period=2, expert_layer_offset=1, num_experts=2,
     num_experts_per_tok=1, mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, use_mamba_kernels=False)




# transformers fails on these (llama4 with no chunk size: TypeError building the cache; a Mamba-2
# hybrid without an attention layer: get_seq_length) and kvcalc refuses them; MiniMax's remote-code
# attn_type_list is ignored by transformers (its layers alternate) while vLLM reads it: refused.
REFUSED = {"llama4_nochunk", "bamba_noattn", "granitemoehybrid_default_types", "minimax_attn_type_list"}
