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
    memory_bytes: int  # total, as the driver reports it (Apple: the unified memory)
    hbm_bandwidth_bytes_per_s: Optional[int]  # peak, vendor datasheet; None in a user's catalog without it
    source: str
    vendor: str = "custom"
    aliases: tuple[str, ...] = ()
    cuda_total_bytes: Optional[int] = None  # what CUDA reports (torch.cuda.mem_get_info()[1]), from a public log
    cuda_total_source: Optional[str] = None
    gpu_working_set_bytes: Optional[int] = None  # Apple: Metal's recommendedMaxWorkingSetSize, what the GPU may wire
    gpu_working_set_source: Optional[str] = None

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


    @property
    def unified(self) -> bool:
        """Apple Silicon: the GPU shares the system memory and may wire only part of it."""
        return self.vendor == "apple" or self.gpu_working_set_bytes is not None

    def working_set(self, wired_limit_bytes: Optional[int] = None) -> tuple[int, str]:
        """(what the GPU may use, the rule): an Apple GPU's recommendedMaxWorkingSetSize, which
        `sudo sysctl iogpu.wired_limit_mb=N` replaces (wired_limit_bytes); else the memory that
        CUDA (NVIDIA) or HIP (AMD) reports."""
        if wired_limit_bytes is not None:
            return wired_limit_bytes, (f"iogpu.wired_limit_mb={wired_limit_bytes >> 20} (given): what macOS lets the "
                                       f"GPU wire of the {self.memory_bytes >> 30} GiB")
        if self.gpu_working_set_bytes is not None:
            return self.gpu_working_set_bytes, f"Metal's recommendedMaxWorkingSetSize: {self.gpu_working_set_source}"
        if self.unified:
            size = apple_working_set(self.memory_bytes)
            return size, (f"Metal's recommendedMaxWorkingSetSize by macOS's default rule ({APPLE_RULE}); "
                          f"iogpu.wired_limit_mb raises it (--wired-limit)")
        if self.vendor == "nvidia":
            return self.cuda_total
        return self.memory_bytes, f"the memory the driver reports ({self.source})"


# macOS's default GPU working set (recommendedMaxWorkingSetSize) on Apple Silicon, macOS 13-15, as
# llama.cpp's Metal backend prints it (logs in gpus.yaml's header): 2/3 of the unified memory (and
# one 16 KiB page) up to 32 GiB, 3/4 from 36 GiB. macOS 26 reports more (0.74 to 0.87 of the memory).
APPLE_RULE = "2/3 of the memory up to 32 GiB, 3/4 from 36 GiB (macOS 13-15; macOS 26 allows more)"
PAGE = 16 << 10  # Apple Silicon's page


def apple_working_set(memory_bytes: int) -> int:
    """recommendedMaxWorkingSetSize by the default rule (APPLE_RULE), in bytes: up to 32 GiB,
    (floor(memory x 2/3 / 16 KiB) + 1) pages (24 GiB -> 17,179,885,568 B); above, memory x 3/4."""
    if memory_bytes <= 32 << 30:
        return (memory_bytes * 2 // 3 // PAGE + 1) * PAGE
    return memory_bytes * 3 // 4


def _schema() -> Any:
    """The strict pydantic schema of a catalog file (built only when a user file is read)."""
    from pydantic import BaseModel, ConfigDict, Field

    class Entry(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)
        name: str = Field(min_length=1)
        aliases: list[str] = []
        vendor: str = "custom"
        memory_bytes: int = Field(gt=0, le=10**18)  # an exabyte: beyond any accelerator
        hbm_bandwidth_bytes_per_s: Optional[int] = Field(default=None, gt=0, le=10**18)  # only decode bounds need it
        source: str = Field(min_length=1)
        cuda_total_bytes: Optional[int] = Field(default=None, gt=0, le=10**18)
        cuda_total_source: Optional[str] = None
        gpu_working_set_bytes: Optional[int] = Field(default=None, gt=0, le=10**18)
        gpu_working_set_source: Optional[str] = None

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
    out = _run(["nvidia-smi", "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"]) or ""
    rows = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            rows.append((parts[0], int(parts[1]) << 20, int(parts[2]) << 20))  # MiB, as the driver counts
    return rows


def _run(args: list[str]) -> str | None:
    """A local tool's stdout, or None when it is missing or fails."""
    import shutil
    import subprocess

    exe = shutil.which(args[0])
    if exe is None:
        return None
    try:
        return subprocess.run([exe, *args[1:]], capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def _mac() -> tuple[str, int, int] | None:
    """(chip, unified memory bytes, iogpu.wired_limit_mb) of this Mac, from sysctl; None elsewhere."""
    import platform

    if platform.system() != "Darwin":
        return None
    chip, memory = _run(["sysctl", "-n", "machdep.cpu.brand_string"]), _run(["sysctl", "-n", "hw.memsize"])
    if not chip or not memory or not memory.strip().isdigit():
        return None
    wired = (_run(["sysctl", "-n", "iogpu.wired_limit_mb"]) or "0").strip()
    return chip.strip(), int(memory), int(wired) if wired.isdigit() else 0


def mac_gpu(gpus: list[GPU], chip: str, memory: int, wired_mb: int) -> GPU:
    """The catalog's entry for this Mac (e.g. Apple M2 Max, 64 GiB -> m2-max-64gb), with the
    wired limit when one is set; a Mac not in the catalog gets macOS's default rule."""
    import re

    slug = re.sub(r"[^a-z0-9]+", "-", chip.lower().replace("apple", "")).strip("-")
    name = f"{slug}-{memory >> 30}gb"
    match = next((g for g in gpus if g.name == name), None)
    wired = wired_mb << 20 if wired_mb else None
    here = f"sysctl on this Mac: {chip}, {memory >> 30} GiB" + (f", iogpu.wired_limit_mb={wired_mb}" if wired_mb else "")
    if match is None:
        return GPU(name, memory, None, f"{here} (not in the catalog: macOS's default rule)", "apple",
                   gpu_working_set_bytes=wired, gpu_working_set_source="iogpu.wired_limit_mb on this Mac" if wired else None)
    if wired:
        return GPU(match.name, memory, match.hbm_bandwidth_bytes_per_s, f"{here}; {match.source}", "apple", match.aliases,
                   gpu_working_set_bytes=wired, gpu_working_set_source=f"iogpu.wired_limit_mb={wired_mb} on this Mac")
    return match


def _rocm() -> list[tuple[str, int]]:
    """(product name, VRAM total bytes) of each local AMD GPU, from rocm-smi's JSON; [] without it."""
    import json

    out = _run(["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--json"])
    try:
        cards = json.loads(out) if out else {}
    except ValueError:
        return []
    rows = []
    for card in cards.values() if isinstance(cards, dict) else []:
        total = str(card.get("VRAM Total Memory (B)", "")) if isinstance(card, dict) else ""
        if total.isdigit():
            rows.append((str(card.get("Card series") or card.get("Card SKU") or "AMD GPU"), int(total)))
    return rows


def local_gpu(gpus: list[GPU]) -> GPU:
    """`--gpu auto`: the first local NVIDIA GPU as nvidia-smi reports it (its own memory.total, the
    catalog's bandwidth for that name), else this Mac (sysctl: chip, memory, wired limit), else the
    first AMD GPU (rocm-smi)."""
    found = _nvidia_smi()
    if not found:
        mac = _mac()
        if mac is not None:
            return mac_gpu(gpus, *mac)
        amd = _rocm()
        if amd:
            return _named_local(gpus, amd[0][0], amd[0][1], None, len(amd), "rocm-smi", "amd")
        raise InputError("--gpu auto: no local GPU found (no nvidia-smi or rocm-smi on PATH, not a Mac); "
                         "name one, e.g. --gpu rtx-4090 (see `kvcalc gpus`)")
    name, total, free = found[0]
    return _named_local(gpus, name, total, free, len(found), "nvidia-smi", "nvidia")


def _named_local(gpus: list[GPU], name: str, total: int, free: int | None, count: int, tool: str, vendor: str) -> GPU:
    key = name.lower()
    match = next((g for g in gpus if key in (n.lower() for n in g.names)), None)
    if match is None:
        raise InputError(f"--gpu auto: the local GPU {name!r} ({total >> 20} MiB) is not in the catalog; add it with "
                         f"--gpu-catalog FILE (name, memory_bytes: {total}, source)")
    more = f"; {count} GPUs found, the first used" if count > 1 else ""
    now = f", {free >> 20} MiB free now" if free is not None else ""
    return GPU(match.name, total, match.hbm_bandwidth_bytes_per_s,
               f"{tool} on this machine: {name}, {total >> 20} MiB{now}{more}; bandwidth: {match.source}",
               vendor, match.aliases)
