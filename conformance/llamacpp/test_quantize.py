"""Conformance: llama.cpp's own quantizer (llama_model_quantize of llama-cpp-python 0.3.36, in its
dry-run mode: the type of every tensor, no data written) against kvcalc's port of it
(kvcalc.models.gguf_quant), for every file type, at the full shapes of real models: GGUFs with the
tensor table convert_hf_to_gguf writes and a hole for the data (sparse files), so Llama-3-70B's
80 layers (the "70B" rule) and Mixtral's 8 experts (the n_expert == 8 rules) cost no disk.
conformance/llamacpp/quant/goldens-0.3.36.json records real quantized files too."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter

from kvcalc.models.gguf_quant import FILE_TYPES, NEEDS_IMATRIX
from kvcalc.models.gguf_tensors import ARCH, config_tensors, from_config
from kvcalc.models.registry import load_model

from .real_shapes import Shape, hparams
from .test_llamacpp import LOG, L

MODELS = ("llama3.1-8b", "llama3.2-1b", "llama3-70b", "qwen3-30b-a3b", "mixtral-8x7b", "qwen2.5-7b", "qwen3-8b")
TYPES = [t for t in FILE_TYPES if t not in NEEDS_IMATRIX and t not in ("f32", "tq1_0", "tq2_0", "mxfp4_moe")]
LINE = re.compile(r"\[\s*\d+/\s*\d+\]\s+(\S+)\s+- \[([^\]]*)\], type =\s*(\S+), size =\s*([\d.]+) MiB"
                  r"(?: ->\s*([\d.]+) MiB \((\S+)\))?")
_IMATRIX = (ctypes.c_float * 1)(1.0)


def write_sparse(name: str, path: Path) -> Path:
    """The GGUF of `name` with f16 weights: metadata, the tensor table, and a hole for the data."""
    m = load_model(name)
    moe = m.moe
    w = GGUFWriter(str(path), ARCH[m.family])
    w.add_file_type(1)
    hparams(w, Shape(name, ARCH[m.family], m.n_layers, m.hidden_size, m.n_heads, m.n_kv_heads, m.head_dim,
                     m.intermediate_size, m.vocab_size, moe.n_experts if moe else 0, moe.n_experts_per_tok if moe else 0,
                     moe.expert_intermediate_size if moe else 0, context=m.max_context or 4096))
    w.add_tokenizer_model("none")
    size = 0
    for tname, ne in config_tensors(m):
        f32 = len(ne) == 1 or "ffn_gate_inp" in tname
        n = int(np.prod(ne)) * (4 if f32 else 2)
        w.add_tensor_info(tname, tuple(reversed(ne)), np.dtype(np.float32 if f32 else np.float16), n)
        size += GGUFWriter.ggml_pad(n, w.data_alignment)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    fout = w.fout[0]
    w.write_padding(fout, fout.tell())
    fout.truncate(fout.tell() + size)
    w.close()
    return path


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sparse")
    return {name: write_sparse(name, folder / f"{name}.gguf") for name in MODELS}


def dry_run(src: Path, ftype: str, imatrix: bool) -> dict[str, str]:
    """Each tensor's type, as llama_model_quantize(dry_run) prints it."""
    p = L.llama_model_quantize_default_params()
    p.ftype = getattr(L, f"LLAMA_FTYPE_MOSTLY_{ftype.upper()}")
    p.dry_run, p.nthread = True, 1
    if imatrix:  # a one-entry importance matrix: only makes the quantizer's has_imatrix true in a dry run
        arr = (L.llama_model_imatrix_data * 2)()
        arr[0].name, arr[0].data, arr[0].size = b"dummy", _IMATRIX, 1
        arr[1].name = None
        p.imatrix = arr
    LOG.clear()
    assert L.llama_model_quantize(str(src).encode(), b"/dev/null", ctypes.byref(p)) == 0, "".join(LOG[-5:])
    types = {}
    for line in "".join(LOG).splitlines():
        found = LINE.search(line)
        if found:
            types[found.group(1)] = (found.group(6) or found.group(3)).upper()
    return types


CASES = [(m, t, False) for m in MODELS for t in TYPES] + \
        [(m, t, True) for m in ("llama3.1-8b", "qwen3-30b-a3b") for t in ("q4_0", "q5_0", "iq4_xs", "iq4_nl", "iq3_xxs")]


@pytest.mark.parametrize("name, ftype, imatrix", CASES, ids=lambda v: str(v))
def test_every_tensor_as_the_quantizer_types_it(sources, name, ftype, imatrix):
    theirs = dry_run(sources[name], ftype, imatrix)
    ours = {t.name: t.ggml_type for t in from_config(load_model(name), ftype, imatrix).tensors}
    assert len(theirs) == len(ours)
    assert {k: v for k, v in ours.items() if theirs.get(k) != v} == {}
