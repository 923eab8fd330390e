"""Zero-weight GGUFs at real models' shapes, written as sparse files (the tensor data is a hole),
for conformance/llamacpp/test_buffers.py.

Only metadata + tensor infos are written; the data section is created by truncate(), so an 8B-shaped
file costs a few MB of disk. llama.cpp mmaps it and reads zeros. A real SPM vocabulary of n_vocab
entries is written so that llama_vocab::n_tokens() (used for the output buffer) equals n_vocab.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGUFWriter, GGMLQuantizationType as Q
from gguf.constants import GGML_QUANT_SIZES


@dataclass
class Shape:
    name: str
    arch: str = "llama"
    n_layer: int = 2
    n_embd: int = 2048
    n_head: int = 32
    n_head_kv: int = 8
    head_dim: int = 64
    n_ff: int = 8192
    n_vocab: int = 128256
    n_expert: int = 0
    n_expert_used: int = 0
    n_ff_exp: int = 0
    tied: bool = False  # omit output.weight (tied embeddings)
    context: int = 131072


def _nbytes(shape_np: tuple[int, ...], qt: Q) -> int:
    blk, tsz = GGML_QUANT_SIZES[qt]
    n = int(np.prod(shape_np))
    assert shape_np[-1] % blk == 0, (shape_np, qt)
    return n // blk * tsz


def hparams(w: GGUFWriter, s: Shape) -> None:
    """The hyper-parameters llama.cpp's loader (and its quantizer) read, for `s`."""
    w.add_block_count(s.n_layer)
    w.add_context_length(s.context)
    w.add_embedding_length(s.n_embd)
    w.add_feed_forward_length(s.n_ff)
    w.add_head_count(s.n_head)
    w.add_head_count_kv(s.n_head_kv)
    w.add_key_length(s.head_dim)
    w.add_value_length(s.head_dim)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_dimension_count(s.head_dim)
    w.add_rope_freq_base(500000.0)
    w.add_vocab_size(s.n_vocab)
    if s.n_expert:
        w.add_expert_count(s.n_expert)
        w.add_expert_used_count(s.n_expert_used)
        w.add_expert_feed_forward_length(s.n_ff_exp)


def write(s: Shape, path: Path, wtype: Q = Q.F16) -> Path:
    w = GGUFWriter(str(path), s.arch)
    hparams(w, s)
    # SPM vocabulary: <unk>, <s>, </s>, then byte-ish filler tokens
    toks = ["<unk>", "<s>", "</s>"] + [f"t{i}" for i in range(3, s.n_vocab)]
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores([0.0] * s.n_vocab)
    w.add_token_types([2, 3, 3] + [1] * (s.n_vocab - 3))
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)

    total = 0

    def t(name: str, *shape_ggml: int, qt: Q | None = None) -> None:
        nonlocal total
        qt = wtype if qt is None else qt
        if len(shape_ggml) == 1:
            qt = Q.F32  # norms are F32 in real files
        shape_np = tuple(reversed(shape_ggml))
        nb = _nbytes(shape_np, qt)
        w.add_tensor_info(name, shape_np, np.dtype(np.float32), nb, raw_dtype=qt)  # dtype unused when raw_dtype is given (shape = elements)
        total += GGUFWriter.ggml_pad(nb, w.data_alignment)

    E, H, KV, D, V = s.n_embd, s.n_head, s.n_head_kv, s.head_dim, s.n_vocab
    t("token_embd.weight", E, V)
    t("output_norm.weight", E)
    if not s.tied:
        t("output.weight", E, V)
    for i in range(s.n_layer):
        p = f"blk.{i}"
        t(f"{p}.attn_norm.weight", E)
        t(f"{p}.ffn_norm.weight", E)
        t(f"{p}.attn_q.weight", E, H * D)
        t(f"{p}.attn_k.weight", E, KV * D)
        t(f"{p}.attn_v.weight", E, KV * D)
        t(f"{p}.attn_output.weight", H * D, E)
        if s.arch in ("qwen3", "qwen3moe"):
            t(f"{p}.attn_q_norm.weight", D)
            t(f"{p}.attn_k_norm.weight", D)
        if s.n_expert:
            t(f"{p}.ffn_gate_inp.weight", E, s.n_expert, qt=Q.F32)
            t(f"{p}.ffn_gate_exps.weight", E, s.n_ff_exp, s.n_expert)
            t(f"{p}.ffn_up_exps.weight", E, s.n_ff_exp, s.n_expert)
            t(f"{p}.ffn_down_exps.weight", s.n_ff_exp, E, s.n_expert)
        else:
            t(f"{p}.ffn_gate.weight", E, s.n_ff)
            t(f"{p}.ffn_up.weight", E, s.n_ff)
            t(f"{p}.ffn_down.weight", s.n_ff, E)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    fout = w.fout[0]
    w.write_padding(fout, fout.tell())
    start = fout.tell()
    fout.flush()
    fout.truncate(start + total)  # sparse zero data
    w.close()
    return path


LLAMA1B = Shape("llama-3.2-1b", "llama", n_layer=2, n_embd=2048, n_head=32, n_head_kv=8, head_dim=64, n_ff=8192,
                n_vocab=128256, tied=True)
LLAMA8B = Shape("llama-3.1-8b", "llama", n_layer=2, n_embd=4096, n_head=32, n_head_kv=8, head_dim=128, n_ff=14336,
                n_vocab=128256)
QWEN3MOE = Shape("qwen3-30b-a3b", "qwen3moe", n_layer=2, n_embd=2048, n_head=32, n_head_kv=4, head_dim=128,
                 n_ff=6144, n_vocab=151936, n_expert=128, n_expert_used=8, n_ff_exp=768)
SHAPES = (LLAMA1B, LLAMA8B, QWEN3MOE)
