"""Tiny GGUF files with zero weights, written with the gguf package's writer: every tensor the
llama.cpp loader asks for an architecture, at the hyper-parameters a case gives. The cache only
depends on the metadata and the attention / SSM shapes, so weights are zeros and small."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGUFWriter

VOCAB = 64


@dataclass
class Arch:
    """A case: architecture, layers and the attention / SSM geometry."""

    name: str
    arch: str
    n_layers: int = 2
    n_embd: int = 0  # 0: n_head x head_dim (architectures without key_length need that)
    n_head: int = 4
    n_head_kv: Any = 2  # an int, or one per layer (0: no attention)
    head_dim: int = 64
    n_ff: Any = 32
    context: int = 8192
    window: int = 0
    rope: int = 0  # rope dims (0: head_dim); MLA: qk_rope_head_dim
    extra: dict[str, Any] = field(default_factory=dict)


def _w(writer: GGUFWriter, name: str, *shape: int) -> None:
    writer.add_tensor(name, np.zeros(shape, dtype=np.float32))


def _attention(w: GGUFWriter, i: int, a: Arch, n_kv: int, norms: tuple[str, ...] = ("attn_norm", "ffn_norm")) -> None:
    p = f"blk.{i}"
    for n in norms:
        _w(w, f"{p}.{n}.weight", a.n_embd)
    _w(w, f"{p}.attn_q.weight", a.n_head * a.head_dim, a.n_embd)
    _w(w, f"{p}.attn_k.weight", n_kv * a.head_dim, a.n_embd)
    _w(w, f"{p}.attn_v.weight", n_kv * a.head_dim, a.n_embd)
    _w(w, f"{p}.attn_output.weight", a.n_embd, a.n_head * a.head_dim)


def _mla(w: GGUFWriter, i: int, a: Arch) -> None:
    """DeepSeek-V2/V3 attention, as convert_hf_to_gguf writes it for MLA (k_b / v_b split)."""
    p, x = f"blk.{i}", a.extra
    rank, rope = x["attention.kv_lora_rank"], a.rope
    nope, v = x["attention.key_length_mla"] - rope, x["attention.value_length_mla"]
    for n in ("attn_norm", "ffn_norm"):
        _w(w, f"{p}.{n}.weight", a.n_embd)
    q_rank = x.get("attention.q_lora_rank")
    if q_rank:
        _w(w, f"{p}.attn_q_a.weight", q_rank, a.n_embd)
        _w(w, f"{p}.attn_q_a_norm.weight", q_rank)
        _w(w, f"{p}.attn_q_b.weight", a.n_head * (nope + rope), q_rank)
    else:
        _w(w, f"{p}.attn_q.weight", a.n_head * (nope + rope), a.n_embd)
    _w(w, f"{p}.attn_kv_a_mqa.weight", rank + rope, a.n_embd)
    _w(w, f"{p}.attn_kv_a_norm.weight", rank)
    _w(w, f"{p}.attn_k_b.weight", a.n_head, rank, nope)
    _w(w, f"{p}.attn_v_b.weight", a.n_head, v, rank)
    _w(w, f"{p}.attn_output.weight", a.n_embd, a.n_head * v)


def _mamba(w: GGUFWriter, i: int, a: Arch) -> None:
    """A Jamba Mamba layer (numpy shapes are ggml's reversed)."""
    p, x = f"blk.{i}", a.extra
    d_inner, d_state, d_conv, dt = x["ssm.inner_size"], x["ssm.state_size"], x["ssm.conv_kernel"], x["ssm.time_step_rank"]
    for n in ("attn_norm", "ffn_norm"):
        _w(w, f"{p}.{n}.weight", a.n_embd)
    _w(w, f"{p}.ssm_in.weight", 2 * d_inner, a.n_embd)
    _w(w, f"{p}.ssm_conv1d.weight", d_inner, d_conv)
    _w(w, f"{p}.ssm_conv1d.bias", d_inner)
    _w(w, f"{p}.ssm_x.weight", dt + 2 * d_state, d_inner)
    _w(w, f"{p}.ssm_dt_norm.weight", dt)
    _w(w, f"{p}.ssm_dt.weight", d_inner, dt)
    _w(w, f"{p}.ssm_dt.bias", d_inner)
    _w(w, f"{p}.ssm_b_norm.weight", d_state)
    _w(w, f"{p}.ssm_c_norm.weight", d_state)
    _w(w, f"{p}.ssm_a", d_inner, d_state)
    _w(w, f"{p}.ssm_d", d_inner)
    _w(w, f"{p}.ssm_out.weight", a.n_embd, d_inner)


def _mlp(w: GGUFWriter, i: int, a: Arch, n_ff: int) -> None:
    p = f"blk.{i}"
    _w(w, f"{p}.ffn_gate.weight", n_ff, a.n_embd)
    _w(w, f"{p}.ffn_up.weight", n_ff, a.n_embd)
    _w(w, f"{p}.ffn_down.weight", a.n_embd, n_ff)


def _extra_tensors(w: GGUFWriter, i: int, a: Arch) -> None:
    """What an architecture adds to a plain attention + MLP block."""
    p = f"blk.{i}"
    if a.arch in ("qwen3", "qwen3moe", "gemma3"):
        _w(w, f"{p}.attn_q_norm.weight", a.head_dim)
        _w(w, f"{p}.attn_k_norm.weight", a.head_dim)
    if a.arch in ("gemma2", "gemma3"):
        _w(w, f"{p}.post_attention_norm.weight", a.n_embd)
        _w(w, f"{p}.post_ffw_norm.weight", a.n_embd)
    if a.arch == "qwen2":
        kv = a.n_head_kv if isinstance(a.n_head_kv, int) else max(a.n_head_kv)
        _w(w, f"{p}.attn_q.bias", a.n_head * a.head_dim)
        _w(w, f"{p}.attn_k.bias", kv * a.head_dim)
        _w(w, f"{p}.attn_v.bias", kv * a.head_dim)


def write(a: Arch, path: Path) -> Path:
    if not a.n_embd:
        a.n_embd = a.n_head * a.head_dim
    w = GGUFWriter(str(path), a.arch)
    k = a.arch
    w.add_block_count(a.n_layers)
    w.add_context_length(a.context)
    w.add_embedding_length(a.n_embd)
    w.add_feed_forward_length(a.n_ff)
    w.add_head_count(a.n_head)
    w.add_head_count_kv(a.n_head_kv)
    w.add_key_length(a.head_dim)
    w.add_value_length(a.extra.get("attention.kv_lora_rank", a.head_dim))
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_dimension_count(a.rope or a.head_dim)
    w.add_vocab_size(VOCAB)
    if a.window:
        w.add_sliding_window(a.window)
    for key, value in a.extra.items():
        if isinstance(value, int):
            w.add_uint32(f"{k}.{key}", value)
        else:
            w.add_array(f"{k}.{key}", value)
    w.add_tokenizer_model("none")
    _w(w, "token_embd.weight", VOCAB, a.n_embd)
    _w(w, "output_norm.weight", a.n_embd)
    if a.arch != "gemma2":  # tied to token_embd
        _w(w, "output.weight", VOCAB, a.n_embd)
    kv = a.n_head_kv if isinstance(a.n_head_kv, list) else [a.n_head_kv] * a.n_layers
    ff = a.n_ff if isinstance(a.n_ff, list) else [a.n_ff] * a.n_layers
    for i in range(a.n_layers):
        if a.arch == "deepseek2":
            _mla(w, i, a)
        elif kv[i] == 0:
            _mamba(w, i, a)
        else:
            _attention(w, i, a, kv[i])
        _mlp(w, i, a, ff[i])
        _extra_tensors(w, i, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


# The architectures of the live suite (test_llamacpp.py) and of the release goldens (make_goldens.py).
MLA = {"attention.kv_lora_rank": 512, "attention.key_length_mla": 192, "attention.value_length_mla": 128,
       "attention.q_lora_rank": 32, "leading_dense_block_count": 2, "expert_feed_forward_length": 32,
       "expert_shared_count": 1}
SSM = {"ssm.conv_kernel": 4, "ssm.inner_size": 512, "ssm.state_size": 16, "ssm.time_step_rank": 16}
ARCHS = [
    Arch("llama", "llama", n_layers=2, n_head=4, n_head_kv=2, head_dim=128),
    Arch("qwen2", "qwen2", n_layers=3, n_head=4, n_head_kv=1, head_dim=64),
    Arch("qwen3", "qwen3", n_layers=2, n_head=8, n_head_kv=4, head_dim=128),
    Arch("gemma2", "gemma2", n_layers=4, n_head=4, n_head_kv=2, head_dim=128, window=256),
    Arch("gemma3", "gemma3", n_layers=7, n_head=4, n_head_kv=1, head_dim=128, window=512),
    Arch("deepseek2", "deepseek2", n_layers=2, n_head=4, n_head_kv=1, head_dim=576, n_embd=64, rope=64, extra=MLA),
    Arch("jamba", "jamba", n_layers=4, n_head=4, n_head_kv=[0, 0, 2, 0], head_dim=64, extra=SSM),
]
# Edge cases of the live suite only: a gemma3 GGUF whose sliding-window pattern key is 0, which
# llama.cpp reads as "every layer slides" (llama_hparams::set_swa_pattern: n_pattern == 0).
EDGES = [
    Arch("gemma3-swa0", "gemma3", n_layers=7, n_head=4, n_head_kv=1, head_dim=128, window=512,
         extra={"attention.sliding_window_pattern": 0}),
]
