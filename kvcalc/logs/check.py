"""check-log: find each engine start in a log, recognise the runtime, release, model and settings,
and recompute every memory line it printed (kvcalc.logs.vllm, .sglang, .llamacpp).

The log is read once, a line at a time: memory stays constant whatever its size (the lines kept
are the recognised ones). A start begins at a line that names the runtime's release (vLLM's config
line or API server version, SGLang's server_args, llama.cpp's build line) or, in a log without
one, at the first line only that runtime prints.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from typing import Any, Iterator, Optional

from ..errors import InputError, KvcalcError
from . import llamacpp, sglang, vllm
from .reader import Lines, clean, open_log
from .record import Checked, Start

# Each runtime's module: starts(), CLAIMS (lines only it prints, for a log that never names its
# release), HEADS / WHOLE / MEMORY (its memory lines), SETTINGS (its long settings line, if any),
# settings_from(), and Lines, the parser of one start (named: the model by name, else by metadata).
RUNTIMES = {"vllm": vllm, "sglang": sglang, "llama.cpp": llamacpp, "ik_llama.cpp": llamacpp}
_MODULES = {"vllm": vllm, "sglang": sglang, "llama.cpp": llamacpp}  # each module once

# Every line any parser reads has one of these: a line without any is skipped (_relevant).
_KEYS = (
    # vLLM
    "LLM engine (v", "vLLM API server version", "Available KV cache memory", "KV cache size:", "Maximum concurrency",
    " blocks: ", "reserved for KV Cache", "kv_cache_size=", "loading took", "weights took", "non-default args",
    "max_num_batched_tokens=", "block size to",
    # SGLang
    "server_args=", "KV Cache is allocated", "max_total_num_tokens=", "Load weight end", "Memory pool end",
    "Mamba Cache", "sglang",
    # llama.cpp, ik_llama.cpp
    "llama_", "print_info", "llm_load", "build", "version", "KV buffer", "KV self", "Flash Attention", "c^KV",
    "SWA KV cache")
# Cheap first test: every key holds one of these (most lines of a long log hold none).
_ANCHORS = ("KV", "kv", "LLM", "oncurrency", "blocks", "took", "args", "max_", "lock size", "weight", "Memory pool",
            "Mamba", "sglang", "llama", "print_info", "llm_load", "build", "version", "Flash")


def _relevant(raw: str) -> bool:
    """Whether any parser reads this line: two tests of plain substrings, no regex."""
    if "\x1b" in raw:  # colour codes may split a key: clean first (rare)
        raw = clean(raw)
    return any(a in raw for a in _ANCHORS) and any(k in raw for k in _KEYS)


class CheckedLog:
    """Every start found, and every line recognised."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.starts: list[Start] = []

    @property
    def lines(self) -> list[Checked]:
        return [c for s in self.starts for c in s.lines]

    @property
    def agrees(self) -> Optional[bool]:
        checked = [c.agrees for c in self.lines if c.agrees is not None]
        return None if not checked else all(checked)

    @property
    def exit_code(self) -> int:
        """0: every recomputed line agrees; 1: some line does not; 2: no line recognised."""
        if not self.lines:
            return 2
        return 1 if self.agrees is False else 0


@contextmanager
def _offline() -> Iterator[None]:
    """Hub ids are resolved from the local Hugging Face cache only: reading a log never downloads."""
    old = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old


def resolve_model(start: Start, override: Any) -> Any:
    """The model a serving log names (vLLM's model=, SGLang's model_path=) as kvcalc resolves names:
    a shipped model or alias, a hub id in the local cache; a path by its last part. None, with
    start.model_error, when it is not known."""
    from ..models.registry import load_model

    if override is not None:
        start.model = override.name
        return override
    printed = start.settings.get("model")
    start.model_printed = printed
    if not printed:
        start.model_error = "the log does not name the model"
        return None
    tries = [printed]
    cached = re.search(r"models--([^/]+)--([^/]+)", printed)  # a snapshot in the Hugging Face cache
    if cached:
        tries.append(f"{cached.group(1)}/{cached.group(2)}")
    elif "/" in printed and (printed.startswith(("/", ".", "~")) or printed.count("/") > 1):
        tries.append(printed.rstrip("/").rsplit("/", 1)[-1])  # a local path: its folder's name
    with _offline():
        for name in tries:
            try:
                model = load_model(name)
            except KvcalcError:
                model = _by_repo_name(name)
                if model is None:
                    continue
            start.model = model.name
            return model
    start.model_error = f"{printed!r} is neither a shipped model nor in the local Hugging Face cache"
    return None


def _by_repo_name(name: str) -> Any:
    """A shipped model whose Hugging Face id ends in `name` ('Qwen2-7B-Instruct' for
    Qwen/Qwen2-7B-Instruct): how a log names a model served from a local folder."""
    from ..models.registry import load_all

    key = name.strip().lower()
    if not key or "/" in key:
        return None
    for model in load_all():
        if any(n.lower().rsplit("/", 1)[-1] == key for n in model.names if "/" in n):
            return model
    return None


class _Reader:
    """Feeds each line to the parser of the start it belongs to."""

    def __init__(self, override: Any, defaults: Optional[dict[str, Any]] = None) -> None:
        self.override = override
        self.defaults = defaults or {}  # settings the user gave for a log that does not print them
        self.result: Optional[CheckedLog] = None
        self.parser: Any = None
        self.start: Optional[Start] = None

    def _new(self, runtime: str, n: int) -> Start:
        assert self.result is not None
        start = Start(runtime, n, settings=dict(self.defaults))
        self.result.starts.append(start)
        self.start, self.parser = start, None
        return start

    def _parser(self) -> Any:
        """The current start's parser, built when its first memory line needs it."""
        if self.parser is None:
            assert self.start is not None
            s = self.start
            module = RUNTIMES[s.runtime]
            model = resolve_model(s, self.override) if module.NAMED else self.override
            self.parser = module.Lines(s, model)
        return self.parser

    @staticmethod
    def _find_marker(text: str) -> Optional[tuple[str, tuple[str, str, str]]]:
        """(runtime, (engine, version, evidence)) of a line naming a runtime's release, else None."""
        for runtime, module in _MODULES.items():
            found = module.starts(text)
            if found is not None:
                return runtime, found
        return None

    def _marker(self, n: int, marker: tuple[str, tuple[str, str, str]]) -> None:
        """A line naming a runtime's release: a new start, or the current one's version."""
        runtime, (engine, version, evidence) = marker
        s = self.start
        same = s is not None and s.runtime.endswith(runtime) and not s.lines
        if not same or (s is not None and s.version_source == "printed" and s.version != version and not engine):
            s = self._new(runtime, n)
        assert s is not None
        if version and (s.version_source != "printed" or engine):
            s.version, s.version_source, s.version_evidence = version, "printed", evidence
        if engine:
            s.engine = engine

    def feed(self, n: int, raw: str, lines: Lines) -> None:
        if not _relevant(raw):  # most lines of a long log: a few substring tests, nothing more
            return
        text = clean(raw)
        marker = self._find_marker(text)
        if marker is None and not any(m.WHOLE.search(text) for m in _MODULES.values()):
            text = lines.continued(text)  # a line a terminal cut: the lines after it that start no record
            marker = self._find_marker(text)
        if marker is not None:
            self._marker(n, marker)
        if self.start is None:
            for runtime, module in RUNTIMES.items():
                if module.CLAIMS.search(text):
                    self._new(runtime, n)
                    break
            else:
                return
        assert self.start is not None
        module = RUNTIMES[self.start.runtime]
        if any(h in text for h in module.SETTINGS):
            text = lines.continued(text)  # the long settings line, if a terminal wrapped it
        module.settings_from(self.start, text)
        if any(h in text for h in module.HEADS) and not module.WHOLE.search(text):
            text = lines.joined(text, module.WHOLE) or text  # a line the terminal wrapped
        if module.EVERY_LINE or module.MEMORY.search(text):
            found = self._parser().feed(n, text)
            for c in found:
                c.start = len(self.result.starts) - 1  # type: ignore[union-attr]
            self.start.lines.extend(found)


def check_log(path: str, override: Any = None, defaults: Optional[dict[str, Any]] = None) -> CheckedLog:
    """Read the log at `path` (``-``: stdin; gzip or text) and check every memory line it printed,
    against `override` (a Model) where given, else the model the log names; `defaults` are
    settings (tp) for a log that does not print them."""
    result = CheckedLog(path)
    reader = _Reader(override, defaults)
    reader.result = result
    with open_log(path) as stream:
        lines = Lines(stream)
        for n, raw in lines:
            reader.feed(n, raw, lines)
    result.starts = [s for s in result.starts if s.lines]
    if not result.starts:
        raise NoLines(f"{path}: no memory line kvcalc recognises (vLLM, SGLang, llama.cpp or ik_llama.cpp "
                      f"startup lines)")
    return result


class NoLines(InputError):
    """A readable log without one line kvcalc recognises (exit 2)."""
