"""Tiny zero-weight GGUFs of the architectures whose layers are not a plain attention stack, and of
plain ones kvcalc refused before (issue #20): llama4 (chunked), gemma3n (shared KV), lfm2 (short
convolutions), mamba, mamba2, granitehybrid, falcon-h1, nemotron_h, qwen3next (gated DeltaNet),
jamba; cohere2, command-r, olmo2, starcoder2, and minicpm3 (refused: two head sizes).

Each GGUF holds exactly the tensors llama.cpp's loader asks for at that metadata: the lists in
family_tensors.json were found by loading the file in this llama.cpp and adding each tensor it
reported missing, with the shape it reported expecting, until it loaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from gguf import GGUFWriter

TENSORS = json.loads(Path(__file__).with_name("family_tensors.json").read_text())
VOCAB = 64


def base(n_layer, n_embd=256, n_head=4, n_head_kv=2, head_dim=64, n_ff=64, rms=True, **extra):
    """A GGUF's metadata (keys without the arch prefix); a None value drops the key."""
    m = {
        "block_count": n_layer,
        "context_length": 32768,
        "embedding_length": n_embd,
        "feed_forward_length": n_ff,
        "attention.head_count": n_head,
        "attention.head_count_kv": n_head_kv,
        "attention.key_length": head_dim,
        "attention.value_length": head_dim,
        "rope.dimension_count": head_dim,
        "vocab_size": VOCAB,
    }
    if rms:
        m["attention.layer_norm_rms_epsilon"] = 1e-6
    else:
        m["attention.layer_norm_epsilon"] = 1e-5
    m.update(extra)
    return {k: v for k, v in m.items() if v is not None}


SSM = {"ssm.conv_kernel": 4, "ssm.inner_size": 512, "ssm.state_size": 16, "ssm.time_step_rank": 8}


# name -> (gguf arch, metadata without the arch prefix)
CASES = {
    # llama4: 8 layers, no sliding_window key -> chunked, n_swa forced to 8192, pattern 4 (3 chunked + 1 full)
    "llama4": ("llama4", base(8, **{"expert_count": 2, "expert_used_count": 1, "expert_feed_forward_length": 64,
                                    "interleave_moe_layer_step": 2})),
    # llama4 with sliding_window = 0 present -> no chunking at all
    "llama4-swa0": ("llama4", base(4, **{"expert_count": 2, "expert_used_count": 1, "expert_feed_forward_length": 64,
                                         "interleave_moe_layer_step": 2, "attention.sliding_window": 0})),
    # llama4 with sliding_window = 1024 -> still 8192 (key value ignored) ; pattern key 2
    "llama4-swa1024-p2": ("llama4", base(4, **{"expert_count": 2, "expert_used_count": 1,
                                               "expert_feed_forward_length": 64, "interleave_moe_layer_step": 2,
                                               "attention.sliding_window": 1024,
                                               "attention.sliding_window_pattern": 2})),
    # gemma3n: 24 layers, n_layer_kv_from_start fixed at 20, pattern 5
    "gemma3n": ("gemma3n", base(24, n_head_kv=2, head_dim=64, **{"attention.sliding_window": 512,
                                                                  "altup.active_idx": 0, "altup.num_inputs": 4,
                                                                  "embedding_length_per_layer_input": 32,
                                                                  "activation_sparsity_scale": [0.0] * 24})),
    # lfm2: conv layers are n_head_kv == 0
    "lfm2": ("lfm2", base(6, n_head_kv=[0, 0, 2, 0, 0, 2], **{"shortconv.l_cache": 3})),
    "lfm2-swa": ("lfm2", base(6, n_head_kv=[0, 0, 2, 0, 0, 2], **{"shortconv.l_cache": 3,
                                                                  "attention.sliding_window": 512})),
    "mamba": ("mamba", base(3, n_head=0, n_head_kv=0, head_dim=None, **SSM,
                            **{"attention.key_length": None, "attention.value_length": None,
                               "rope.dimension_count": None})),
    "mamba2": ("mamba2", base(3, n_head=0, n_head_kv=0, head_dim=None,
                              **{**SSM, "ssm.time_step_rank": 8, "ssm.group_count": 2,
                                 "attention.key_length": None, "attention.value_length": None,
                                 "rope.dimension_count": None})),
    "granitehybrid": ("granitehybrid", base(5, n_head_kv=[0, 0, 2, 0, 2],
                                            **{**SSM, "ssm.time_step_rank": 8, "ssm.group_count": 1})),
    "falcon-h1": ("falcon-h1", base(3, **{**SSM, "ssm.time_step_rank": 8, "ssm.group_count": 1})),
    # nemotron_h: recurrent = (n_head_kv == 0 && n_ff == 0); attention = (n_head_kv > 0 && n_ff == 0); MLP = n_ff > 0
    "nemotron_h": ("nemotron_h", base(6, n_head_kv=[0, 0, 2, 0, 0, 0], n_ff=[0, 64, 0, 0, 64, 0], rms=False,
                                      **{**SSM, "ssm.time_step_rank": 8, "ssm.group_count": 2,
                                         "attention.layer_norm_rms_epsilon": 1e-5})),
    # qwen3next: linear (gated delta net) layers unless (i+1) % full_attention_interval == 0
    "qwen3next": ("qwen3next", base(4, n_head_kv=2, head_dim=64,
                                    **{"ssm.conv_kernel": 4, "ssm.inner_size": 256, "ssm.state_size": 64,
                                       "ssm.time_step_rank": 4, "ssm.group_count": 2, "expert_count": 2,
                                       "expert_used_count": 1, "expert_feed_forward_length": 64,
                                       "expert_shared_feed_forward_length": 64})),
    "jamba": ("jamba", base(4, n_head_kv=[0, 0, 2, 0], **SSM)),
    # plain attention
    "cohere2": ("cohere2", base(8, rms=False, **{"attention.sliding_window": 512, "logit_scale": 0.125})),
    "command-r": ("command-r", base(2, rms=False, **{"logit_scale": 0.125})),
    "olmo2": ("olmo2", base(2)),
    "olmo2-swa": ("olmo2", base(8, **{"attention.sliding_window": 512})),
    "starcoder2": ("starcoder2", base(2, rms=False)),
    # minicpm3: K head = nope+rope (key_length), V head = value_length, n_head_kv = n_head
    "minicpm3": ("minicpm3", base(2, n_head=4, n_head_kv=4, head_dim=None,
                                  **{"attention.key_length": 96, "attention.value_length": 64,
                                     "rope.dimension_count": 32, "attention.q_lora_rank": 64,
                                     "attention.kv_lora_rank": 32})),
}


def write(name: str, path: Path) -> Path:
    """The GGUF of case `name` at `path`: its metadata, and zeros for every tensor it needs."""
    arch, meta = CASES[name]
    w = GGUFWriter(str(path), arch)
    for k, v in meta.items():
        key = f"{arch}.{k}"
        if isinstance(v, bool):
            w.add_bool(key, v)
        elif isinstance(v, int):
            w.add_uint32(key, v)
        elif isinstance(v, float):
            w.add_float32(key, v)
        elif isinstance(v, list):
            w.add_array(key, [float(x) for x in v] if v and isinstance(v[0], float) else v)
    w.add_tokenizer_model("none")
    for tensor, ne in TENSORS[name].items():
        w.add_tensor(tensor, np.zeros(tuple(reversed(ne)), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
