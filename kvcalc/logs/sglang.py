"""SGLang's startup lines, recomputed with the sglang engine (kvcalc.engines.sglang).

- ``server_args=ServerArgs(model_path=..., tp_size=..., mem_fraction_static=..., page_size=...,
  kv_cache_dtype=..., ...)``: the settings;
- ``KV Cache is allocated. [dtype: ..., ]#tokens: N, K size: X GB, V size: Y GB`` (``KV size`` for
  MLA): the K and V buffers of N + page_size rows in every layer, in GiB (SGLang's GB is 1024^3),
  recomputed from N (python/sglang/srt/mem_cache/memory_pool.py);
- ``max_total_num_tokens=N, ..., max_running_requests=R, context_len=L``: N is the pool of the
  KV line; R = min(N // 2, request slots) unless --max-running-requests was given
  (python/sglang/srt/managers/tp_worker.py);
- ``Load weight end. ... avail mem=X GB, mem usage=Y GB``: recognised, not recomputed (the weights
  as SGLang loads them).
"""

from __future__ import annotations

import re
from typing import Any, Optional

from .record import GiB, Checked, Start, agrees_rounded, number

_ARGS = re.compile(r"server_args=ServerArgs\((?P<args>.*)")
_KV = re.compile(r"KV Cache is allocated\. (?:dtype: (?P<dt>[\w.]+), )?#tokens: (?P<n>\d+), "
                 r"(?:K size: (?P<k>\d+\.\d+) GB, V size: (?P<v>\d+\.\d+) GB|KV size: (?P<kv>\d+\.\d+) GB)")
_POOL = re.compile(r"max_total_num_tokens=(?P<n>\d+),.*?max_running_requests=(?P<r>\d+),\s*context_len=(?P<l>\d+)")
_WEIGHTS = re.compile(r"Load weight end\..*avail mem=(?P<a>\d+\.\d+) GB, mem usage=(?P<u>\d+\.\d+) GB")
_VERSION = re.compile(r"(?:sglang|SGLang)(?: version|==| v)[ :]?(?P<v>\d+\.\d+\.\d+(?:\.post\d+|rc\d+)?)")
CLAIMS = re.compile(r"sglang|KV Cache is allocated\. (?:dtype: [\w.]+, )?#tokens|max_total_num_tokens=")
SETTINGS = ("server_args=",)
NAMED = True  # the model is found by the name the log gives (model_path)
EVERY_LINE = False
HEADS = ("KV Cache is allocated", "max_total_num_tokens=")
WHOLE = re.compile(r"GB\.?\s*$|context_len=\d+.*$")
MEMORY = re.compile(r"KV Cache is allocated|max_total_num_tokens=|Load weight end")

_KEYS = {"model": "model_path", "tp": "tp_size", "dp": "dp_size", "pp": "pp_size", "page_size": "page_size",
         "mem_fraction_static": "mem_fraction_static", "kv_cache_dtype": "kv_cache_dtype", "dtype": "dtype",
         "context_length": "context_length", "max_total_tokens": "max_total_tokens",
         "max_running_requests": "max_running_requests", "chunked_prefill_size": "chunked_prefill_size",
         "quantization": "quantization", "enable_dp_attention": "enable_dp_attention",
         "speculative_algorithm": "speculative_algorithm"}
# A speculative draft of DeepSeek's MTP kind allocates its own pool of the same tokens for its layer(s)
# (python/sglang/srt/speculative/eagle_worker.py: the draft ModelRunner; DeepSeek's num_nextn_predict_layers = 1).
_DRAFTS = ("EAGLE", "EAGLE3", "NEXTN")


def starts(text: str) -> Optional[tuple[str, str, str]]:
    m = _ARGS.search(text)
    if m:
        v = _VERSION.search(text)
        return "", v.group("v") if v else "", "server_args=ServerArgs(...)"
    m = _VERSION.search(text)
    if m:
        return "", m.group("v"), m.group(0)
    return None


def _value(text: str) -> Any:
    text = text.strip()
    if text in ("None", ""):
        return None
    if text in ("True", "False"):
        return text == "True"
    if text[:1] in "'\"":
        return text[1:-1]
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def settings_from(start: Start, text: str) -> None:
    m = _ARGS.search(text)
    if not m:
        return
    args = m.group("args")
    for key, name in _KEYS.items():
        v = re.search(rf"(?:^|[\s,]){name}=(?P<x>'[^']*'|\"[^\"]*\"|[^,)]+)", args)
        if v:
            value = _value(v.group("x"))
            if value is not None:
                start.settings[key] = value


class Lines:
    """Reads one SGLang start's memory lines and recomputes them."""

    def __init__(self, start: Start, model: Any) -> None:
        self.start, self.model = start, model
        self.tokens: Optional[int] = None  # the pool, from the KV line

    def _engine(self) -> Any:
        from ..engines import get_engine

        version = self.start.version
        return get_engine(f"sglang@{version}" if version else "sglang", self.start.settings.get("page_size"))

    def _kv_dtype(self, printed: Optional[str]) -> str:
        if printed:
            return printed
        s = self.start.settings
        kv = str(s.get("kv_cache_dtype") or "auto")
        if kv != "auto":
            return kv
        return str(s.get("dtype") or "auto")

    def feed(self, n: int, text: str) -> list[Checked]:
        m = _KV.search(text)
        if m:
            return self._kv(n, text, m)
        m = _POOL.search(text)
        if m:
            return self._pool(n, text, int(m.group("n")), int(m.group("r")), int(m.group("l")))
        m = _WEIGHTS.search(text)
        if m:
            return [Checked(n, text, "memory after loading the weights", float(m.group("a")), "GiB",
                            rule="not recomputed: the memory SGLang finds free is the GPU's (the budget; #24)")]
        return []

    def _kv(self, n: int, text: str, m: "re.Match[str]") -> list[Checked]:
        from ..errors import KvcalcError

        tokens = int(m.group("n"))
        self.tokens = tokens
        if not self.start.version:  # SGLang prints no version: the line's own format says the era
            since = "0.5.13" if m.group("dt") else "0.4.4"
            self.start.version, self.start.version_source = since, "inferred"
            self.start.version_evidence = (f"the KV line's format ({'dtype: ..., ' if m.group('dt') else ''}#tokens), "
                                           f"printed from {since}")
        latent = m.group("kv") is not None
        out = ([Checked(n, text, "KV buffers", number(m.group("kv")), "GiB")] if latent else
               [Checked(n, text, "K buffers", number(m.group("k")), "GiB"),
                Checked(n, text, "V buffers", number(m.group("v")), "GiB")])
        if self.model is None:
            for c in out:
                c.rule = f"not recomputed: the model is not known to kvcalc ({self.start.model_error}): give --model"
            return out
        from ..dtypes import resolve
        from ..engines.sglang import part_for

        try:
            eng = self._engine()
            s = self.start.settings
            tp = int(s.get("tp", 1))
            if s.get("enable_dp_attention"):  # attention's own tensor parallelism: tp / dp
                tp = max(1, tp // int(s.get("dp", 1)))
            kv = self._kv_dtype(m.group("dt"))
            kinds = ["full", "sliding"] if eng.for_model(self.model).splits_swa(self.model) else ["full"]
            parts = [part_for(self.model, eng, kv, tp, tokens, kind) for kind in kinds]
            kv_name = resolve(kv, eng.serving_dtype(self.model)).name
        except KvcalcError as err:
            for c in out:
                c.rule = f"not recomputed: {err}"
            return out

        def figures(part: Any) -> list[int]:
            return [part.k_bytes + part.v_bytes] if latent else [part.k_bytes, part.v_bytes]

        def fits(values: list[int]) -> bool:
            return all(agrees_rounded(float(c.reported), 2, b / GiB) for c, b in zip(out, values))  # type: ignore[arg-type]

        # a SWA hybrid logs one line a pool, each with its own #tokens: the one whose layers agree
        part = next((q for q in parts if fits(figures(q))), parts[0])
        draft = str(s.get("speculative_algorithm") or "").upper()
        what = ""
        if not fits(figures(part)) and draft in _DRAFTS:  # a draft of DeepSeek's MTP kind: its own one-layer pool
            one = type(part)(part.kind, tokens, 1, part.k_row_bytes, part.v_row_bytes, part.extra)
            if fits(figures(one)):
                part, what = one, f"the {draft} draft's own pool (speculative_algorithm {draft}): "
        heads = "" if latent else (f" (max(1, {self.model.n_kv_heads} KV heads // tp {tp}) x {self.model.head_dim} x "
                                   f"{kv_name})")
        for c, b in zip(out, figures(part)):
            c.computed = round(b / GiB, 6)
            c.agrees = agrees_rounded(float(c.reported), 2, b / GiB)  # type: ignore[arg-type]
            if what:
                c.what = f"draft {c.what}"
            pool = "SWA " if part.kind == "sliding" else ""
            c.rule = (f"{what}({tokens:,} tokens + {part.extra}) rows x {part.layers} {pool}layers x {part.k_row_bytes:,} B"
                      f"{' (the latent)' if latent else heads} = {b:,} B; rules of SGLang {eng.rules_version}")
        if latent != (part.kind == "mla"):
            for c in out:
                c.agrees = False
                c.rule = (f"the log prints {'one KV' if latent else 'K and V'} buffer, kvcalc's model has "
                          f"{'a latent' if part.kind == 'mla' else 'K and V'}: " + c.rule)
        return out

    def _pool(self, n: int, text: str, tokens: int, running: int, context_len: int) -> list[Checked]:
        c = Checked(n, text, "max_total_num_tokens", tokens, "tokens")
        if self.tokens is None:
            c.rule = "not recomputed: no 'KV Cache is allocated' line before it"
        else:
            c.computed, c.agrees = self.tokens, tokens == self.tokens
            c.rule = "the pool the KV buffers were allocated for"
        r = Checked(n, text, "max_running_requests", running, "requests")
        given = self.start.settings.get("max_running_requests")
        if given is not None:
            r.rule = f"not recomputed: set by --max-running-requests {given}"
        else:
            slots = min(max(int(tokens / context_len * 512), 2048), 4096)
            want = min(tokens // 2, slots + 1)
            r.computed = want
            r.agrees = running in (want, min(tokens // 2, slots))
            r.rule = (f"min(max_total_num_tokens // 2 = {tokens // 2:,}, request slots min(max(int({tokens:,} / "
                      f"{context_len:,} x 512), 2048), 4096) + 1 = {slots + 1:,})")
        return [c, r]
