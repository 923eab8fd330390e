"""vLLM's startup lines, recomputed with the engine of the release that printed them.

V1 (the default from 0.8.0; vllm/v1/worker/gpu_worker.py, vllm/v1/core/kv_cache_utils.py):
``Available KV cache memory: X GiB`` (per worker, %.2f) is the budget; ``GPU KV cache size: N
tokens`` and ``Maximum concurrency for L tokens per request: Cx`` follow from it by the release's
rules (kvcalc.engines.vllm.size_pool). The budget is rounded, so kvcalc recomputes at both ends of
its 0.01 GiB and the figure agrees when the printed one lies in that range.

V0 (0.4 to 0.10.2; vllm/worker/cache_engine.py get_cache_block_size, vllm/worker/worker.py
determine_num_available_blocks, vllm/executor/executor_base.py initialize_cache): a block is
block_size tokens of every attention layer (sliding windows ignored; an MLA latent of
kv_lora_rank + rope, from 0.7.1); ``# cuda blocks: N`` = budget // block bytes, where the budget
is ``the rest of the memory reserved for KV Cache is X GiB``; ``Maximum concurrency`` =
N x block_size / max_model_len.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from .record import GiB, Checked, Start, agrees_rounded, bytes_range, decimals_of, number

_V1 = re.compile(r"Initializing a V1 LLM engine \(v?(?P<v>[^)\s]+)\) with config: (?P<cfg>.*)")
_V0 = re.compile(r"Initializing an LLM engine \(v?(?P<v>[^)\s]+)\) with config: (?P<cfg>.*)")
_SERVER = re.compile(r"vLLM API server version (?P<v>\d[\w.+]*)")
_AVAILABLE = re.compile(r"Available KV cache memory: (?P<x>\d+(?:\.\d+)?) GiB")
_TOKENS = re.compile(r"\b(?:GPU|CPU|XPU|TPU)(?: \+ host)? KV cache size: (?P<n>[\d,]+) tokens")
_CONCURRENCY = re.compile(r"Maximum concurrency for (?P<len>[\d,]+) tokens per request: (?P<c>\d+(?:\.\d+)?)x")
_V0_BLOCKS = re.compile(r"(?:# )?(?P<dev>cuda|GPU|gpu|xpu|hpu|rocm|npu) blocks: (?P<g>\d+), # CPU blocks: (?P<c>\d+)(?!\d)\s*$")
_V0_BUDGET = re.compile(r"the rest of the memory reserved for KV Cache is (?P<x>\d+(?:\.\d+)?) ?GiB")
_V0_BUDGET_064 = re.compile(r"Memory profiling results:.*\bkv_cache_size=(?P<x>\d+(?:\.\d+)?)GiB")
_LOADING = re.compile(r"(?:Model loading took|Loading model weights took) (?P<x>\d+(?:\.\d+)?) ?(?P<u>GiB|GB)")
_BLOCK = re.compile(r"(?:Forcing kv cache block size to|Setting attention block size to) (?P<n>\d+)")
_BATCHED = re.compile(r"max_num_batched_tokens[=:] ?(?P<n>\d+)")
_NON_DEFAULT = re.compile(r"non-default args: (?P<args>\{.*\})")
# What kvcalc.logs.check asks of each runtime's module (see RUNTIMES there).
CLAIMS = re.compile(r"vllm\.|vLLM|Available KV cache memory|(?:cuda|GPU) blocks: \d+, # CPU blocks|Memory profiling|"
                    r"Maximum concurrency for")
# Lines only the V0 engine prints: a log that names no release is V0 when it has one.
_V0_ONLY = re.compile(r"(?:cuda|GPU) blocks: \d+, # CPU blocks|Memory profiling results:|reserved for KV Cache is")
SETTINGS = ("with config:", "non-default args:")
NAMED = True  # the model is found by the name the log gives
EVERY_LINE = False  # only memory lines go to Lines
# A memory line cut by a terminal: its head, and the pattern that says it is whole.
HEADS = ("Available KV cache memory", "KV cache size:", "Maximum concurrency for", "# cuda blocks",
         "# GPU blocks", "reserved for KV Cache is")
WHOLE = re.compile(r"(GiB\.?|tokens|\dx|CPU blocks: \d+)\s*$")
# Any line VllmLines reads.
MEMORY = re.compile(r"Available KV cache memory|KV cache size:|Maximum concurrency|blocks: \d|reserved for KV Cache|"
                    r"kv_cache_size=|Model loading took|Loading model weights took")

_CONFIG_KEYS = {
    "model": re.compile(r"(?:^|[\s,])model='(?P<x>[^']*)'"),
    "max_model_len": re.compile(r"\bmax_seq_len=(?P<x>\d+)"),
    "tp": re.compile(r"\btensor_parallel_size=(?P<x>\d+)"),
    "pp": re.compile(r"\bpipeline_parallel_size=(?P<x>\d+)"),
    "kv_cache_dtype": re.compile(r"\bkv_cache_dtype=(?P<x>[\w]+)"),
    "dtype": re.compile(r"\bdtype=torch\.(?P<x>\w+)"),
    "quantization": re.compile(r"\bquantization=(?P<x>[\w-]+)"),
    "enforce_eager": re.compile(r"\benforce_eager=(?P<x>True|False)"),
}
_ARGS = {"block_size": int, "max_num_batched_tokens": int, "gpu_memory_utilization": float, "max_model_len": int,
         "kv_cache_dtype": str, "tensor_parallel_size": int, "max_num_seqs": int}


def starts(text: str) -> Optional[tuple[str, str, str]]:
    """(engine, version, evidence) when `text` begins or names a vLLM start; None otherwise."""
    for pattern, engine in ((_V1, "v1"), (_V0, "v0"), (_SERVER, "")):
        m = pattern.search(text)
        if m:
            return engine, m.group("v"), m.group(0)[:80]
    return None


def settings_from(start: Start, text: str) -> None:
    """The settings a vLLM line shows (the engine's config line, non-default args, forced block size)."""
    m = _V1.search(text) or _V0.search(text)
    if m:
        cfg = m.group("cfg")
        for key, pattern in _CONFIG_KEYS.items():
            v = pattern.search(cfg)
            if v:
                value: Any = v.group("x")
                start.settings[key] = int(value) if value.isdigit() else value
    m = _NON_DEFAULT.search(text)
    if m:
        for key, kind in _ARGS.items():
            v = re.search(rf"'{key}': '?(?P<x>[\w.]+)'?", m.group("args"))
            if v:
                try:
                    start.settings["tp" if key == "tensor_parallel_size" else key] = kind(v.group("x"))
                except ValueError:
                    pass
    m = _BLOCK.search(text)
    if m:
        start.settings["block_size"] = int(m.group("n"))
    m = _BATCHED.search(text)
    if m and "max_num_batched_tokens" not in start.settings:
        start.settings["max_num_batched_tokens"] = int(m.group("n"))


class Lines:
    """Reads one vLLM start's memory lines and recomputes them."""

    def __init__(self, start: Start, model: Any) -> None:
        self.start, self.model = start, model
        self.budgets: list[tuple[int, int, str]] = []  # (low, high) bytes each worker printed, and the text
        self.v0_blocks: Optional[int] = None

    # ----- what vLLM ran ---------------------------------------------------------------------

    def _engine(self) -> Any:
        from ..engines import get_engine

        s = self.start.settings
        options = {}
        if "max_num_batched_tokens" in s:
            options["max_num_batched_tokens"] = s["max_num_batched_tokens"]
        version = "0.8.4" if self.start.engine == "v0" else self.start.version
        return get_engine(f"vllm@{version}" if version else "vllm", s.get("block_size"), **options)

    def _kv_dtype(self) -> str:
        s = self.start.settings
        kv = str(s.get("kv_cache_dtype", "auto"))
        return kv if kv != "auto" else str(s.get("dtype", "auto"))

    def _missing(self, max_len: Optional[int]) -> Optional[str]:
        if self.model is None:
            return f"the model is not known to kvcalc ({self.start.model_error}): give --model"
        if max_len is None:
            return "the log does not say max_model_len (max_seq_len)"
        if int(self.start.settings.get("pp", 1)) > 1:
            return "pipeline parallelism: each stage's layers are not modelled by check-log"
        return None

    # ----- the lines -------------------------------------------------------------------------

    def feed(self, n: int, text: str) -> list[Checked]:
        if self.start.engine is None and _V0_ONLY.search(text):
            self.start.engine = "v0"
            self.start.version_evidence = "V0's memory lines (# GPU blocks, Memory profiling): the V0 block rule"
        out = []
        m = _AVAILABLE.search(text)
        if m:
            x = m.group("x")
            lo, hi = bytes_range(float(x), decimals_of(x), GiB)
            self.budgets.append((lo, hi, x))
            out.append(Checked(n, text, "available KV cache memory", float(x), "GiB",
                               rule="the budget, taken as printed (its prediction is kvcalc fit's; #24)"))
        m = _V0_BUDGET.search(text) or _V0_BUDGET_064.search(text)
        if m:
            x = m.group("x")
            lo, hi = bytes_range(float(x), decimals_of(x), GiB)
            self.budgets.append((lo, hi, x))
            out.append(Checked(n, text, "available KV cache memory", float(x), "GiB",
                               rule="the budget, taken as printed"))
        m = _LOADING.search(text)
        if m:
            out.append(Checked(n, text, "weights loaded", float(m.group("x")), m.group("u"),
                               rule="not recomputed: the weights as vLLM loads them are not modelled by check-log"))
        m = _TOKENS.search(text)
        if m:
            out.append(self._tokens(n, text, int(number(m.group("n")))))
        m = _V0_BLOCKS.search(text)
        if m:
            self.v0_blocks = int(m.group("g"))
            out.append(self._v0_blocks(n, text, self.v0_blocks))
        m = _CONCURRENCY.search(text)
        if m:
            out.append(self._concurrency(n, text, int(number(m.group("len"))), m.group("c")))
        return out

    def _pools(self, max_len: int, budget: tuple[int, int, str]) -> tuple[Any, Any, Any]:
        """The pool at both ends of a printed budget, and the engine."""
        from ..engines.vllm import size_pool

        eng = self._engine()
        lo, hi, _ = budget
        tp = int(self.start.settings.get("tp", 1))
        kv = self._kv_dtype()
        return (size_pool(self.model, lo, eng, max_len, kv, tp), size_pool(self.model, hi, eng, max_len, kv, tp), eng)

    def _budgets(self) -> list[tuple[int, int, str]]:
        """The budgets a line may follow from: the smallest (vLLM sizes every worker by it and
        prints once), then each other worker's own (in 0.10 each worker prints its lines from its
        own budget, in no set order)."""
        smallest = min(self.budgets)
        return [smallest] + sorted({b for b in self.budgets if b != smallest})

    def _why_not(self, max_len: Optional[int]) -> Optional[str]:
        why = self._missing(max_len)
        if why is None and not self.budgets:
            why = "the log does not print the KV budget (Available KV cache memory) before this line"
        return why

    def _recompute(self, c: Checked, max_len: Optional[int], figure: str) -> Checked:
        from ..errors import KvcalcError

        why = self._why_not(max_len)
        if why:
            c.rule = f"not recomputed: {why}"
            return c
        assert max_len is not None
        for budget_of in self._budgets():
            try:
                a, b, eng = self._pools(max_len, budget_of)
            except KvcalcError as err:
                c.rule = f"not recomputed: {err}"
                return c
            budget = budget_of[2]
            if figure == "tokens":
                c.computed, c.computed_max = a.kv_cache_tokens, b.kv_cache_tokens
                c.agrees = a.kv_cache_tokens <= c.reported <= b.kv_cache_tokens  # type: ignore[operator]
                how = ("num_blocks // groups x block_size" if a.tokens_rule == "blocks"
                       else "int(concurrency x max_model_len)")
            else:
                c.computed, c.computed_max = round(a.max_concurrency, 4), round(b.max_concurrency, 4)
                c.agrees = agrees_rounded(float(c.reported), 2, a.max_concurrency, b.max_concurrency)  # type: ignore[arg-type]
                how = ("num_blocks x block_size / max_model_len" if a.concurrency_rule == "tokens"
                       else "num_blocks / blocks a request takes")
            if c.agrees:
                break
        c.rule = (f"{how}; {budget} GiB = {a.available_bytes:,}..{b.available_bytes:,} B // {a.block_bytes:,} B a block "
                  f"= {a.num_blocks:,}..{b.num_blocks:,} blocks of {eng.block_size}; max_model_len {max_len:,}; "
                  f"{self._kv_dtype()}; tp {self.start.settings.get('tp', 1)}; rules of vLLM {eng.rules_version}")
        return c

    def _max_model_len(self) -> Optional[int]:
        """max_model_len as printed, else vLLM's default: the model's own context length."""
        printed = self.start.settings.get("max_model_len")
        if printed is None and self.model is not None and self.model.max_context:
            self.start.settings.setdefault("max_model_len (the model's, not printed)", self.model.max_context)
            return int(self.model.max_context)
        return printed

    def _tokens(self, n: int, text: str, tokens: int) -> Checked:
        c = Checked(n, text, "KV cache tokens", tokens, "tokens")
        return self._recompute(c, self._max_model_len(), "tokens")

    def _concurrency(self, n: int, text: str, max_len: int, figure: str) -> Checked:
        c = Checked(n, text, "maximum concurrency", float(figure), "x")
        if self.start.engine == "v0":
            return self._v0_concurrency(c, max_len)
        return self._recompute(c, max_len, "concurrency")

    # ----- V0 --------------------------------------------------------------------------------

    def _v0_block_bytes(self) -> tuple[int, int]:
        """(block bytes, block size) by V0's get_cache_block_size: every attention layer's page."""
        from ..engines.vllm import layer_specs

        eng = self._engine()
        specs = layer_specs(self.model, eng, self._kv_dtype(), int(self.start.settings.get("tp", 1)))
        return sum(page for _, _, page in specs), eng.block_size

    def _v0_blocks(self, n: int, text: str, blocks: int) -> Checked:
        from ..errors import KvcalcError

        c = Checked(n, text, "KV cache blocks", blocks, "blocks")
        why = self._why_not(self._max_model_len() or 1)
        if why is None and self.model.mla is not None and self.start.version and self._older(self.start.version, "0.8.0"):
            why = "MLA in V0 before 0.8.0 (rows padded in 0.7.2-0.7.3, per head before 0.7.1) is not modelled"
        if why:
            c.rule = f"not recomputed: {why}"
            return c
        try:
            block, size = self._v0_block_bytes()
        except KvcalcError as err:
            c.rule = f"not recomputed: {err}"
            return c
        lo, hi, budget = min(self.budgets)
        c.computed, c.computed_max = lo // block, hi // block
        c.agrees = lo // block <= blocks <= hi // block
        c.rule = (f"V0: budget // block bytes; {budget} GiB = {lo:,}..{hi:,} B // {block:,} B (block of {size} tokens, "
                  f"every attention layer, {self._kv_dtype()}, tp {self.start.settings.get('tp', 1)})")
        return c

    def _v0_concurrency(self, c: Checked, max_len: int) -> Checked:
        if self.v0_blocks is None:
            c.rule = "not recomputed: no '# cuda blocks' line before it"
            return c
        size = int(self.start.settings.get("block_size", 16))
        value = self.v0_blocks * size / max_len
        c.computed = round(value, 4)
        c.agrees = agrees_rounded(float(c.reported), 2, value)  # type: ignore[arg-type]
        c.rule = f"V0: {self.v0_blocks:,} blocks x {size} tokens / {max_len:,}"
        return c

    @staticmethod
    def _older(version: str, than: str) -> bool:
        from ..engines.releases import _parse

        a, b = _parse("release", version.lower()), _parse("release", than)
        return a is not None and b is not None and a < b
