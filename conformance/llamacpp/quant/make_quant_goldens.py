"""Goldens of llama.cpp's own quantizer and loader at real model shapes.

For each model (Llama-3.2-1B shapes; a Qwen3-30B-A3B-shaped MoE cut to a few layers) this
1. writes an F16 GGUF with random weights (numpy normal, fixed seed) and the real tensor list /
   metadata (tokenizer model "none" + <arch>.vocab_size: llama.cpp then adds that many dummy tokens,
   so n_vocab, token_embd and the logits buffer are real while the header stays tiny),
2. quantizes it with llama.cpp's quantizer (llama_model_quantize, no imatrix) to each file type,
   timing each,
3. reads every output back with gguf.GGUFReader (type, shape, n_bytes per tensor, file size) into
   goldens-<version>.json, and compares with the predictor (gguf_size.py, --predictor),
4. loads each output on CPU (n_gpu_layers 0, default load mode = mmap) and creates contexts at a
   few settings, recording every buffer / n_ctx line llama.cpp prints into buffers-<version>.json.

Run (about 1-2 h on 2 cores; big files go to --work and are deleted as soon as they are used):

    LLAMA_CPP_LIB_PATH=/tmp/cirun3/main/.build/llamacpp/build/bin \\
    PYTHONPATH=/tmp/cirun3/main/.build/llamacpp/llama_cpp_python-0.3.36 \\
    /tmp/cirun3/main/.venv-llamacpp/bin/python conformance/llamacpp/quant/make_quant_goldens.py \\
        --work /tmp/quant-work

kvcalc's own port is compared with the goldens by tests/test_quant_goldens.py (--predictor takes a
module with the research predictor's predict() to compare here too). The committed goldens hold the
Llama-3.2-1B-shaped model's 11 file types and the 8-layer Qwen3-30B-A3B-shaped model's Q4_0, Q4_K_S,
Q4_K_M, Q5_K_M, Q6_K, Q8_0 and IQ4_XS (its Q3_K_M, Q2_K, F16 and BF16 took too long to quantize on 2
cores: conformance/llamacpp/test_quantize.py's dry runs cover them at the full 48 layers).

Partial results are cached per (model, file type) under --work/results, so an interrupted run
resumes; --models / --ftypes restrict the run; --keep keeps the quantized GGUFs.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import json
import math
import os
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter

import llama_cpp as L

HERE = Path(__file__).resolve().parent
VERSION = "0.3.36"  # llama-cpp-python sdist whose vendored llama.cpp is built (libllama b11312)

# --------------------------------------------------------------------------------------------
# models

LLAMA32_1B = dict(
    name="llama-3.2-1b", arch="llama", n_layer=16, n_embd=2048, n_head=32, n_head_kv=8, head_dim=64,
    n_ff=8192, vocab=128256, context=131072, rope_theta=500000.0, rms_eps=1e-5, tied=True,
    rope_llama3=dict(factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=8192),
    note="Llama-3.2-1B shapes (meta-llama/Llama-3.2-1B config.json): 147 tensors, tied embeddings "
         "(no output.weight), rope_freqs.weight from the llama3 rope scaling as convert_hf_to_gguf writes it.",
)
QWEN3MOE = dict(
    name="qwen3moe-8l", arch="qwen3moe", n_layer=8, n_embd=2048, n_head=32, n_head_kv=4, head_dim=128,
    n_ff=6144, n_expert=128, n_expert_used=8, n_ff_exp=768, vocab=151936, context=40960,
    rope_theta=1000000.0, rms_eps=1e-6, tied=False,
    note="Qwen3-30B-A3B shapes (n_embd 2048, 32/4 heads x 128, 128 experts x 768, vocab 151936, "
         "untied output) with 8 layers instead of 48. 8 is the smallest n_layer for which every "
         "layer-index rule of llama-quant.cpp has a layer it applies to and one it does not "
         "(i < n/8 -> layer 0; use_more_bits -> 0, 3, 6, 7; i < n/16 -> none).",
)
MODELS = {m["name"]: m for m in (LLAMA32_1B, QWEN3MOE)}
FTYPES = ["Q4_0", "Q4_K_M", "Q4_K_S", "Q5_K_M", "Q6_K", "Q8_0", "IQ4_XS", "Q3_K_M", "Q2_K", "F16", "BF16"]

# Full-depth real configurations, only for the quantizer's dry run (types, no data): a sparse GGUF with
# the real tensor table, fed to llama_model_quantize with dry_run = true.
DRY = [
    dict(LLAMA32_1B, name="llama-3.2-1b", note="meta-llama/Llama-3.2-1B"),
    dict(LLAMA32_1B, name="llama-3.1-8b", n_layer=32, n_embd=4096, n_head=32, n_head_kv=8, head_dim=128,
         n_ff=14336, tied=False,
         rope_llama3=dict(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=8192),
         note="meta-llama/Llama-3.1-8B"),
    dict(QWEN3MOE, name="qwen3-30b-a3b", n_layer=48, context=40960, note="Qwen/Qwen3-30B-A3B"),
    dict(name="qwen2.5-0.5b", arch="qwen2", n_layer=24, n_embd=896, n_head=14, n_head_kv=2, head_dim=64,
         n_ff=4864, vocab=151936, context=32768, rope_theta=1000000.0, rms_eps=1e-6, tied=True,
         note="Qwen/Qwen2.5-0.5B (n_embd 896 is not a multiple of 256: the shape fallbacks)"),
    dict(name="mixtral-8x7b", arch="llama", n_layer=32, n_embd=4096, n_head=32, n_head_kv=8, head_dim=128,
         n_ff=14336, n_expert=8, n_expert_used=2, n_ff_exp=14336, vocab=32000, context=32768,
         rope_theta=1000000.0, rms_eps=1e-5, tied=False,
         note="mistralai/Mixtral-8x7B-v0.1 (n_expert == 8: the Mixtral special cases)"),
]
DRY_FTYPES = FTYPES + ["Q4_1", "Q5_0", "Q5_1", "Q5_K_S", "Q3_K_S", "Q3_K_L", "Q2_K_S", "IQ4_NL", "IQ3_M",
                       "IQ3_S", "IQ3_XS", "IQ3_XXS", "IQ2_M", "IQ2_S", "IQ2_XS", "IQ2_XXS", "IQ1_M", "IQ1_S",
                       "TQ1_0", "TQ2_0", "MXFP4_MOE"]


SEED = 1234


def tensor_list(m: dict) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, ne in ggml order, source type) as convert_hf_to_gguf would write them."""
    H, V, hd = m["n_embd"], m["vocab"], m["head_dim"]
    nq, nkv = m["n_head"] * hd, m["n_head_kv"] * hd
    T = [("token_embd.weight", (H, V), "F16")]
    if m.get("rope_llama3"):
        T.append(("rope_freqs.weight", (hd // 2,), "F32"))
    T.append(("output_norm.weight", (H,), "F32"))
    if not m["tied"]:
        T.append(("output.weight", (H, V), "F16"))
    for i in range(m["n_layer"]):
        p = f"blk.{i}."
        T += [(p + "attn_norm.weight", (H,), "F32"),
              (p + "attn_q.weight", (H, nq), "F16"),
              (p + "attn_k.weight", (H, nkv), "F16"),
              (p + "attn_v.weight", (H, nkv), "F16"),
              (p + "attn_output.weight", (nq, H), "F16")]
        if m["arch"] == "qwen3moe":
            T += [(p + "attn_q_norm.weight", (hd,), "F32"), (p + "attn_k_norm.weight", (hd,), "F32")]
        if m["arch"] == "qwen2":
            T += [(p + "attn_q.bias", (nq,), "F32"), (p + "attn_k.bias", (nkv,), "F32"),
                  (p + "attn_v.bias", (nkv,), "F32")]
        T.append((p + "ffn_norm.weight", (H,), "F32"))
        if m.get("n_expert"):
            E, F = m["n_expert"], m["n_ff_exp"]
            T += [(p + "ffn_gate_inp.weight", (H, E), "F32"),
                  (p + "ffn_gate_exps.weight", (H, F, E), "F16"),
                  (p + "ffn_up_exps.weight", (H, F, E), "F16"),
                  (p + "ffn_down_exps.weight", (F, H, E), "F16")]
        else:
            F = m["n_ff"]
            T += [(p + "ffn_gate.weight", (H, F), "F16"),
                  (p + "ffn_up.weight", (H, F), "F16"),
                  (p + "ffn_down.weight", (F, H), "F16")]
    return T


def llama3_rope_factors(m: dict) -> np.ndarray:
    """LlamaModel.generate_extra_tensors in convert_hf_to_gguf.py."""
    rs, dim, base = m["rope_llama3"], m["head_dim"], m["rope_theta"]
    freqs = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
    old = rs["original_max_position_embeddings"]
    low_wl, high_wl = old / rs["low_freq_factor"], old / rs["high_freq_factor"]
    out = []
    for f in freqs:
        wl = 2 * math.pi / f
        if wl < high_wl:
            out.append(1.0)
        elif wl > low_wl:
            out.append(rs["factor"])
        else:
            s = (old / wl - rs["low_freq_factor"]) / (rs["high_freq_factor"] - rs["low_freq_factor"])
            out.append(1 / ((1 - s) / rs["factor"] + s))
    return np.array(out, dtype=np.float32)


def _writer(m: dict, path: Path) -> GGUFWriter:
    w = GGUFWriter(str(path), m["arch"])
    a = m["arch"]
    w.add_name(m["name"] + "-random")
    w.add_file_type(1)  # LLAMA_FTYPE_MOSTLY_F16
    w.add_block_count(m["n_layer"])
    w.add_context_length(m["context"])
    w.add_embedding_length(m["n_embd"])
    w.add_feed_forward_length(m["n_ff"])
    w.add_head_count(m["n_head"])
    w.add_head_count_kv(m["n_head_kv"])
    w.add_key_length(m["head_dim"])
    w.add_value_length(m["head_dim"])
    w.add_rope_freq_base(m["rope_theta"])
    w.add_rope_dimension_count(m["head_dim"])
    w.add_layer_norm_rms_eps(m["rms_eps"])
    w.add_vocab_size(m["vocab"])
    if m.get("n_expert"):
        w.add_expert_count(m["n_expert"])
        w.add_expert_used_count(m["n_expert_used"])
        w.add_expert_feed_forward_length(m["n_ff_exp"])
    w.add_tokenizer_model("none")
    for name, ne, st in tensor_list(m):
        shape = tuple(reversed(ne))  # numpy order
        n = int(np.prod(ne))
        dt = np.float16 if st == "F16" else np.float32
        w.add_tensor_info(name, shape, np.dtype(dt), n * np.dtype(dt).itemsize)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    return w


def write_sparse(m: dict, path: Path) -> None:
    """The real tensor table and a hole for the data (a sparse file: no disk used). Only for dry runs."""
    w = _writer(m, path)
    fout = w.fout[0]
    w.write_padding(fout, fout.tell())
    size = fout.tell()
    for _, ne, st in tensor_list(m):
        size += GGUFWriter.ggml_pad(int(np.prod(ne)) * (2 if st == "F16" else 4), w.data_alignment)
    fout.truncate(size)
    w.close()


def write_source(m: dict, path: Path) -> None:
    """F16 GGUF, streamed tensor by tensor (never the whole model in memory)."""
    rng = np.random.default_rng(SEED)
    w = _writer(m, path)
    for name, ne, st in tensor_list(m):
        shape = tuple(reversed(ne))
        if name == "rope_freqs.weight":
            t = llama3_rope_factors(m)
        elif st == "F32" and name.endswith("_norm.weight"):
            t = (1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
        elif st == "F32":
            t = (0.02 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
        else:
            t = np.empty(shape, dtype=np.float16)
            flat = t.reshape(-1)
            step = 1 << 26
            for o in range(0, flat.size, step):
                k = min(step, flat.size - o)
                flat[o:o + k] = 0.02 * rng.standard_normal(k, dtype=np.float32)
        w.write_tensor_data(t)
        del t
    w.close()


# --------------------------------------------------------------------------------------------
# llama.cpp: log capture, quantize, load

LOG: list[str] = []


@L.llama_log_callback
def _log(level, text, user):  # noqa: ANN001
    LOG.append(text.decode(errors="replace"))


L.llama_log_set(_log, ctypes.c_void_p(0))
L.llama_backend_init()


def log_lines() -> list[str]:
    return "".join(LOG).splitlines()


def quantize(src: Path, dst: Path, ftype: str, nthread: int) -> dict:
    p = L.llama_model_quantize_default_params()
    p.ftype = getattr(L, f"LLAMA_FTYPE_MOSTLY_{ftype}")
    p.nthread = nthread
    LOG.clear()
    t0 = time.time()
    rc = L.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(p))
    dt = time.time() - t0
    lines = log_lines()
    summary = [ln for ln in lines if re.search(r"(model size|quant size|fallback|requires|ERROR|error)", ln)]
    return dict(rc=int(rc), seconds=round(dt, 1), nthread=nthread, log_summary=summary)


GGML_NAMES = {int(t): t.name for t in GGMLQuantizationType}
DRY_LINE = re.compile(r"\[\s*\d+/\s*\d+\]\s+(\S+)\s+- \[([^\]]*)\], type =\s*(\S+), size =\s*([\d.]+) MiB"
                      r"(?: ->\s*([\d.]+) MiB \((\S+)\))?")
_DUMMY_IMATRIX = (ctypes.c_float * 1)(1.0)


def dry_run(src: Path, ftype: str, imatrix: bool) -> dict:
    """llama_model_quantize with dry_run = true: the quantizer's per-tensor target types, no output.
    imatrix: pass a one-entry dummy importance matrix, which only makes qs.has_imatrix true (in a dry
    run the data is never used; remap_imatrix returns the name unchanged when nothing is pruned)."""
    p = L.llama_model_quantize_default_params()
    p.ftype = getattr(L, f"LLAMA_FTYPE_MOSTLY_{ftype}")
    p.dry_run = True
    p.nthread = 1
    if imatrix:
        arr = (L.llama_model_imatrix_data * 2)()
        arr[0].name, arr[0].data, arr[0].size = b"dummy", _DUMMY_IMATRIX, 1
        arr[1].name = None
        p.imatrix = arr
    LOG.clear()
    rc = L.llama_model_quantize(str(src).encode(), b"/dev/null", ctypes.byref(p))
    lines = log_lines()
    types = {}
    for ln in lines:
        mt = DRY_LINE.search(ln)
        if mt:
            types[mt.group(1)] = (mt.group(6) or mt.group(3)).upper()
    warn = [" ".join(ln.split()) for ln in lines
            if re.search(r"(required fallback|require|importance matrix|rror)", ln) and "ncols" not in ln]
    return dict(rc=int(rc), types=types, messages=warn)


def read_back(path: Path) -> dict:
    r = GGUFReader(str(path))
    tensors = [dict(name=t.name, type=GGML_NAMES[int(t.tensor_type)], ne=[int(x) for x in t.shape],
                    n_bytes=int(t.n_bytes), offset=int(t.data_offset)) for t in r.tensors]
    data_start = min(t["offset"] for t in tensors)
    for t in tensors:
        t["offset"] -= data_start
    return dict(file_bytes=path.stat().st_size, data_offset=data_start,
                header_bytes=data_start, n_tensors=len(tensors), tensors=tensors)


BUF = re.compile(r"(buffer size|^llama_context: n_|^llama_kv_cache: |^print_info: file (type|size)|"
                 r"repack|graph nodes|graph splits|^load_tensors: )")


NOISE = re.compile(r"(assigned to device|^llama_kv_cache: layer +\d+: dev|^repack: repack tensor)")
REPACK = re.compile(r"repack: repack tensor (\S+) with (\S+)")


def keep(lines: list[str]) -> list[str]:
    """The buffer / n_ctx lines, whitespace collapsed and progress dots stripped."""
    out = []
    for ln in lines:
        ln = " ".join(ln.lstrip(".").split())
        if BUF.search(ln) and not NOISE.search(ln):
            out.append(ln)
    return out


def repacked(lines: list[str]) -> dict:
    """Which tensors the CPU backend repacked (into the CPU_REPACK buffer), by repack kind."""
    out: dict = {}
    for ln in lines:
        mt = REPACK.search(ln)
        if mt:
            out.setdefault(mt.group(2), []).append(mt.group(1))
    return out


# context settings: (n_ctx, n_ubatch, flash_attn, n_seq_max); the first on every file, all of them on
# FULL_GRID file types (the KV / compute / output buffers do not depend on the weight types, which the
# first setting checks on every file).
CTX = [(4096, 512, "off", 1), (4096, 512, "on", 1), (16384, 512, "off", 1), (16384, 512, "on", 1),
       (16384, 512, "on", 4), (4096, 512, "off", 4), (4096, 256, "off", 1)]
FULL_GRID = {"Q4_0", "Q4_K_M", "F16"}
FA = {"on": 1, "off": 0, "auto": -1}


def load_and_contexts(path: Path, settings) -> dict:
    mp = L.llama_model_default_params()
    mp.n_gpu_layers = 0
    LOG.clear()
    t0 = time.time()
    model = L.llama_model_load_from_file(str(path).encode(), mp)
    t_load = time.time() - t0
    lines = log_lines()
    if not model:
        return dict(error=lines[-5:])
    out = dict(model_params=dict(n_gpu_layers=0, load_mode="AUTO (default: mmap)", use_extra_bufts=True),
               load_seconds=round(t_load, 1), model_lines=keep(lines), repacked=repacked(lines), contexts=[])
    for n_ctx, n_ubatch, fa, n_seq in settings:
        cp = L.llama_context_default_params()
        cp.n_ctx, cp.n_batch, cp.n_ubatch = n_ctx, 2048, n_ubatch
        cp.n_seq_max, cp.kv_unified, cp.flash_attn_type = n_seq, False, FA[fa]
        cp.n_threads = cp.n_threads_batch = 2
        LOG.clear()
        ctx = L.llama_init_from_model(model, cp)
        lines = log_lines()
        rec = dict(settings=dict(n_ctx=n_ctx, n_batch=2048, n_ubatch=n_ubatch, flash_attn=fa, n_seq_max=n_seq,
                                 kv_unified=False, type_k="f16", type_v="f16"),
                   lines=keep(lines))
        if not ctx:
            rec["error"] = lines[-5:]
        else:
            L.llama_free(ctx)
        out["contexts"].append(rec)
    L.llama_model_free(model)
    return out


# --------------------------------------------------------------------------------------------
# predictor comparison

def load_predictor(path: Path):
    spec = importlib.util.spec_from_file_location("gguf_size", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gguf_size"] = mod
    spec.loader.exec_module(mod)
    return mod


def compare(pred_mod, m: dict, ftype: str, got: dict) -> dict:
    T = [(n, ne) for n, ne, _ in tensor_list(m)]
    rows, total = pred_mod.predict(T, ftype, arch=m["arch"], n_layer=m["n_layer"], n_head=m["n_head"],
                                   n_head_kv=m["n_head_kv"], n_expert=m.get("n_expert", 0),
                                   has_imatrix=False, src_dtype="F16")
    pred = {name: (t, nb) for name, ne, t, nb in rows}
    mism = []
    for t in got["tensors"]:
        pt, pnb = pred[t["name"]]
        if pt != t["type"] or pnb != t["n_bytes"]:
            mism.append(dict(name=t["name"], ne=t["ne"], real=t["type"], real_bytes=t["n_bytes"],
                             predicted=pt, predicted_bytes=pnb))
    real_data = got["file_bytes"] - got["data_offset"]
    return dict(predicted_data_bytes=total, real_data_bytes=real_data, mismatches=mism)


# --------------------------------------------------------------------------------------------

def run_dry(work: Path, pred_mod, ftypes) -> dict:
    """Dry runs of every DRY model x file type x (no imatrix, imatrix); the types per tensor, bytes from
    gguf's block table; compared with the predictor."""
    from gguf.constants import GGML_QUANT_SIZES
    qs = {t.name: v for t, v in GGML_QUANT_SIZES.items()}
    out = {}
    for m in DRY:
        path = work / f"dry-{m['name']}.gguf"
        write_sparse(m, path)
        T = tensor_list(m)
        order = sorted(range(len(T)), key=lambda i: (int(T[i][0].split(".")[1]) if T[i][0].startswith("blk.") else -1, T[i][0]))
        T = [T[i] for i in order]  # the quantizer's order (weight_name_comparer)
        rec = dict(spec=m, tensors=[[n, list(ne)] for n, ne, _ in T], file_types={})
        for ft in ftypes:
            for imx in (False, True):
                r = dry_run(path, ft, imx)
                key = ft + ("+imatrix" if imx else "")
                if r["rc"] != 0 or len(r["types"]) != len(T):
                    rec["file_types"][key] = dict(rc=r["rc"], error=r["messages"][-3:], n_parsed=len(r["types"]))
                    continue
                types = [r["types"][n] for n, _, _ in T]
                nbytes = [int(np.prod(ne[1:])) * (ne[0] // qs[t][0]) * qs[t][1] for (n, ne, _), t in zip(T, types)]
                e = dict(types=types, tensor_bytes=sum(nbytes),
                         data_bytes=sum(GGUFWriter.ggml_pad(b, 32) for b in nbytes),
                         messages=r["messages"])
                if pred_mod:
                    try:
                        rows, total = pred_mod.predict([(n, ne) for n, ne, _ in T], ft, arch=m["arch"],
                                                       n_layer=m["n_layer"], n_head=m["n_head"], n_head_kv=m["n_head_kv"],
                                                       n_expert=m.get("n_expert", 0), has_imatrix=imx, src_dtype="F16")
                        pt = {name: t for name, _, t, _ in rows}
                        e["predictor_mismatches"] = [[n, list(ne), t, pt[n]] for (n, ne, _), t in zip(T, types) if pt[n] != t]
                        e["predictor_data_bytes"] = total
                    except Exception as ex:  # noqa: BLE001
                        e["predictor_error"] = repr(ex)
                rec["file_types"][key] = e
                print(f"[dry {m['name']}] {key}: {len(e.get('predictor_mismatches', []))} predictor mismatches", flush=True)
        path.unlink()
        out[m["name"]] = rec
    return out


def expected_bytes(src: Path, ftype: str) -> int:
    """Output size from the quantizer's own dry run (its 'quant size' line, MiB to 0.01)."""
    dry_run(src, ftype, False)
    for ln in log_lines():
        mt = re.search(r"quant size\s*=\s*([\d.]+) MiB", ln)
        if mt:
            return int(float(mt.group(1)) * 2**20)
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/quant-work"))
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument("--ftypes", nargs="*", default=FTYPES)
    ap.add_argument("--nthread", type=int, default=2)
    ap.add_argument("--predictor", type=Path, default=None)
    ap.add_argument("--mismatches", type=Path, default=Path("/tmp/quant-work/MISMATCHES.md"))
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--keep", action="store_true", help="keep the quantized GGUFs")
    ap.add_argument("--keep-source", action="store_true", help="keep the F16 source GGUFs")
    ap.add_argument("--no-load", action="store_true", help="skip the llama.cpp loads (buffers)")
    ap.add_argument("--no-dry", action="store_true", help="skip the full-depth dry runs")
    args = ap.parse_args()

    work = args.work
    (work / "results").mkdir(parents=True, exist_ok=True)
    pred_mod = load_predictor(args.predictor) if args.predictor and args.predictor.exists() else None
    if not args.no_dry and not (work / "results" / "dry.json").exists():
        (work / "results" / "dry.json").write_text(json.dumps(run_dry(work, pred_mod, DRY_FTYPES)))

    for mname in args.models:
        m = MODELS[mname]
        src = work / f"{mname}-F16-src.gguf"
        pending = [ft for ft in args.ftypes if not (work / "results" / f"{mname}-{ft}.json").exists()]
        if pending and not src.exists():
            t0 = time.time()
            write_source(m, src)
            print(f"[{mname}] wrote {src} ({src.stat().st_size} B) in {time.time() - t0:.0f}s", flush=True)
        if (work / "results" / f"{mname}-source.json").exists() is False and src.exists():
            rb = read_back(src)
            (work / "results" / f"{mname}-source.json").write_text(json.dumps(rb))
        for ft in pending:
            dst = work / f"{mname}-{ft}.gguf"
            need = expected_bytes(src, ft) + (3 << 30)
            free = shutil.disk_usage(work).free
            if free < need:
                # not enough room for the output: record the quantizer's dry run instead
                d = dry_run(src, ft, False)
                res = dict(model=mname, ftype=ft, skipped=f"disk: {free} B free < {need} B needed",
                           dry_run_types=d["types"])
                print(f"[{mname}] {ft}: skipped ({res['skipped']})", flush=True)
                (work / "results" / f"{mname}-{ft}.json").write_text(json.dumps(res))
                continue
            q = quantize(src, dst, ft, args.nthread)
            print(f"[{mname}] {ft}: rc={q['rc']} {q['seconds']}s", flush=True)
            res = dict(model=mname, ftype=ft, quantize=q)
            if q["rc"] == 0:
                res["gguf"] = read_back(dst)
                if pred_mod:
                    res["predictor"] = compare(pred_mod, m, ft, res["gguf"])
                    print(f"    file {res['gguf']['file_bytes']} B; predictor mismatches: "
                          f"{len(res['predictor']['mismatches'])}", flush=True)
                if not args.no_load:
                    settings = CTX if ft in FULL_GRID else CTX[:1]
                    res["load"] = load_and_contexts(dst, settings)
                    for ln in res["load"].get("model_lines", []):
                        if "model buffer size" in ln:
                            print("   ", ln, flush=True)
            (work / "results" / f"{mname}-{ft}.json").write_text(json.dumps(res))
            if not args.keep and dst.exists():
                dst.unlink()
        if not args.keep_source and src.exists() and all(
                (work / "results" / f"{mname}-{ft}.json").exists() for ft in args.ftypes):
            src.unlink()

    assemble(work, args)


def dumps(obj, indent: int = 0) -> str:
    """JSON with one line per flat object (a tensor row, a settings dict, a list of scalars)."""
    flat = (lambda v: not isinstance(v, (dict, list)) or
            (isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v)))
    if isinstance(obj, dict) and all(flat(v) for v in obj.values()) and len(json.dumps(obj)) < 200:
        return json.dumps(obj)
    if isinstance(obj, list) and all(flat(v) for v in obj) and len(json.dumps(obj)) < 120:
        return json.dumps(obj)
    pad, pad1 = " " * indent, " " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad1}{json.dumps(k)}: {dumps(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if not obj:
            return "[]"
        return "[\n" + ",\n".join(pad1 + dumps(v, indent + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj)


MIB = re.compile(r"(\S+) model buffer size = ([\d.]+) MiB")


def _by_suffix(names: list[str]) -> dict:
    """blk.N.attn_q.weight -> attn_q.weight: [layers]; whole-model tensors by their name."""
    out: dict = {}
    for n in names:
        parts = n.split(".")
        if parts[0] == "blk":
            out.setdefault(".".join(parts[2:]), []).append(int(parts[1]))
        else:
            out[n] = None
    return {k: (v if v is None else _ranges(v)) for k, v in out.items()}


def _ranges(xs: list[int]) -> str:
    xs, out, i = sorted(xs), [], 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[j] + 1:
            j += 1
        out.append(f"{xs[i]}" if i == j else f"{xs[i]}-{xs[j]}")
        i = j + 1
    return "layers " + ",".join(out)


def buffer_analysis(g: dict, load: dict) -> dict:
    """How the model buffers relate to the tensor table: CPU_REPACK = the repacked tensors' bytes;
    CPU_Mapped = the file span (first .. last byte) of the tensors that stay in the mapped file, which
    includes any repacked tensors lying between them (get_mapping_range, llama-model-loader.cpp)."""
    ts = g["tensors"]
    off, offs = 0, {}
    for t in ts:  # the quantizer writes tensors in this order, each padded to 32 bytes
        offs[t["name"]] = off
        off += GGUFWriter.ggml_pad(t["n_bytes"], 32)
    rep = {n for names in load.get("repacked", {}).values() for n in names}
    mapped = [t for t in ts if t["name"] not in rep]
    span = (max(offs[t["name"]] + t["n_bytes"] for t in mapped) - min(offs[t["name"]] for t in mapped)) if mapped else 0
    printed = {mt.group(1): float(mt.group(2)) for ln in load.get("model_lines", []) for mt in [MIB.search(ln)] if mt}
    rep_bytes = sum(t["n_bytes"] for t in ts if t["name"] in rep)
    out = dict(tensor_bytes=sum(t["n_bytes"] for t in ts), data_bytes_padded=off,
               repacked_tensors=len(rep), repacked_bytes=rep_bytes,
               repacked_kinds={k: len(v) for k, v in load.get("repacked", {}).items()},
               mapped_span_bytes=span, printed_MiB=printed)
    if "offset" in ts[0]:
        out["offsets_as_computed"] = all(offs[t["name"]] == t["offset"] for t in ts)
    out["CPU_REPACK_matches_repacked_bytes"] = (round(rep_bytes / 2**20, 2) == printed.get("CPU_REPACK", 0.0))
    out["CPU_Mapped_matches_span"] = (round(span / 2**20, 2) == printed.get("CPU_Mapped"))
    return out


def _dry_compact(v: dict) -> dict:
    shapes: dict = {}
    for n, ne in v["tensors"]:
        key = "blk." + ".".join(n.split(".")[2:]) if n.startswith("blk.") else n
        shapes.setdefault(key, ne)
    fts: dict = {}
    for ft, e in v["file_types"].items():
        if "types" not in e:
            fts[ft] = e
            continue
        per: dict = {}
        for (n, _), t in zip(v["tensors"], e["types"]):
            if n.startswith("blk."):
                per.setdefault(".".join(n.split(".")[2:]), {}).setdefault(t, []).append(int(n.split(".")[1]))
            else:
                per[n] = t
        types = {k: (next(iter(x)) if isinstance(x, dict) and len(x) == 1 else
                     {t: _ranges(ls)[7:] for t, ls in x.items()} if isinstance(x, dict) else x)
                 for k, x in per.items()}
        out = dict(tensor_bytes=e["tensor_bytes"], data_bytes=e["data_bytes"], types=types)
        msg = [m for m in e.get("messages", []) if "fallback" in m or "require" in m]
        if msg:
            out["messages"] = msg
        base = ft.replace("+imatrix", "")
        if ft.endswith("+imatrix") and isinstance(fts.get(base), dict) and fts[base].get("types") == types:
            out = f"same as {base}"
        fts[ft] = out
    return dict(spec=v["spec"], n_tensors=len(v["tensors"]), shapes=shapes, file_types=fts)


def assemble(work: Path, args) -> None:
    goldens = dict(
        llama_cpp_python=VERSION,
        libllama="b11312 (Release, CPU)",
        note="llama.cpp's quantizer (llama_model_quantize, no imatrix, default params) applied to F16 "
             "GGUFs with random weights at real model shapes; each output read back with gguf.GGUFReader. "
             "ne is in ggml order (ne0 = row length). file_bytes includes a tiny header (tokenizer 'none' "
             "+ vocab_size), unlike real files whose tokenizer arrays add ~6-8 MB; data_bytes = file_bytes - "
             "header_bytes = tensor bytes with each tensor padded to 32. quantize_seconds: wall time with "
             "nthread threads on a shared 2-core host.",
        seed=SEED, models={})
    buffers = dict(
        llama_cpp_python=VERSION,
        libllama="b11312 (Release, CPU)",
        note="Every buffer / n_ctx line llama.cpp printed when loading each quantized file on CPU "
             "(n_gpu_layers 0, default load mode = mmap, use_extra_bufts on = CPU repack) and creating "
             "contexts (type_k/v f16, kv_unified off, n_batch 2048, n_threads 2). Whitespace collapsed; the "
             "per-layer 'assigned to device' / 'kv_cache: layer N: dev' lines are dropped; 'repacked' lists the "
             "tensors the CPU backend repacked (ggml-cpu/repack.cpp, depends on the host's CPU features).",
        host=cpu_desc(), models={})
    mism = []
    for mname, m in MODELS.items():
        src = work / "results" / f"{mname}-source.json"
        if not src.exists():
            continue
        gm = dict(spec=m, file_types={})
        if src.exists():
            s = json.loads(src.read_text())
            gm["source"] = dict(file_bytes=s["file_bytes"], header_bytes=s["header_bytes"], n_tensors=len(s["tensors"]),
                                note="F16 for every 2-D+ weight, F32 for norms / rope_freqs / ffn_gate_inp")
        bm = {}
        for ft in FTYPES:
            f = work / "results" / f"{mname}-{ft}.json"
            if not f.exists():
                continue
            r = json.loads(f.read_text())
            if "skipped" in r:
                from gguf.constants import GGML_QUANT_SIZES
                qs = {t.name: v for t, v in GGML_QUANT_SIZES.items()}
                rows = []
                for t in s["tensors"]:
                    ty, ne = r["dry_run_types"][t["name"]], t["ne"]
                    rows.append(dict(name=t["name"], type=ty, ne=ne,
                                     n_bytes=int(np.prod(ne[1:])) * (ne[0] // qs[ty][0]) * qs[ty][1]))
                gm["file_types"][ft] = dict(skipped=r["skipped"], note="types from the quantizer's dry run, "
                                            "bytes from gguf's block table; no file written or loaded", tensors=rows)
                continue
            e = dict(quantize_rc=r["quantize"]["rc"], quantize_seconds=r["quantize"]["seconds"],
                     nthread=r["quantize"]["nthread"], quantize_log=r["quantize"]["log_summary"])
            if "gguf" in r:
                g = r["gguf"]
                e.update(file_bytes=g["file_bytes"], header_bytes=g["header_bytes"],
                         data_bytes=g["file_bytes"] - g["header_bytes"],
                         tensor_bytes=sum(t["n_bytes"] for t in g["tensors"]),
                         tensors=[{k: t[k] for k in ("name", "type", "ne", "n_bytes")} for t in g["tensors"]])
            if "predictor" in r:
                p = r["predictor"]
                e["predictor"] = dict(predicted_data_bytes=p["predicted_data_bytes"],
                                      n_mismatches=len(p["mismatches"]))
                if p["mismatches"] or p["predicted_data_bytes"] != p["real_data_bytes"]:
                    mism.append(dict(model=mname, ftype=ft, **p))
            gm["file_types"][ft] = e
            if "load" in r:
                ld = dict(r["load"])
                ld["repacked"] = {k: dict(count=len(v), by_tensor=_by_suffix(v)) for k, v in ld.get("repacked", {}).items()}
                if "gguf" in r:
                    ld["analysis"] = buffer_analysis(r["gguf"], r["load"])
                bm[ft] = ld
        goldens["models"][mname] = gm
        buffers["models"][mname] = bm
    dry = work / "results" / "dry.json"
    if dry.exists():
        d = json.loads(dry.read_text())
        goldens["dry_run"] = dict(
            note="llama_model_quantize with dry_run = true on sparse F16 GGUFs holding the real full-depth "
                 "tensor tables: the quantizer's target type per tensor (parsed from its log), in the order of "
                 "'tensors' (the quantizer's order); bytes from gguf's block table. '+imatrix': a dummy "
                 "one-entry imatrix was passed, which only sets has_imatrix (its data is never used in a "
                 "dry run). Entries with 'error' did not run (e.g. types the quantizer refuses).",
            format="shapes: ne per tensor ('blk.' = every layer). types: per tensor, either one type for every "
                   "layer or {type: 'layers a-b,c'}. A '+imatrix' entry that equals the plain one is the string "
                   "'same as <ftype>'.",
            models={k: _dry_compact(v) for k, v in d.items()})
        for k, v in d.items():
            for ft, e in v["file_types"].items():
                if e.get("predictor_mismatches") or e.get("predictor_error") or (
                        "predictor_data_bytes" in e and e["predictor_data_bytes"] != e["data_bytes"]):
                    mism.append(dict(model=k, ftype=ft, dry_run=True,
                                     predicted_data_bytes=e.get("predictor_data_bytes"),
                                     real_data_bytes=e.get("data_bytes"),
                                     error=e.get("predictor_error"),
                                     mismatches=[dict(name=a, ne=b, real=c, predicted=dd)
                                                 for a, b, c, dd in e.get("predictor_mismatches", [])]))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"goldens-{VERSION}.json").write_text(dumps(goldens) + "\n")
    (args.out / f"buffers-{VERSION}.json").write_text(dumps(buffers) + "\n")
    if args.mismatches:
        args.mismatches.parent.mkdir(parents=True, exist_ok=True)
        args.mismatches.with_suffix(".raw.json").write_text(dumps(mism) + "\n")
    print(f"wrote goldens/buffers; {len(mism)} (model, ftype) with predictor differences", flush=True)


def cpu_desc() -> str:
    try:
        txt = Path("/proc/cpuinfo").read_text()
        name = re.search(r"model name\s*:\s*(.*)", txt).group(1)
        flags = re.search(r"flags\s*:\s*(.*)", txt).group(1).split()
        keep_f = [f for f in flags if re.match(r"(avx|fma|f16c|amx|bmi2)", f)]
        return f"{name}; {' '.join(keep_f)}; {os.cpu_count()} cpus"
    except Exception:  # noqa: BLE001
        return "unknown"


if __name__ == "__main__":
    main()
