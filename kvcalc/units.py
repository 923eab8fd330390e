"""Parsing sizes such as ``4k`` and printing byte counts for people; machine formats never use these."""

from __future__ import annotations

import re

from .errors import InputError

_SUFFIX = {"": 1, "k": 1024, "m": 1024**2}
_SIZE = re.compile(r"^\s*(\d+)\s*([kKmM]?)\s*$")


def parse_size(text: str | int, what: str) -> int:
    """A positive token or batch count: ``4096``, ``4k`` (= 4096) or ``128k`` (= 131072)."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        m = _SIZE.match(str(text))
        if not m:
            raise InputError(f"{what}: expected a positive whole number such as 4096, 4k or 128k, got {text!r}")
        value = int(m.group(1)) * _SUFFIX[m.group(2).lower()]
    if value <= 0:
        raise InputError(f"{what}: must be > 0, got {text!r}")
    return value


def parse_size_list(text: str, what: str) -> list[int]:
    """A comma-separated list of sizes: ``1k,4k,32k``."""
    parts = [p for p in str(text).split(",") if p.strip()]
    if not parts:
        raise InputError(f"{what}: expected one or more sizes such as 1k,4k, got {text!r}")
    return [parse_size(p, what) for p in parts]


_IEC = (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))
_SI = (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("kB", 1000))


def human_bytes(n: int, units: str = "iec") -> str:
    """``1342177280`` -> ``1.25 GiB`` (iec) or ``1.34 GB`` (si)."""
    for name, size in _IEC if units == "iec" else _SI:
        if abs(n) >= size:
            return f"{n / size:.2f} {name}"
    return f"{n} B"


def saving(ratio: float) -> str:
    """A share of MHA as people say it: ``0.125`` -> ``8x smaller, -87.5%``."""
    if ratio == 1:
        return "baseline"
    if ratio <= 0:
        return "no cache"
    factor = 1 / ratio
    fx = f"{factor:.0f}" if abs(factor - round(factor)) < 1e-9 else f"{factor:.2f}"
    pct = (1 - ratio) * 100
    if ratio < 1:
        return f"{fx}x smaller, -{pct:.4g}%"
    return f"{ratio:.3g}x larger, +{-pct:.4g}%"


def percent(ratio: float) -> str:
    """``0.015625`` -> ``1.56%``."""
    return f"{ratio * 100:.3g}%" if ratio < 0.1 else f"{ratio * 100:.4g}%"
