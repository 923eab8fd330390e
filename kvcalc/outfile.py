"""Writing output files whole or not at all."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from .errors import KvcalcError


@contextmanager
def open_atomic(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """A file to write `path` through: a temporary file in the same folder, renamed over `path`
    when the block ends without error and removed otherwise, so nothing is ever half-written.
    mode "w" gives text (utf-8), "wb" bytes."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise KvcalcError(f"cannot write {path}: it is a directory")
    if not folder.is_dir():
        raise KvcalcError(f"cannot write {path}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise KvcalcError(f"cannot write {path}: {err.strerror or err}") from None
    try:
        text = {"encoding": "utf-8", "newline": ""} if "b" not in mode else {}
        with os.fdopen(fd, mode, **text) as f:
            yield f
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise KvcalcError(f"cannot write {path}: {err.strerror or err}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, text: str) -> None:
    """Write text to path whole or not at all (see open_atomic)."""
    with open_atomic(path) as f:
        f.write(text)
