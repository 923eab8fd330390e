"""Writing output files whole or not at all, and only over what is safe to replace.

- The destination is followed through symlinks: the link's target is written, the link kept.
- Only a regular file, or a path that does not exist yet, is written: a directory, a device, a
  FIFO or a socket is refused, and so is a read-only file and any of the command's own inputs.
- The text goes to a temporary file beside the target (a short name, whatever the target's),
  which is renamed over it at the end, or removed on any error or on SIGINT, SIGTERM or SIGHUP.
- A new file gets the umask's mode; a replaced file keeps its own.
"""

from __future__ import annotations

import os
import secrets
import signal
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterable, Iterator

from ..errors import KvcalcError


class Interrupted(BaseException):
    """SIGTERM or SIGHUP while a file was being written (SIGINT is KeyboardInterrupt)."""


def _raise(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind like Ctrl-C while a temporary file exists, so it is removed."""
    saved = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            saved[sig] = signal.signal(sig, _raise)
        except (ValueError, OSError):  # not the main thread: leave signals as they are
            pass
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def check_target(path: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """The real file `path` names, if kvcalc may write it; a one-line KvcalcError otherwise.
    Besides `inputs`, every file this process has read (kvcalc.models.files.INPUTS) is refused."""
    from ..models.files import INPUTS

    inputs = [*inputs, *INPUTS]
    shown = str(path)
    real = Path(os.path.realpath(path))
    try:
        st = real.stat()
    except FileNotFoundError:
        st = None
    except OSError as err:
        raise KvcalcError(f"cannot write {shown}: {err.strerror or err}") from None
    if st is not None:
        kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else None)
        if kind:
            raise KvcalcError(f"cannot write {shown}: it is {kind}, not a regular file")
        if not st.st_mode & 0o222:
            raise KvcalcError(f"cannot write {shown}: it is read-only")
        for given in inputs:
            try:
                if os.path.samefile(given, real):
                    raise KvcalcError(f"cannot write {shown}: it is this command's own input")
            except OSError:
                continue
    folder = real.parent
    if not folder.is_dir():
        raise KvcalcError(f"cannot write {shown}: folder {folder} does not exist")
    return real


@contextmanager
def open_atomic(path: str | Path, mode: str = "w", inputs: Iterable[str | Path] = ()) -> Iterator[IO]:
    """A file to write `path` through: a temporary file in the target's folder, renamed over the
    target when the block ends without error and removed otherwise, so nothing is ever
    half-written. mode "w" gives text (utf-8), "wb" bytes."""
    real = check_target(path, inputs)
    try:
        keep = real.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        keep = 0o666 & ~umask
    tmp = real.parent / f".kvcalc-{secrets.token_hex(6)}.tmp"
    with _signals_raise():  # before the temporary file exists, so that no signal can strand it
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            text = {"encoding": "utf-8", "newline": ""} if "b" not in mode else {}
            with os.fdopen(fd, mode, **text) as f:
                yield f
            os.chmod(tmp, keep)
            os.replace(tmp, real)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise KvcalcError(f"cannot write {path}: {err.strerror or err}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def write_atomic(path: str | Path, text: str, inputs: Iterable[str | Path] = ()) -> None:
    """Write text to path whole or not at all (see open_atomic)."""
    with open_atomic(path, inputs=inputs) as f:
        f.write(text)
