"""A startup log as people paste it, read one line at a time in constant memory.

What is undone here, so that the runtimes' parsers see each line as the runtime printed it:

- a gzipped file (read by its magic bytes, whatever its name); ``-`` is stdin;
- bytes that are not UTF-8 (replaced), Windows and old-Mac line ends;
- ANSI colour and cursor codes;
- the process prefixes Ray and vLLM put before a worker's lines: ``(EngineCore_0 pid=1812)``,
  ``(VllmWorker rank=0 pid=7)``, ``(RayWorkerWrapper pid=9, ip=10.0.0.1)``;
- Ray's ``[repeated 3x across cluster]`` suffix (the line is kept once);
- a line hard-wrapped by a terminal: a parser that sees a line start one of its messages but not
  end it asks for the next one or two joined to it (``Lines.joined``).
"""

from __future__ import annotations

import gzip
import io
import re
import sys
from collections import deque
from typing import IO, Iterator, Optional

from ..errors import InputError

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
# "(EngineCore_0 pid=1812) ", "(VllmWorker rank=0 pid=123) ", "(RayWorkerWrapper pid=1, ip=10.0.0.1) ",
# "(APIServer pid=1) ", possibly nested ("(pid=1) (EngineCore pid=2) ").
_PREFIX = re.compile(r"^(?:\s*\((?:[A-Za-z_][\w.-]*\s+)?(?:[A-Za-z_]+=[^,()\s]+(?:,?\s*))+\)\s)+")
_REPEATED = re.compile(r"\s*\[repeated \d+x across cluster\]\s*$")
# The head of a new log record (a level, a timestamp, a bracket, a worker prefix, a llama.cpp function):
# a line without one continues the line before it, where a terminal wrapped it.
RECORD = re.compile(r"^(?:\(|\[|# |INFO|WARNING|WARN|DEBUG|ERROR|CRITICAL|\d{1,4}[-/:]|[a-z][a-z0-9]*_[a-z0-9_]*: |"
                    r"(?:main|srv|slot|build|system_info|print_info): |[A-Z][\w ]*:)")
MAX_LINE = 1 << 20  # a "line" longer than 1 MiB is cut there: no log line is, and memory stays bounded


def clean(raw: str) -> str:
    """One line as the runtime printed it: without colour codes, worker prefix, Ray's repeat suffix
    or line end."""
    text = raw.rstrip("\r\n")
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if text.startswith(("(", " (")):
        text = _PREFIX.sub("", text, count=1)
    if text.endswith("]") and "repeated" in text:
        text = _REPEATED.sub("", text)
    return text


def open_log(path: str) -> IO[str]:
    """The log at `path` (``-``: stdin) as text, gunzipped when it is gzip, whatever its name."""
    try:
        if path == "-":
            raw: IO[bytes] = sys.stdin.buffer
        else:
            raw = open(path, "rb")
        buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type]
        if buffered.peek(2)[:2] == b"\x1f\x8b":
            buffered = gzip.GzipFile(fileobj=buffered)  # type: ignore[assignment]
        return io.TextIOWrapper(buffered, encoding="utf-8", errors="replace", newline=None)
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a log file") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read the log ({err.strerror or err})") from None


class Lines:
    """The raw lines of a log with their 1-based numbers (``clean`` them: a caller that skips most
    lines skips their cleaning too); a caller may take the next lines into the current one (a
    terminal's hard wrap) with ``continued`` or ``joined``."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._ahead: deque[tuple[int, str]] = deque()
        self.number = 0  # lines read so far

    def _readline(self) -> str:
        try:
            return self._stream.readline(MAX_LINE)
        except (OSError, EOFError, gzip.BadGzipFile) as err:
            raise InputError(f"the log cannot be read to its end ({err})") from None

    def __iter__(self) -> Iterator[tuple[int, str]]:
        readline, ahead = self._readline, self._ahead
        while True:
            if ahead:
                yield ahead.popleft()
                continue
            raw = readline()
            if not raw:
                return
            self.number += 1
            yield self.number, raw

    def peek(self, n: int) -> list[str]:
        """The next n lines (cleaned), without consuming them."""
        while len(self._ahead) < n:
            raw = self._readline()
            if not raw:
                break
            self.number += 1
            self._ahead.append((self.number, raw))
        return [clean(t) for _, t in list(self._ahead)[:n]]

    def continued(self, text: str, most: int = 64) -> str:
        """`text` with the lines after it that do not start a new record (a long line a terminal
        wrapped: vLLM's config line, SGLang's server_args), consuming them."""
        ahead = self.peek(most)
        k = 0
        while k < len(ahead) and ahead[k] and not RECORD.match(ahead[k]):
            k += 1
        for _ in range(k):
            self._ahead.popleft()
        return text + "".join(ahead[:k])

    def joined(self, text: str, complete: "re.Pattern[str]", most: int = 2) -> Optional[str]:
        """`text` joined to the next one or two lines when that makes `complete` match (a line a
        terminal wrapped), consuming them; None when no join matches."""
        ahead = self.peek(most)
        for k in range(1, len(ahead) + 1):
            candidate = text + "".join(ahead[:k])
            if complete.search(candidate):
                for _ in range(k):
                    self._ahead.popleft()
                return candidate
        return None
