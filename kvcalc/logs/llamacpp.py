"""llama.cpp's (and ik_llama.cpp's) startup lines, recomputed with the llama.cpp engine of the build.

No model file is needed: the model is rebuilt from the metadata the log prints (the GGUF keys
``llama_model_loader`` dumps, and ``print_info`` / ``llm_load_print_meta``'s hparams), the
context from ``llama_context``'s lines (n_ctx, n_seq_max, n_ubatch, flash_attn, kv_unified) and
the cache types from the KV line itself. Each KV line (``llama_kv_cache: size = ...``, the older
``KV self size = ...``) is checked figure by figure: cells, K, V and the total in MiB (%7.2f of a
float, as llama.cpp prints them). Line formats by build: docs/check-log.md.

ik_llama.cpp keeps the old single-cache design (n_ctx cells, padded to 256 with flash attention and
32 without) and its own MLA modes: ``c^KV`` is the latent (kv_lora_rank + rope a token), ``kv^T``
a transposed V of kv_lora_rank when mla = 1 without flash attention (src/llama.cpp
llama_kv_cache_init of ikawrakow/ik_llama.cpp).
"""

from __future__ import annotations

import re
from typing import Any, Optional

from ..engines.llamacpp import mib
from .record import Checked, Start, agrees_rounded

_BUILD = re.compile(r"(?:^|\s)(?:build|main: build|version)(?::| =) (?P<b>\d{2,6}) \((?P<h>[0-9a-f]{6,40})\)"
                    r"|\bbuild=(?P<b2>\d{2,6}) commit=\"(?P<h2>[0-9a-f]{6,40})\"")
_META = re.compile(r"^(?:print_info|llm_load_print_meta): (?P<k>[\w. ()]+?)\s*= (?P<v>.*)$")
_KV_DUMP = re.compile(r"^llama_model_loader: - kv\s+\d+:\s+(?P<k>[\w.\-]+)\s+(?P<t>\S+)\s+= (?P<v>.*)$")
_CTX = re.compile(r"^(?:llama_context|llama_new_context_with_model|llama_init_from_model): "
                  r"(?P<k>n_ctx|n_ctx_per_seq|n_ctx_seq|n_seq_max|n_batch|n_ubatch|flash_attn|kv_unified|mla_attn)"
                  r"\s*= (?P<v>\S+)")
_FA_SET = re.compile(r"Flash Attention was auto, set to (?P<v>enabled|disabled)")
_KV_INIT = re.compile(r"kv_size = (?P<n>\d+),.*type_k = '(?P<kt>\w+)', type_v = '(?P<vt>\w+)'")
_SWA_FULL = re.compile(r"using full-size SWA cache")
_CREATING = re.compile(r"creating\s+(?P<which>non-SWA|SWA) KV cache, size = (?P<n>\d+) cells")
_SIZE = re.compile(r"(?P<prefix>\w+): size =\s*(?P<total>\d+[.,]\d+) MiB \(\s*(?P<cells>\d+) cells,\s*(?P<layers>\d+) "
                   r"layers(?:,\s*(?P<seqs>\d+)(?:/\s*(?P<streams>\d+))? seqs)?\), K \((?P<kt>\w+)\):\s*(?P<k>\d+[.,]\d+) "
                   r"MiB, V \((?P<vt>\w+)\):\s*(?P<v>\d+[.,]\d+) MiB")
_SELF = re.compile(r"(?P<prefix>\w+): KV self size\s*=\s*(?P<total>\d+[.,]\d+) MiB, K \((?P<kt>\w+)\):\s*"
                   r"(?P<k>\d+[.,]\d+) MiB, V \((?P<vt>\w+)\):\s*(?P<v>\d+[.,]\d+) MiB")
_IK_MLA = re.compile(r"KV self size\s*=\s*(?P<total>\d+[.,]\d+) MiB, c\^KV \((?P<kt>\w+)\):\s*(?P<k>\d+[.,]\d+) MiB, "
                     r"kv\^T(?: \((?P<vt>\w+)\):\s*(?P<v>\d+[.,]\d+) MiB|: not used)")
_BUFFER = re.compile(r"(?P<prefix>\w+):\s+(?P<dev>\S+) KV buffer size =\s*(?P<x>\d+[.,]\d+) MiB")
_IK_MARK = re.compile(r"c\^KV|kv\^T|mla_attn\s*=|fused_moe_up_gate|attn_max_b")
CLAIMS = re.compile(r"^(?:llama_|print_info:|llm_load_|load_tensors:|llama_model_loader:)")
SETTINGS: tuple[str, ...] = ()
NAMED = False  # the model is rebuilt from the metadata the log prints
EVERY_LINE = True  # metadata and context lines go to Lines too
HEADS = ("KV self size", ": size = ", "KV buffer size")
WHOLE = re.compile(r"MiB\s*$|not used\s*$")
MEMORY = re.compile(r"KV self size|: size = |KV buffer size")

# print_info's hparam names -> the GGUF key llama.cpp read them from ({arch}.<key>).
_PRINTED = {
    "n_layer": "block_count", "n_head": "attention.head_count", "n_head_kv": "attention.head_count_kv",
    "n_embd": "embedding_length", "n_embd_head_k": "attention.key_length", "n_embd_head_v": "attention.value_length",
    "n_swa": "attention.sliding_window", "n_ctx_train": "context_length", "n_lora_kv": "attention.kv_lora_rank",
    "n_lora_q": "attention.q_lora_rank", "n_rot": "rope.dimension_count", "n_ff": "feed_forward_length",
    "n_embd_head_k_mla": "attention.key_length_mla", "n_embd_head_v_mla": "attention.value_length_mla",
    "ssm_d_conv": "ssm.conv_kernel", "ssm_d_inner": "ssm.inner_size", "ssm_d_state": "ssm.state_size",
    "ssm_n_group": "ssm.group_count", "n_vocab": "vocab_size", "n_swa_pattern": "attention.sliding_window_pattern",
}
# The KV line's shape and prefix -> the first build that printed it (docs/check-log.md; kvcalc.engines.llamacpp).
FORMATS = (("llama_kv_cache: size streams", "b6233"), ("llama_kv_cache_unified: size streams", "b5913"),
           ("llama_kv_cache_unified: size seqs", "b5441"), ("llama_kv_cache_unified: size", "b5429"),
           ("llama_kv_cache_unified: KV self", "b5262"), ("llama_context: KV self", "b4881"),
           ("llama_init_from_model: KV self", "b4463"), ("llama_new_context_with_model: KV self", "b2871"))


def settings_from(start: Start, text: str) -> None:
    """llama.cpp's settings are read by Lines (they are spread over many lines)."""


def starts(text: str) -> Optional[tuple[str, str, str]]:
    m = _BUILD.search(text)
    if m:
        return "", f"b{int(m.group('b') or m.group('b2'))}", m.group(0).strip()
    return None


def _value(text: str) -> Any:
    """A printed metadata value: a number, a bool, a string, or a list of numbers ('[8, 8, 0]')."""
    text = text.strip()
    if text.startswith("arr[") or text.startswith("["):
        inner = text[text.find("[", 1 if text.startswith("[") else 4) + 1:].rstrip("]") if text.startswith("arr[") \
            else text[1:-1]
        if "..." in inner:
            return None  # the loader truncates long arrays
        try:
            return [int(x) for x in inner.split(",") if x.strip()]
        except ValueError:
            return None
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


class Lines:
    """Reads one llama.cpp start: the model's metadata, the context, the KV lines."""

    def __init__(self, start: Start, override: Any = None) -> None:
        self.start, self.override = start, override
        self.gguf: dict[str, Any] = {}  # GGUF keys, as dumped
        self.printed: dict[str, Any] = {}  # print_info hparams
        self.which = "full"  # the cache the next lines are of: full | sliding
        self.buffers: list[Checked] = []  # KV buffer lines awaiting their cache's size line
        self._model: Any = None
        self.model_error: Optional[str] = None

    # ----- what the log says ----------------------------------------------------------------

    def feed(self, n: int, text: str) -> list[Checked]:
        s = self.start.settings
        if _IK_MARK.search(text) and self.start.runtime != "ik_llama.cpp":
            self.start.runtime = "ik_llama.cpp"
            if self.start.version_source == "printed":
                self.start.version_evidence += " (ik_llama.cpp's own build count)"
        m = _KV_DUMP.match(text)
        if m:
            value = _value(m.group("v"))
            if value is not None:
                self.gguf[m.group("k")] = value.strip('"') if isinstance(value, str) else value
            return []
        m = _META.match(text)
        if m:
            key = m.group("k").strip()
            self.printed[key] = _value(m.group("v"))
            return []
        m = _CTX.match(text)
        if m:
            value = m.group("v")
            s[m.group("k")] = {"true": True, "false": False}.get(value, int(value) if value.isdigit() else value)
            return []
        m = _FA_SET.search(text)
        if m:
            s["flash_attn"] = m.group("v")
            return []
        m = _KV_INIT.search(text)
        if m:
            s["type_k"], s["type_v"] = m.group("kt"), m.group("vt")
            return []
        if _SWA_FULL.search(text):
            s["swa_full"] = True
            return []
        m = _CREATING.search(text)
        if m:
            self.which = "sliding" if m.group("which") == "SWA" else "full"
            return []
        m = _BUFFER.search(text)
        if m:
            c = Checked(n, text, f"KV buffer ({m.group('dev')})", _decimal(m.group("x")), "MiB")
            self.buffers.append(c)
            return [c]
        for pattern, shape in ((_SIZE, "size"), (_SELF, "KV self"), (_IK_MLA, "ik")):
            m = pattern.search(text)
            if m:
                return self._size_line(n, text, m, shape)
        return []

    # ----- the model and the engine -----------------------------------------------------------

    def _lookup(self, key: str) -> Any:
        from ..models.gguf import MISSING

        if key in self.gguf:
            return self.gguf[key]
        arch = self.gguf.get("general.architecture", self.printed.get("arch"))
        if key == "general.architecture":
            return arch if arch is not None else MISSING
        if key == "general.name":
            return self.printed.get("general.name", MISSING)
        for printed, gguf_key in _PRINTED.items():
            if key == f"{arch}.{gguf_key}" and printed in self.printed and self.printed[printed] is not None:
                value = self.printed[printed]
                return value if not isinstance(value, str) else MISSING
        return MISSING

    def model(self) -> Any:
        """The model as the log's metadata describes it (or --model); None with model_error set."""
        if self._model is not None or self.model_error is not None:
            return self._model
        from ..errors import KvcalcError

        if self.override is not None:
            self._model = self.override
            self.start.model = self.override.name
            return self._model
        from ..models.gguf import model_from_metadata

        try:
            self._model = model_from_metadata(self._lookup, "the log's model metadata", "gguf-from-log")
        except KvcalcError as err:
            self.model_error = str(err)
        if self._model is not None:
            self.start.model = self._model.name
            self.start.model_printed = str(self.printed.get("general.name") or self.gguf.get("general.name") or "")
        else:
            self.start.model_error = self.model_error
        return self._model

    def _format_build(self, prefix: str, shape: str, streams: bool, seqs: bool) -> str:
        key = f"{prefix}: {shape}" + (" streams" if streams else " seqs" if seqs else "")
        return dict(FORMATS).get(key, "b2871")

    def _engine(self, build: str) -> Any:
        """The llama.cpp engine of `build` with the settings the log printed (not llama-server's
        defaults: the log says what ran)."""
        from dataclasses import replace

        from ..engines import get_engine

        s = self.start.settings
        eng = get_engine(f"llama.cpp@{build}")
        fa = str(s.get("flash_attn", "")).lower()
        flash = {"1": "on", "enabled": "on", "true": "on", "0": "off", "disabled": "off", "false": "off",
                 "auto": "auto"}.get(fa, eng.flash_attn)
        n_parallel = int(s.get("n_seq_max", 1))
        return replace(eng, n_parallel=n_parallel, kv_unified=bool(s.get("kv_unified", n_parallel == 1)),
                       swa_full=bool(s.get("swa_full", False)), n_ubatch=int(s.get("n_ubatch", 512)),
                       flash_attn=flash)

    # ----- a KV line ----------------------------------------------------------------------------

    def _size_line(self, n: int, text: str, m: "re.Match[str]", shape: str) -> list[Checked]:
        from ..errors import KvcalcError

        reported = {"total": _decimal(m.group("total")), "K": _decimal(m.group("k")),
                    "V": _decimal(m.group("v")) if m.groupdict().get("v") else 0.0}
        k_type = m.group("kt")
        v_type = (m.groupdict().get("vt") or k_type)
        cells = int(m.group("cells")) if shape == "size" else None
        out = [Checked(n, text, f"{'SWA ' if self.which == 'sliding' else ''}KV cache {what}", value, "MiB")
               for what, value in (("size", reported["total"]), ("K", reported["K"]), ("V", reported["V"]))]
        if cells is not None:
            out.insert(0, Checked(n, text, f"{'SWA ' if self.which == 'sliding' else ''}KV cache cells", cells, "cells"))
        buffers, self.buffers = self.buffers, []
        if not self.start.version or self.start.version_source == "inferred":
            prefix = m.groupdict().get("prefix") or "llama_new_context_with_model"
            since = self._format_build(prefix, "size" if shape == "size" else "KV self",
                                       bool(m.groupdict().get("streams")), bool(m.groupdict().get("seqs")))
            if self.start.runtime == "ik_llama.cpp":
                since = "b4400"
            if not self.start.version:
                self.start.version, self.start.version_source = since, "inferred"
                self.start.version_evidence = f"the KV line's format ({prefix}: ...), printed from {since}"
        model = self.model()
        if model is None:
            for c in out + buffers:
                c.rule = f"not recomputed: {self.model_error}"
            return out
        try:
            figures, rule = self._compute(model, k_type, v_type, shape, m.groupdict().get("v") is not None)
        except KvcalcError as err:
            for c in out + buffers:
                c.rule = f"not recomputed: {err}"
            return out
        for c in out:
            key = c.what.rsplit(" ", 1)[1]
            value = figures[{"size": "total", "cells": "cells"}.get(key, key)]
            c.computed = value
            c.agrees = (value == c.reported) if c.unit == "cells" else agrees_rounded(float(c.reported), 2, value)  # type: ignore[arg-type]
            c.rule = rule
        if len(buffers) == 1:  # one device: its buffer is the whole cache
            b = buffers[0]
            b.computed, b.rule = figures["total"], "one device holds the whole cache: " + rule
            b.agrees = agrees_rounded(float(b.reported), 2, figures["total"])  # type: ignore[arg-type]
        elif buffers:
            self._split(buffers, figures)
        return out

    @staticmethod
    def _split(buffers: list[Checked], figures: dict[str, float]) -> None:
        """Several devices: each holds whole layers (-ngl / --tensor-split decide how many, and the
        log does not say), so each buffer must be a whole number of layers' share, and they must add
        up to every layer."""
        layers, per_layer = figures["layers"], figures["total"] / max(1, figures["layers"])
        counts = [round(float(b.reported) / per_layer) for b in buffers]  # type: ignore[arg-type]
        whole = sum(counts) == layers
        for b, k in zip(buffers, counts):
            b.computed = k * per_layer
            b.agrees = whole and agrees_rounded(float(b.reported), 2, k * per_layer)  # type: ignore[arg-type]
            b.rule = (f"{k} of the {layers} layers at {per_layer:,.2f} MiB each (the devices' layers add up to "
                      f"{sum(counts)}; how many each holds is -ngl's and --tensor-split's, not printed)")

    def _compute(self, model: Any, k_type: str, v_type: str, shape: str, has_v: bool) -> tuple[dict[str, float], str]:
        """kvcalc's cells and MiB for this cache, by the build's rules."""
        from ..core.formulas import kv_cache
        from ..errors import InputError

        s = self.start.settings
        n_ctx = s.get("n_ctx")
        if not isinstance(n_ctx, int):
            raise InputError("the log does not print n_ctx (llama_context: n_ctx = ...)")
        if self.start.runtime == "ik_llama.cpp":
            return self._ik(model, k_type, v_type, shape, n_ctx, has_v)
        eng = self._engine(str(self.start.version)).for_model(model)
        cache = kv_cache(model, n_ctx, 1, _dtype(k_type), eng, v_dtype=_dtype(v_type))
        kinds = ("sliding",) if self.which == "sliding" else ("full", "mla")
        if shape == "KV self":
            kinds = ("full", "mla", "sliding")
        groups = [g for g in cache.groups if g.kind in kinds]
        if not groups:
            raise InputError(f"kvcalc finds no {self.which} layers in {model.name}")
        k = sum(g.n_layers * g.tokens * g.k_bytes_per_token for g in groups)
        v = sum(g.n_layers * g.tokens * g.v_bytes_per_token for g in groups)
        cells = groups[0].tokens // eng.streams()
        rule = (f"{sum(g.n_layers for g in groups)} layers x {groups[0].tokens:,} cells ({eng.streams()} stream"
                f"{'s' if eng.streams() > 1 else ''}) x K {groups[0].k_bytes_per_token:,} B + V "
                f"{groups[0].v_bytes_per_token:,} B a cell; n_ctx {n_ctx:,}, n_seq_max {eng.n_parallel}, "
                f"flash_attn {eng.flash_attn}; rules of llama.cpp {eng.rules_version}")
        return {"total": mib(k + v), "K": mib(k), "V": mib(v), "cells": cells,
                "layers": sum(g.n_layers for g in groups)}, rule

    def _ik(self, model: Any, k_type: str, v_type: str, shape: str, n_ctx: int,
            kv_t: bool) -> tuple[dict[str, float], str]:
        """ik_llama.cpp: n_ctx cells (the printed n_ctx is padded already); MLA as c^KV, plus kv^T
        (a transposed V of kv_lora_rank) where the line prints one (mla 1 without flash attention)."""
        from ..dtypes import resolve

        k_dt, v_dt = resolve(_dtype(k_type), "fp16"), resolve(_dtype(v_type), "fp16")
        layers = [kind for kind in model.layer_kinds if kind not in ("N", "R")]
        if shape == "ik":
            assert model.mla is not None
            k = len(layers) * n_ctx * sum(k_dt.vector_bytes(model.mla.latent_dim))
            v = len(layers) * n_ctx * sum(v_dt.vector_bytes(model.mla.kv_lora_rank)) if kv_t else 0
            rule = (f"ik_llama.cpp MLA: c^KV of {model.mla.latent_dim} a token x {len(layers)} layers x {n_ctx:,} cells"
                    + (f", kv^T of {model.mla.kv_lora_rank}" if v else ""))
        else:
            if model.mla is not None:  # mla 0: K and V per head
                kd, vd, heads = model.mla.qk_nope_head_dim + model.mla.qk_rope_head_dim, model.mla.v_head_dim, model.n_heads
            else:
                kd, vd, heads = model.head_dim, model.head_dim, model.n_kv_heads
            k = len(layers) * n_ctx * heads * sum(k_dt.vector_bytes(kd))
            v = len(layers) * n_ctx * heads * sum(v_dt.vector_bytes(vd))
            rule = f"ik_llama.cpp: {len(layers)} layers x {n_ctx:,} cells x {heads} KV heads x (K {kd} + V {vd})"
        return {"total": mib(k + v), "K": mib(k), "V": mib(v), "cells": n_ctx, "layers": len(layers)}, rule


def _decimal(text: str) -> float:
    """A printed MiB figure; a C locale with a decimal comma prints 2713,50."""
    return float(text.replace(",", "."))


def _dtype(ggml: str) -> str:
    return {"f16": "fp16", "f32": "fp32", "bf16": "bf16"}.get(ggml, ggml)
