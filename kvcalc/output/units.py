"""Parsing sizes such as ``4k`` and printing byte counts for people; machine formats never use these."""

from __future__ import annotations

import re

from ..errors import InputError

_SUFFIX = {"": 1, "k": 1024, "m": 1024**2}
_SIZE = re.compile(r"^\s*(\d{1,20})\s*([kKmM]?)\s*$")
MAX_SIZE = 10**15  # tokens, sequences, GPUs: nothing real comes near


def parse_size(text: str | int, what: str) -> int:
    """A positive token or batch count: ``4096``, ``4k`` (= 4096) or ``128k`` (= 131072)."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        m = _SIZE.match(str(text)[:100])
        if not m and re.match(r"^\s*\d{21,}", str(text)[:100]):
            raise InputError(f"{what}: beyond any size (at most {MAX_SIZE:,}), got a number of {len(str(text).strip())} digits")
        if not m:
            example = "4096, 4k or 128k" if what in ("--seq", "--max-model-len") else "8, 64 or 1k"
            raise InputError(f"{what}: expected a positive whole number such as {example}, got {text!r}")
        value = int(m.group(1)) * _SUFFIX[m.group(2).lower()]
    if value <= 0:
        raise InputError(f"{what}: must be > 0, got {str(text)[:40]!r}")
    if value > MAX_SIZE:
        raise InputError(f"{what}: {value:.3g} is beyond any size (at most {MAX_SIZE:,})")
    return value


class Sizes:
    """A list of sizes made of ranges, never materialised: `1:1000000000` costs nothing until
    it is iterated (kvcalc table streams its rows)."""

    def __init__(self, parts: list[range]) -> None:
        self.parts = parts

    def max(self) -> int | None:
        """The largest value, without walking the ranges."""
        return max((r[-1] for r in self.parts if len(r)), default=None)

    def __len__(self) -> int:
        return sum(len(r) for r in self.parts)

    def __iter__(self):  # type: ignore[no-untyped-def]
        for r in self.parts:
            yield from r



def parse_size_list(text: str, what: str) -> Sizes:
    """A comma-separated list of sizes, each a size or a range START:STOP[:STEP] (STOP included
    when the steps reach it): ``1k,4k,32k``, ``1:64``, ``1k:128k:1k``."""
    parts = [p for p in str(text).split(",") if p.strip()]
    if not parts:
        raise InputError(f"{what}: expected one or more sizes such as 1k,4k, got {text!r}")
    out: list[range] = []
    for part in parts:
        if ":" not in part:
            v = parse_size(part, what)
            out.append(range(v, v + 1))
            continue
        bounds = part.split(":")
        if len(bounds) not in (2, 3):
            raise InputError(f"{what}: a range is START:STOP or START:STOP:STEP, got {part.strip()!r}")
        start, stop = parse_size(bounds[0], what), parse_size(bounds[1], what)
        step = parse_size(bounds[2], what) if len(bounds) == 3 else 1
        if stop < start:
            raise InputError(f"{what}: range {part.strip()!r} ends before it starts")
        out.append(range(start, stop + 1, step))
    return Sizes(out)


_BYTES = re.compile(r"^\s*(\d{1,20}(?:\.\d{1,20})?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)?\s*$", re.IGNORECASE)
MAX_BYTES = 10**18  # an exabyte: beyond any GPU or checkpoint
_BYTE_UNITS = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
               "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4}


def parse_bytes(text: str | int, what: str, allow_zero: bool = False) -> int:
    """A byte count: ``85520809984``, ``80GB`` (10^9), ``2GiB`` (2^30), ``1.5GiB``; floored to whole bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        m = _BYTES.match(str(text)[:100])
        if not m:
            raise InputError(f"{what}: expected a size in bytes such as 85520809984, 80GB or 2GiB, got {str(text)[:40]!r}")
        from fractions import Fraction

        value = int(Fraction(m.group(1)) * _BYTE_UNITS[(m.group(2) or "B").upper()])
    if value < 0 or (value == 0 and not allow_zero):
        raise InputError(f"{what}: must be > 0, got {text!r}")
    if value > MAX_BYTES:
        raise InputError(f"{what}: {value:.3g} B is beyond any GPU or checkpoint (at most {MAX_BYTES:.0e} B)")
    return value


def parse_fraction(text: str | float, what: str) -> float:
    """A share in (0, 1], such as --gpu-memory-utilization 0.9."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InputError(f"{what}: expected a number in (0, 1] such as 0.9, got {text!r}") from None
    if not 0 < value <= 1:
        raise InputError(f"{what}: must be in (0, 1], got {text!r}")
    return value


IEC = (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))
_SI = (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("kB", 1000))


def human_rate(n: float) -> str:
    """``3.35e12`` -> ``3.35 TB/s`` (bandwidths are quoted in SI units)."""
    for name, size in (("TB/s", 1e12), ("GB/s", 1e9), ("MB/s", 1e6)):
        if n >= size:
            return f"{n / size:.3g} {name}"
    return f"{n:.3g} B/s"


def human_bytes(n: int, units: str = "iec") -> str:
    """``1342177280`` -> ``1.25 GiB`` (iec) or ``1.34 GB`` (si)."""
    for name, size in IEC if units == "iec" else _SI:
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
