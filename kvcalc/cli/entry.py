"""The console entry point: one line for every error, quiet on a broken pipe, and the quick path.

`kvcalc.cli.fastpath` answers the common calls straight from argv (no typer: a third of the
start-up); anything it does not fully understand (--help, a usage error, an option it does not
know) goes to the typer app in `kvcalc.cli.app`, which is the contract both follow. KVCALC_FASTPATH=0
sends every call to typer (the tests compare both)."""

from __future__ import annotations

import os
import sys

from ..errors import KvcalcError, one_line

_TOUR = [
    ("kvcalc llama2-70b --seq 4096", "KV cache as published, MHA, GQA and MQA"),
    ("kvcalc compare llama2-70b --kv-heads all --seq 4k", "every head configuration side by side"),
    ("kvcalc fit llama2-70b --gpu h100-80gb --seq 4k", "what fits on the GPUs"),
    ("kvcalc model.gguf --seq 16k --engine llama.cpp", "what llama.cpp allocates"),
    ("kvcalc list", "the shipped models"),
]
SHORT_USAGE = (
    "Usage: kvcalc MODEL --seq TOKENS [OPTIONS]  |  kvcalc COMMAND [ARGS]...\n\n"
    + "".join(f"  {cmd.ljust(52)}{what}\n" for cmd, what in _TOUR)
    + "\nkvcalc --help lists every command; kvcalc COMMAND --help its options.\n"
)


class _StdoutGone(BaseException):
    """stdout's reader went away (a broken pipe): not click's business, nor an error."""


class _StdoutFailed(BaseException):
    """stdout is closed, or full: one line on stderr."""


class _GuardedStdout:
    """sys.stdout with its failures turned into _StdoutGone / _StdoutFailed, which click's own
    handling (exit 1 on a broken pipe) does not intercept."""

    def __init__(self, stream: object) -> None:
        self._stream = stream

    def _call(self, name: str, *args: object) -> object:
        if self._stream is None:
            raise _StdoutFailed("standard output is closed")
        try:
            return getattr(self._stream, name)(*args)
        except BrokenPipeError:
            raise _StdoutGone() from None
        except (OSError, ValueError) as err:
            raise _StdoutFailed(getattr(err, "strerror", None) or str(err)) from None

    def write(self, text: str) -> object:
        return self._call("write", text)

    def flush(self) -> object:
        return None if self._stream is None else self._call("flush")  # nothing written, nothing to fail

    def isatty(self) -> bool:
        return bool(self._stream is not None and self._stream.isatty())

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: every KvcalcError or usage error is one line on stderr; a broken pipe
    ends quietly (exit 141), a closed or full stdout is one line (exit 74), an interrupted write
    leaves no file and says "kvcalc: aborted"."""
    real_stdout = sys.stdout
    for stream in (real_stdout, sys.stderr):  # any terminal encoding: what it cannot show is replaced
        try:
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
    sys.stdout = _GuardedStdout(real_stdout)  # type: ignore[assignment]
    try:
        _run(argv)
    except _StdoutGone:
        _quiet_stdout(real_stdout)
        sys.exit(141)  # the shell's status for a writer killed by SIGPIPE
    except _StdoutFailed as err:
        _quiet_stdout(real_stdout)
        print(f"kvcalc: error: cannot write to standard output: {err.args[0] if err.args else 'failed'}", file=sys.stderr)
        sys.exit(74)  # EX_IOERR
    finally:
        if isinstance(sys.stdout, _GuardedStdout):
            sys.stdout = real_stdout


def _quiet_stdout(stream: object) -> None:
    """Point stdout at /dev/null so that the interpreter's final flush raises nothing more."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):
        pass


def _run(argv: list[str] | None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stdout.write(SHORT_USAGE)  # bare `kvcalc`: one short usage, not the whole help
        sys.exit(0)
    try:
        result = None
        if os.environ.get("KVCALC_FASTPATH", "1") != "0":
            from .fastpath import run

            result = run(args)
        if result is None:
            from .app import run_typer

            result = run_typer(args)
    except KvcalcError as err:
        print(f"kvcalc: error: {one_line(str(err))}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("kvcalc: aborted", file=sys.stderr)
        sys.exit(130)
    except BaseException as err:
        if type(err).__name__ == "Interrupted":  # SIGTERM / SIGHUP during a write: the file was cleaned
            print("kvcalc: aborted", file=sys.stderr)
            sys.exit(128 + int(err.args[0]) if err.args else 143)
        raise
    sys.stdout.flush()
    for line in result.warnings:  # said after the answer, once it has succeeded
        print(line, file=sys.stderr)
    sys.exit(result.code or 0)
