"""Goldens of llama.cpp's own KV-cache allocation, one file per llama-cpp-python release.

Each llama-cpp-python release vendors a different llama.cpp, and the rules by which llama.cpp
sizes its KV cache changed between them (n_ctx padding, per-sequence streams, a separate SWA
cache, MLA rows, recurrent state). This script records, for one release, what that release's
llama.cpp allocates for the tiny zero-weight GGUFs of conformance/llamacpp (tiny_gguf.py, the
architectures of test_llamacpp.py's ARCHS, plus a pre-MLA DeepSeek GGUF) over a grid of n_ctx,
sequence slots, kv_unified, swa_full, flash attention and K/V types: every KV-related line
llama.cpp logged, verbatim, the numbers parsed from them, or its refusal.

It writes conformance/llamacpp/goldens/llama-cpp-python-<release>.json. libllama is built from
the release's sdist (only the `llama` target, at -O0: sizes do not depend on optimisation) and
driven through the sdist's own ctypes bindings, as in the live suite:

    python3 -m venv .venv-llamacpp-goldens
    .venv-llamacpp-goldens/bin/pip install -r conformance/requirements-llamacpp.txt
    eval "$(.venv-llamacpp-goldens/bin/python conformance/llamacpp/make_goldens.py --release 0.3.16 --build)"
    .venv-llamacpp-goldens/bin/python conformance/llamacpp/make_goldens.py --release 0.3.16

`--build` downloads the sdist under .build/llamacpp-<release>/, builds libllama there and prints
the PYTHONPATH / LLAMA_CPP_LIB_PATH exports; it is idempotent. Each context is created in a
forked child, so an abort inside llama.cpp (a GGML_ASSERT) is recorded as a row, not a crash.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from gguf import GGUFWriter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tiny_gguf  # noqa: E402  (the live suite's writer, reused as is)
from tiny_gguf import ARCHS, Arch, _mlp, _w  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GOLDENS = Path(__file__).resolve().parent / "goldens"

# DeepSeek-V2 as convert_hf_to_gguf wrote it before llama.cpp's MLA (PR #12801): no
# key_length_mla / value_length_mla, key_length = qk_nope + qk_rope (192), value_length =
# v_head_dim (128), head_count_kv = head_count, and the unsplit attn_kv_b tensor.
PRE_MLA_EXTRA = {"attention.kv_lora_rank": 512, "attention.q_lora_rank": 32, "leading_dense_block_count": 2,
                 "expert_feed_forward_length": 32, "expert_shared_count": 1}
PRE_MLA = Arch("deepseek2-premla", "deepseek2", n_layers=2, n_head=4, n_head_kv=4, head_dim=192, n_embd=64, rope=64,
               extra=PRE_MLA_EXTRA)
PRE_MLA_V = 128  # value_length (v_head_dim)
# Older llama.cpp requires float keys of deepseek2 that tiny_gguf cannot write (ints and arrays
# only): expert_weights_scale (up to 0.3.16's copy) and rope.scaling.yarn_log_multiplier (0.3.8's).
# Both DeepSeek GGUFs get them here, for every release; neither touches the cache (no expert
# layers; the multiplier only scales attention).
FLOATS = {"deepseek2": {"expert_weights_scale": 1.0, "rope.scaling.yarn_log_multiplier": 0.1}}
# Gemma 3 ties its output to token_embd (real Gemma 3 GGUFs have no output.weight); 0.3.8's
# llama.cpp refuses the extra tensor ("wrong number of tensors"), later ones ignore it.
OMIT = {"gemma3": ("output.weight",)}

# llama.cpp build numbers (bNNNN = `git rev-list --count <commit>`, what cmake/build-info.cmake and
# `llama-server --version` print) of the vendored commits, counted on the kmbandy/llama.cpp fork, a
# non-shallow clone holding upstream's history to 0253fb21f (b9187); the first b-tag containing 4227c9be4
# is b6173. 0c1e57098 (0.3.36) is newer than that history: unknown here.
BUILD_NUMBERS = {"7841fc723e059d1fd9640e5c0ef19050fcc7c698": 4875, "8733e0cf6eefc7c7752297cc22d0836706f4222c": 5308,
                 "79e0b68c178656bb0632cb8602d2940b755077f8": 5904, "4227c9be4268ac844921b90f31595f81236bd317": 6170,
                 "49bfddeca18e62fa3d39114a23e9fcbdf8a22388": 8475}

N_CTX = (1000, 4096, 5000)
N_SEQ = (1, 3, 4)
# (type_k, type_v, flash attention): f16 both ways, quantized caches with flash attention on
TYPES = (("f16", "f16", False), ("f16", "f16", True), ("q8_0", "q8_0", True), ("q4_0", "q4_0", True))
# and the one combination llama.cpp refuses outright (quantized V without flash attention), probed once per arch
REFUSAL_PROBE = ("q8_0", "q8_0", False)
GGML = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8}

# every line from these functions is KV-related (the per-layer "layer N: ..." debug lines aside)
KV_FN = re.compile(r"^(llama_kv_cache\w*|llama_memory_\w*|create_memory)\s*:")
CTX_FN = re.compile(r"^(llama_context|llama_init_from_model|llama_new_context_with_model)\s*:")
CTX_KEYS = re.compile(r"^\w+: +(n_ctx|n_ctx_per_seq|n_ctx_seq|n_batch|n_ubatch|flash_attn|kv_unified|swa_full)"
                      r" += (.*)$")
PER_LAYER = re.compile(r"^\w+: +layer +\d+: ")
KV_WORDS = re.compile(r"KV|kv|flash|Flash|SWA|swa|V cache|K cache|cache", re.I)

SIZE = re.compile(r"^(?P<fn>\w+): size = +(?P<mib>[\d.]+) MiB \( *(?P<cells>\d+) cells, +(?P<layers>\d+) layers,"
                  r" +(?P<seqs>[\d/]+) seqs(?: +(?P<rs>\d+) rs_seq)?\),"
                  r" (?P<kn>[KR]) \((?P<kt>\w+)\): +(?P<kmib>[\d.]+) MiB,"
                  r" (?P<vn>[VS]) \((?P<vt>\w+)\): +(?P<vmib>[\d.]+) MiB"
                  r"(?:, (?P<pn>P) \((?P<pt>\w+)\): +(?P<pmib>[\d.]+) MiB)?")
SELF = re.compile(r"^(?P<fn>\w+): KV self size += +(?P<mib>[\d.]+) MiB, K \((?P<kt>\w+)\): +(?P<kmib>[\d.]+) MiB,"
                  r" V \((?P<vt>\w+)\): +(?P<vmib>[\d.]+) MiB")
KV_SIZE = re.compile(r"^(?P<fn>\w+): kv_size = (?P<cells>\d+),.*n_layer = (?P<layers>\d+)"
                     r"(?:, can_shift = (?P<shift>\d+))?(?:, padding = (?P<pad>\d+))?")
CREATING = re.compile(r"creating +(?P<which>non-SWA|SWA) KV cache, size = (?P<cells>\d+) cells")
CACHE_FIELDS = ["kind", "cells", "layers", "seqs", "mib", "k_type", "k_mib", "v_type", "v_mib"]


# --------------------------------------------------------------------------------------------
# building libllama from the sdist


def build(release: str) -> None:
    folder = ROOT / ".build" / f"llamacpp-{release}"
    src = folder / f"llama_cpp_python-{release}"
    out = folder / "build"
    lib = out / "bin" / "libllama.so"
    if not lib.exists():
        folder.mkdir(parents=True, exist_ok=True)
        if not src.is_dir():
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                            f"llama-cpp-python=={release}", "-d", str(folder)], check=True, stdout=sys.stderr)
            subprocess.run(["tar", "xzf", str(folder / f"llama_cpp_python-{release}.tar.gz"), "-C", str(folder)],
                           check=True)
        flags = ["-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_C_FLAGS_RELEASE=-O0", "-DCMAKE_CXX_FLAGS_RELEASE=-O0",
                 "-DBUILD_SHARED_LIBS=ON", "-DGGML_NATIVE=OFF", "-DGGML_OPENMP=OFF", "-DLLAMA_BUILD_TESTS=OFF",
                 "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_TOOLS=OFF",
                 "-DLLAMA_CURL=OFF"]
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        subprocess.run(["cmake", *generator, "-S", str(src / "vendor" / "llama.cpp"), "-B", str(out), *flags],
                       check=True, stdout=sys.stderr)
        subprocess.run(["cmake", "--build", str(out), "--target", "llama", f"-j{os.cpu_count() or 2}"], check=True,
                       stdout=sys.stderr)
    print(f"export PYTHONPATH={src} LLAMA_CPP_LIB_PATH={out / 'bin'}")


# --------------------------------------------------------------------------------------------
# the GGUFs


class _Writer(GGUFWriter):
    """tiny_gguf's writer, plus the float metadata of FLOATS (tiny_gguf writes ints and arrays only), less the
    tensors of OMIT."""

    def add_tensor(self, name, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        if name in OMIT.get(self.arch, ()):
            return
        super().add_tensor(name, *args, **kwargs)

    def write_header_to_file(self, *args, **kwargs):  # noqa: ANN002, ANN003
        for key, value in FLOATS.get(self.arch, {}).items():
            self.add_float32(f"{self.arch}.{key}", value)
        return super().write_header_to_file(*args, **kwargs)


def write_gguf(a: Arch, path: Path) -> Path:
    if a is PRE_MLA:
        return write_pre_mla(a, path)
    saved = tiny_gguf.GGUFWriter
    tiny_gguf.GGUFWriter = _Writer
    try:
        return tiny_gguf.write(a, path)
    finally:
        tiny_gguf.GGUFWriter = saved


def write_pre_mla(a: Arch, path: Path) -> Path:
    """A DeepSeek-V2 GGUF of the pre-MLA converters, with tiny_gguf's tensor helpers."""
    x, rope = a.extra, a.rope
    nope, rank, q_rank = a.head_dim - rope, x["attention.kv_lora_rank"], x["attention.q_lora_rank"]
    w = _Writer(str(path), a.arch)
    w.add_block_count(a.n_layers)
    w.add_context_length(a.context)
    w.add_embedding_length(a.n_embd)
    w.add_feed_forward_length(a.n_ff)
    w.add_head_count(a.n_head)
    w.add_head_count_kv(a.n_head_kv)
    w.add_key_length(a.head_dim)
    w.add_value_length(PRE_MLA_V)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_dimension_count(rope)
    w.add_vocab_size(tiny_gguf.VOCAB)
    for key, value in x.items():
        w.add_uint32(f"{a.arch}.{key}", value)
    w.add_tokenizer_model("none")
    _w(w, "token_embd.weight", tiny_gguf.VOCAB, a.n_embd)
    _w(w, "output_norm.weight", a.n_embd)
    _w(w, "output.weight", tiny_gguf.VOCAB, a.n_embd)
    for i in range(a.n_layers):
        p = f"blk.{i}"
        for n in ("attn_norm", "ffn_norm"):
            _w(w, f"{p}.{n}.weight", a.n_embd)
        _w(w, f"{p}.attn_q_a.weight", q_rank, a.n_embd)
        _w(w, f"{p}.attn_q_a_norm.weight", q_rank)
        _w(w, f"{p}.attn_q_b.weight", a.n_head * a.head_dim, q_rank)
        _w(w, f"{p}.attn_kv_a_mqa.weight", rank + rope, a.n_embd)
        _w(w, f"{p}.attn_kv_a_norm.weight", rank)
        _w(w, f"{p}.attn_kv_b.weight", a.n_head * (nope + PRE_MLA_V), rank)
        _w(w, f"{p}.attn_output.weight", a.n_embd, a.n_head * PRE_MLA_V)
        _mlp(w, i, a, a.n_ff)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def gguf_metadata(a: Arch) -> dict:
    """What a test needs to rebuild the model: the tiny_gguf Arch fields, and what differs from tiny_gguf.write."""
    out = {"arch_fields": asdict(a), "writer": "tiny_gguf.write"}
    if a.arch in FLOATS:
        out["extra_float32"] = FLOATS[a.arch]
    if a.arch in OMIT:
        out["omitted_tensors"] = list(OMIT[a.arch])
    if a is PRE_MLA:
        out["writer"] = "make_goldens.write_pre_mla"
        out["key_length"], out["value_length"] = a.head_dim, PRE_MLA_V
        out["tensors"] = ("attn_q_a, attn_q_a_norm, attn_q_b, attn_kv_a_mqa, attn_kv_a_norm, attn_kv_b (unsplit), "
                          "attn_output")
    else:
        out["key_length"] = a.head_dim
        out["value_length"] = a.extra.get("attention.kv_lora_rank", a.head_dim)
    return out


# --------------------------------------------------------------------------------------------
# the runtime


class Runtime:
    """The sdist's bindings over the built libllama, with a log callback that records every fragment."""

    def __init__(self, release: str):
        os.environ.setdefault("GGML_NO_BACKTRACE", "1")  # an abort must not attach gdb
        import llama_cpp as L

        if L.__version__ != release:
            raise SystemExit(f"llama_cpp {L.__version__} is on PYTHONPATH ({L.__file__}), not {release}")
        self.L = L
        self.log: list[tuple[int, str]] = []
        self.sink: int | None = None  # in a forked child: an fd that gets each fragment at once

        @L.llama_log_callback
        def _log(level, text, user):  # noqa: ANN001
            s = text.decode(errors="replace")
            if self.sink is None:
                self.log.append((int(level), s))
            else:
                os.write(self.sink, (json.dumps([int(level), s]) + "\n").encode())

        self._cb = _log
        L.llama_log_set(_log, ctypes.c_void_p(0))
        L.llama_backend_init()
        fields = [f for f, _ in L.llama_context_params._fields_]
        self.fields = fields
        self.has_unified = "kv_unified" in fields
        self.has_swa_full = "swa_full" in fields
        self.fa_field = "flash_attn_type" if "flash_attn_type" in fields else "flash_attn"

    def defaults(self) -> dict:
        p = self.L.llama_context_default_params()
        out = {}
        for name in self.fields:
            value = getattr(p, name)
            if isinstance(value, (int, float, bool)):
                out[name] = value
        return out

    def load(self, path: Path):
        self.log.clear()
        model = self.L.llama_model_load_from_file(str(path).encode(), self.L.llama_model_default_params())
        return model, lines_of(self.log)

    def context(self, model, n_ctx: int, n_seq: int, unified, swa_full, fa: bool, k: str, v: str):
        """Creates the context in a forked child: (status, log lines, stderr text)."""
        L = self.L
        params = L.llama_context_default_params()
        params.n_ctx, params.n_seq_max = n_ctx, n_seq
        params.type_k, params.type_v = GGML[k], GGML[v]
        setattr(params, self.fa_field, int(fa))  # flash_attn: bool; flash_attn_type: 1 enabled, 0 disabled
        if unified is not None:
            params.kv_unified = unified
        if swa_full is not None:
            params.swa_full = swa_full
        with tempfile.TemporaryFile() as logf, tempfile.TemporaryFile() as errf:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the child: never returns
                try:
                    os.dup2(errf.fileno(), 2)
                    self.sink = logf.fileno()
                    ctx = L.llama_init_from_model(model, params)
                    if not ctx:
                        os._exit(3)
                    L.llama_free(ctx)
                    os._exit(0)
                except BaseException:  # noqa: BLE001
                    os._exit(4)
            _, status = os.waitpid(pid, 0)
            logf.seek(0)
            errf.seek(0)
            frags = [tuple(json.loads(x)) for x in logf.read().decode(errors="replace").splitlines() if x.strip()]
            err = errf.read().decode(errors="replace")
        if os.WIFSIGNALED(status):
            state = f"signal {os.WTERMSIG(status)}"
        else:
            code = os.WEXITSTATUS(status)
            state = {0: "ok", 3: "null", 4: "python-exception"}.get(code, f"exit {code}")
        return state, lines_of(frags), err


def lines_of(frags) -> list[tuple[int, str]]:
    """Log fragments (level, text) to lines; GGML_LOG_LEVEL_CONT (5) fragments continue the line before."""
    lines: list[tuple[int, str]] = []
    buf, lvl = "", 0
    for level, text in frags:
        if level != 5:
            if buf:
                lines.extend((lvl, s) for s in buf.split("\n") if s.strip())
                buf = ""
            lvl = level
        buf += text
    if buf:
        lines.extend((lvl, s) for s in buf.split("\n") if s.strip())
    return [(lv, s.rstrip()) for lv, s in lines]


# --------------------------------------------------------------------------------------------
# parsing


def kv_lines(lines: list[tuple[int, str]]) -> list[str]:
    """Every KV-related line, verbatim: all of the KV-cache / memory modules' lines (without their per-layer
    debug lines), the context's "KV self size" line of old releases, and its KV / flash-attention warnings and
    errors."""
    out = []
    for level, s in lines:
        if PER_LAYER.match(s):
            continue
        if KV_FN.match(s):
            out.append(s)
        elif CTX_FN.match(s) and ("KV self size" in s or (level in (3, 4) and KV_WORDS.search(s))):
            out.append(s)
    return out


def ctx_values(lines: list[tuple[int, str]]) -> dict:
    out = {}
    for _, s in lines:
        if CTX_FN.match(s):
            m = CTX_KEYS.match(s)
            if m:
                v = m.group(2).strip()
                out[m.group(1)] = int(v) if re.fullmatch(r"-?\d+", v) else v
    return out


UNPARSED: list[str] = []  # size lines the parser did not understand (a new format: extend SIZE)


def caches(kvl: list[str]) -> list[dict]:
    """The caches the KV lines describe, in order: kind (kv, non_swa, swa, recurrent), cells, layers, MiB."""
    out: list[dict] = []
    UNPARSED.extend(s for s in kvl
                    if re.match(r"^\w+: (size = |KV self size)", s) and not (SIZE.match(s) or SELF.match(s)))
    pending: str | None = None  # the kind of the cache the next size line describes
    for s in kvl:
        m = CREATING.search(s)
        if m:
            pending = "non_swa" if m["which"] == "non-SWA" else "swa"
            continue
        m = KV_SIZE.match(s)
        if m:  # old releases: "kv_size = N, ..., n_layer = L", the sizes follow on a "KV self size" line
            kind = "recurrent" if "recurrent" in m["fn"] else "kv"
            c = {"kind": kind, "cells": int(m["cells"]), "layers": int(m["layers"])}
            if m["pad"]:
                c["padding"] = int(m["pad"])
            out.append(c)
            continue
        m = SELF.match(s)
        if m and out and "mib" not in out[-1]:
            out[-1].update(mib=float(m["mib"]), k_type=m["kt"], k_mib=float(m["kmib"]), v_type=m["vt"],
                           v_mib=float(m["vmib"]))
            continue
        m = SIZE.match(s)
        if m:
            recurrent = m["kn"] == "R"
            kind = "recurrent" if recurrent else (pending or "kv")
            pending = None
            k, v = "k", "v"  # recurrent: R (conv state) and S (ssm state) in the k / v fields
            c = {"kind": kind, "cells": int(m["cells"]), "layers": int(m["layers"]), "seqs": m["seqs"],
                 "mib": float(m["mib"]), f"{k}_type": m["kt"], f"{k}_mib": float(m["kmib"]), f"{v}_type": m["vt"],
                 f"{v}_mib": float(m["vmib"])}
            more = {}
            if m["rs"] is not None:
                more["rs_seq"] = int(m["rs"])
            if m["pn"]:
                more.update(p_type=m["pt"], p_mib=float(m["pmib"]))
            if more:
                c["more"] = more
            out.append(c)
    return out


def refusal(lines: list[tuple[int, str]], err: str) -> str:
    errors = [s for lv, s in lines if lv == 4]
    asserts = [s for s in err.splitlines() if "GGML_ASSERT" in s or "error" in s.lower() or "abort" in s.lower()]
    if asserts:  # e.g. "/abs/path/vendor/llama.cpp/src/llama.cpp:4900: fatal error": keep the path from vendor/
        return re.sub(r"^.*?(vendor/llama\.cpp/)", r"\1", asserts[-1].strip())
    if errors:
        return errors[-1]
    return lines[-1][1] if lines else ""


# --------------------------------------------------------------------------------------------
# vendor information


def vendor_info(L, release: str) -> dict:
    sdist = Path(L.__file__).resolve().parents[1]
    info: dict = {"sdist": sdist.name}
    changelog = (sdist / "CHANGELOG.md").read_text(errors="replace")
    m = re.search(rf"^## \[{re.escape(release)}\]\s*\n(.*?)(?=^## \[)", changelog, re.S | re.M)
    if m:
        c = re.search(r"Update llama\.cpp to (\S+?)/llama\.cpp@([0-9a-f]{7,40})", m.group(1), re.I)
        if c:
            info["llama_cpp_commit"] = c.group(2)
            info["changelog_line"] = c.group(0)
    vendor = sdist / "vendor" / "llama.cpp"
    git = vendor / ".git"
    if git.is_file():  # a submodule's gitlink, pointing into the llama-cpp-python checkout the sdist was made from
        info["vendor_git"] = git.read_text().strip() + " (dangling in the sdist)"
    else:
        info["vendor_git"] = "directory" if git.is_dir() else None
    commit = info.get("llama_cpp_commit", "")
    build = next((n for c, n in BUILD_NUMBERS.items() if commit and (c.startswith(commit) or commit.startswith(c))),
                 None)
    info["llama_cpp_build_number"] = build
    info["build_number_note"] = (
        "not in the sdist (vendor/llama.cpp is a dangling gitlink); llama.cpp's build number is `git rev-list --count "
        "<commit>`, counted here on a clone holding upstream's history (BUILD_NUMBERS in make_goldens.py)"
        if build else "not in the sdist (vendor/llama.cpp is a dangling gitlink), and this commit is not in "
        "BUILD_NUMBERS: llama.cpp's build number is `git rev-list --count <commit>`, which needs upstream's history")
    tarball = sdist.parent / f"{sdist.name}.tar.gz"
    if tarball.exists():
        info["sdist_sha256"] = hashlib.sha256(tarball.read_bytes()).hexdigest()
    lib = Path(os.environ.get("LLAMA_CPP_LIB_PATH", ""))
    info["lib"] = str(lib.relative_to(ROOT)) if lib.is_absolute() and ROOT in lib.parents else str(lib)
    cache = lib.parent / "CMakeCache.txt"
    if cache.exists():
        flags = [ln for ln in cache.read_text().splitlines()
                 if ln.startswith(("CMAKE_BUILD_TYPE:", "CMAKE_CXX_FLAGS_RELEASE:", "GGML_NATIVE:", "GGML_OPENMP:"))]
        info["cmake"] = flags
    return info


# --------------------------------------------------------------------------------------------


def grid(rt: Runtime, a: Arch, defaults: dict) -> list[tuple]:
    """(n_ctx, n_seq_max, kv_unified, swa_full, flash_attn, type_k, type_v) rows; kv_unified / swa_full are None
    where the release has no such parameter, and the C API's default where they cannot matter (one sequence; no
    sliding window)."""
    unified = defaults.get("kv_unified") if rt.has_unified else None
    swa_default = defaults.get("swa_full") if rt.has_swa_full else None
    seqs = [(1, unified)]
    for n in N_SEQ[1:]:
        seqs += [(n, False), (n, True)] if rt.has_unified else [(n, None)]
    swa = [False, True] if (rt.has_swa_full and a.window) else [swa_default]
    rows = [(n_ctx, n, u, s, fa, k, v) for n_ctx in N_CTX for (n, u) in seqs for s in swa for (k, v, fa) in TYPES]
    k, v, fa = REFUSAL_PROBE
    rows.append((4096, 1, unified, swa_default, fa, k, v))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--release", required=True, help="llama-cpp-python release, e.g. 0.3.16")
    ap.add_argument("--build", action="store_true", help="build libllama from the sdist and print the exports")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--archs", default="", help="comma-separated subset (debugging)")
    args = ap.parse_args()
    if args.build:
        build(args.release)
        return

    rt = Runtime(args.release)
    L = rt.L
    archs = ARCHS + [PRE_MLA]
    if args.archs:
        archs = [a for a in archs if a.name in args.archs.split(",")]
    started = time.time()
    header = {
        "release": args.release,
        "engine": f"llama-cpp-python@{args.release}",
        "generated_by": "conformance/llamacpp/make_goldens.py",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "vendor": vendor_info(L, args.release),
        "api": {"flash_attn_field": rt.fa_field, "has_kv_unified": rt.has_unified, "has_swa_full": rt.has_swa_full,
                "flash_attn_values": ({"enabled": 1, "disabled": 0, "auto": -1} if rt.fa_field == "flash_attn_type"
                                      else {"true": 1, "false": 0})},
        "context_defaults": rt.defaults(),
        "grid": {
            "n_ctx": list(N_CTX), "n_seq_max": list(N_SEQ),
            "kv_unified": ("false/true for n_seq_max > 1; the default for n_seq_max = 1" if rt.has_unified
                           else "not a parameter of this release"),
            "swa_full": ("false/true for the archs with a sliding window; the default elsewhere" if rt.has_swa_full
                         else "not a parameter of this release"),
            "types": [list(t) for t in TYPES],
            "refusal_probe": {"type_k": REFUSAL_PROBE[0], "type_v": REFUSAL_PROBE[1], "flash_attn": REFUSAL_PROBE[2],
                              "n_ctx": 4096, "n_seq_max": 1},
            "other_params": "llama_context_default_params() (context_defaults)",
        },
        "log_filter": ("every line of llama_kv_cache*/llama_memory_*/create_memory except their per-layer "
                       "'layer N: ...' debug lines; the context's 'KV self size' line; its warnings/errors about "
                       "KV, caches or flash attention"),
        "row_fields": {
            "ok": "true: context created; false: refused (llama_init_from_model returned NULL, or the child aborted)",
            "ctx": "what the context's own lines printed: n_ctx, n_ctx_per_seq (or n_ctx_seq), flash_attn (n_batch and"
                   " n_ubatch: ctx_printed below)",
            "caches": "parsed from the log, one list per cache in the order logged, fields as cache_fields; a tenth"
                      " element, a dict, holds what only some releases print (recurrent: rs_seq, the P state)",
            "log": "indices into lines: every KV-related line llama.cpp printed for the row, verbatim, in order",
            "refused": "the last error line (or the abort's own line) when not ok; 'state' says how it failed (null:"
                       " NULL context; signal 6: abort)",
            "caches_when_refused": "a row that is not ok still has caches when llama.cpp allocated them before"
                                   " failing (e.g. an abort while reserving the compute graph)",
        },
        "cache_fields": CACHE_FIELDS,
        "cache_kinds": {"kv": "the one attention cache", "non_swa": "the iSWA pair's full-attention cache",
                        "swa": "the iSWA pair's sliding-window cache",
                        "recurrent": "recurrent state (k/v fields hold R and S: conv and ssm state)"},
        "archs": {},
        "refused_archs": {},
    }
    index: dict[str, int] = {}  # the verbatim KV lines, each once
    printed: dict[str, set] = {"n_batch": set(), "n_ubatch": set()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for a in archs:
            path = write_gguf(a, Path(tmp) / f"{a.name}.gguf")
            header["archs"][a.name] = gguf_metadata(a)
            model, load_log = rt.load(path)
            if not model:
                errs = [s for lv, s in load_log if lv == 4] or [s for _, s in load_log[-3:]]
                header["refused_archs"][a.name] = errs[-3:]
                print(f"{a.name}: not loaded: {errs[-1] if errs else '?'}", file=sys.stderr)
                continue
            for n_ctx, n_seq, unified, swa_full, fa, k, v in grid(rt, a, header["context_defaults"]):
                state, lines, err = rt.context(model, n_ctx, n_seq, unified, swa_full, fa, k, v)
                kvl = kv_lines(lines)
                row = {"arch": a.name, "n_ctx": n_ctx, "n_seq_max": n_seq}
                if rt.has_unified:
                    row["kv_unified"] = unified
                if rt.has_swa_full:
                    row["swa_full"] = swa_full
                row.update(flash_attn=fa, type_k=k, type_v=v, ok=state == "ok")
                cv = ctx_values(lines)
                for key in printed:
                    if key in cv:
                        printed[key].add(cv.pop(key))
                cv.pop("kv_unified", None)  # printed where it is a parameter: the row's own input
                row["ctx"] = cv
                found = caches(kvl)
                if found:  # an abort after the cache was allocated (in the graph reserve) still sized it
                    row["caches"] = [[c.get(f) for f in CACHE_FIELDS] + ([c["more"]] if "more" in c else [])
                                     for c in found]
                if state != "ok":
                    row["state"] = state
                    row["refused"] = refusal(lines, err)
                row["log"] = [index.setdefault(x, len(index)) for x in kvl]
                rows.append(row)
            L.llama_model_free(model)
            n_ok = sum(r["ok"] for r in rows if r["arch"] == a.name)
            n_all = sum(1 for r in rows if r["arch"] == a.name)
            print(f"{a.name}: {n_ok}/{n_all} contexts created", file=sys.stderr)
    header["counts"] = {"rows": len(rows), "sized": sum(r["ok"] for r in rows),
                        "refused": sum(not r["ok"] for r in rows), "archs_refused": len(header["refused_archs"])}
    header["seconds"] = round(time.time() - started, 1)
    header["ctx_printed"] = {k: sorted(v) for k, v in printed.items()}
    if UNPARSED:
        header["unparsed_size_lines"] = sorted(set(UNPARSED))
        print(f"WARNING: {len(set(UNPARSED))} size lines not parsed, e.g. {UNPARSED[0]!r}", file=sys.stderr)
    header["lines"] = list(index)
    out = args.out or GOLDENS / f"llama-cpp-python-{args.release}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps(header, indent=1)
    # one row a line: the file stays small and diffs stay readable
    text = body[:-2] + ',\n "rows": [\n' + ",\n".join(json.dumps(r, separators=(",", ":")) for r in rows) + "\n ]\n}\n"
    json.loads(text)
    out.write_text(text)
    print(f"wrote {out} ({len(text) // 1024} KiB): {header['counts']}", file=sys.stderr)


if __name__ == "__main__":
    main()
