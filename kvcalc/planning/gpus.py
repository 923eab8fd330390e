"""The GPU catalog: memory as the driver reports it and peak memory bandwidth, each entry with
its source. The shipped catalog (kvcalc/planning/gpus.yaml, validated by the test suite) loads as plain
dataclasses; a user's catalog (--gpu-catalog FILE) goes through the strict schema first."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from ..errors import ConfigError, InputError

CATALOG = Path(__file__).with_name("gpus.yaml")
# nvidia-smi's memory.total less what CUDA reports, on the NVIDIA GPUs of the catalog where public
# logs show both: 353 MiB (RTX 4090) to 762 MiB (A100 80GB), 509 MiB the median; kvcalc takes 512.
DRIVER_RESERVE = 512 << 20


@dataclass(frozen=True)
class GPU:
    name: str
    memory_bytes: int  # total, as the driver reports it
    hbm_bandwidth_bytes_per_s: int  # peak, vendor datasheet
    source: str
    vendor: str = "custom"
    aliases: tuple[str, ...] = ()
    cuda_total_bytes: Optional[int] = None  # what CUDA reports (torch.cuda.mem_get_info()[1]), from a public log
    cuda_total_source: Optional[str] = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def cuda_total(self) -> tuple[int, str]:
        """(the memory CUDA reports, where that figure comes from): a public log's, or derived from
        the driver's total less what the driver keeps (DRIVER_RESERVE) where no log shows it."""
        if self.cuda_total_bytes is not None:
            return self.cuda_total_bytes, self.cuda_total_source or "catalog"
        return (self.memory_bytes - DRIVER_RESERVE,
                f"derived: no public log shows what CUDA reports for a {self.name}; its memory_bytes less "
                f"{DRIVER_RESERVE >> 20} MiB, what the driver keeps on the GPUs whose figure is logged")


def _schema() -> Any:
    """The strict pydantic schema of a catalog file (built only when a user file is read)."""
    from pydantic import BaseModel, ConfigDict, Field

    class Entry(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)
        name: str = Field(min_length=1)
        aliases: list[str] = []
        vendor: str = "custom"
        memory_bytes: int = Field(gt=0, le=10**18)  # an exabyte: beyond any accelerator
        hbm_bandwidth_bytes_per_s: int = Field(gt=0, le=10**18)
        source: str = Field(min_length=1)
        cuda_total_bytes: Optional[int] = Field(default=None, gt=0, le=10**18)
        cuda_total_source: Optional[str] = None

    class Catalog(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)
        gpus: list[Entry] = Field(min_length=1)

    return Catalog


def _from_data(data: Any, path: Path, validate: bool) -> list[GPU]:
    if validate:
        from pydantic import ValidationError

        try:
            data = _schema().model_validate(data).model_dump()
        except ValidationError as err:
            e = err.errors()[0]
            where = ".".join(str(p) for p in e["loc"]) or "(top level)"
            raise ConfigError(f"{path}: {where}: {e['msg']}"[:300]) from None
    out = [GPU(**{**g, "aliases": tuple(g.get("aliases", ()))}) for g in data["gpus"]]
    seen: dict[str, str] = {}
    for gpu in out:
        for n in gpu.names:
            key = str(n).lower()
            if key in seen:
                raise ConfigError(f"{path}: GPU name {n!r} is used twice ({seen[key]} and {gpu.name})")
            seen[key] = gpu.name
    return out


@lru_cache(maxsize=None)
def _load(path: Path, validate: bool) -> tuple[GPU, ...]:
    from ..models.files import parse_yaml, read_text

    if not validate:  # the shipped catalog: from its prebuilt index when that matches
        from ..models.index import load_yaml_data

        data = load_yaml_data(path)
    else:
        data = parse_yaml(read_text(path), path)
    if validate and not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'gpus' list")
    return tuple(_from_data(data, path, validate))


def load_catalog(extra: str | Path | None = None) -> list[GPU]:
    """The shipped GPUs, then those of `extra` (a user's catalog; its names may not clash)."""
    gpus = list(_load(CATALOG, False))
    if extra is not None:
        user = _load(Path(extra), True)
        taken = {n.lower() for g in gpus for n in g.names}
        for g in user:
            clash = next((n for n in g.names if n.lower() in taken), None)
            if clash:
                raise ConfigError(f"{extra}: GPU name {clash!r} is already in the shipped catalog")
        gpus += user
    return gpus


def find_gpu(name: str, extra: str | Path | None = None) -> GPU:
    """A GPU by name or alias, case-insensitive; `auto` is the local GPU; a family name that
    several cards share (a100, h100) lists them rather than picking one; an unknown name says
    what is close."""
    gpus = load_catalog(extra)
    key = name.strip().lower()
    if key == "auto":
        return local_gpu(gpus)
    for g in gpus:
        if key in (n.lower() for n in g.names):
            return g
    family = [g.name for g in gpus if any(n.lower().startswith(key + "-") for n in g.names)] if key else []
    if len(family) > 1:
        raise InputError(f"--gpu {name!r} is ambiguous: {', '.join(family)} (name one; see `kvcalc gpus`)")
    import difflib

    names = [g.name for g in gpus]
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise InputError(f"unknown GPU {name!r}{hint} (see `kvcalc gpus`; add your own with --gpu-catalog FILE)")


def _nvidia_smi() -> list[tuple[str, int, int]]:
    """(name, total bytes, free bytes) of each local NVIDIA GPU, from nvidia-smi; [] without it."""
    import shutil
    import subprocess

    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            rows.append((parts[0], int(parts[1]) << 20, int(parts[2]) << 20))  # MiB, as the driver counts
    return rows


def local_gpu(gpus: list[GPU]) -> GPU:
    """`--gpu auto`: the first local GPU as nvidia-smi reports it (its own memory.total), with the
    catalog's bandwidth for that name; its free memory is noted in the source."""
    found = _nvidia_smi()
    if not found:
        raise InputError("--gpu auto: no local NVIDIA GPU found (nvidia-smi is not on PATH or lists none); "
                         "name one, e.g. --gpu h100-80gb (see `kvcalc gpus`)")
    name, total, free = found[0]
    key = name.lower()
    match = next((g for g in gpus if key in (n.lower() for n in g.names)), None)
    if match is None:
        raise InputError(f"--gpu auto: the local GPU {name!r} ({total >> 20} MiB) is not in the catalog; add it with "
                         f"--gpu-catalog FILE (name, memory_bytes: {total}, hbm_bandwidth_bytes_per_s, source)")
    more = f"; {len(found)} GPUs found, the first used" if len(found) > 1 else ""
    return GPU(match.name, total, match.hbm_bandwidth_bytes_per_s,
               f"nvidia-smi on this machine: {name}, {total >> 20} MiB, {free >> 20} MiB free now{more}; bandwidth: "
               f"{match.source}", match.vendor, match.aliases)
