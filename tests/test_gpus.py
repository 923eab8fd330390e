"""The GPU catalog: complete, sourced, validated, and extensible."""

from __future__ import annotations

import pytest
import yaml

from kvcalc.planning import gpus as g
from kvcalc.errors import ConfigError, InputError

REQUIRED = ["h100-80gb", "h200", "a100-40gb", "a100-80gb", "l40s", "l4", "rtx-4090", "rtx-3090", "mi300x", "b200",
            "a10g", "a10", "t4", "a100-40gb-pcie", "a100-80gb-pcie", "h100-pcie", "h100-nvl", "h800", "h20", "h200-nvl",
            "gh200", "gb200", "rtx-5090", "rtx-a6000", "rtx-6000-ada", "l40", "mi250x", "mi325x"]


def test_shipped_catalog_passes_the_strict_schema_and_has_every_required_gpu():
    data = yaml.safe_load(g.CATALOG.read_text())
    assert [x.name for x in g._from_data(data, g.CATALOG, validate=True)] == [x.name for x in g.load_catalog()]
    assert [x.name for x in g.load_catalog()][:len(REQUIRED)] == REQUIRED
    local = {x.name for x in g.load_catalog()[len(REQUIRED):]}
    assert {"rtx-3060-12gb", "rtx-4070-ti-super", "rtx-5080", "rx-7900-xtx", "m1-8gb", "m2-max-64gb", "m3-ultra-512gb",
            "m4-max-128gb"} <= local
    assert all(x.source and x.memory_bytes > 0 and x.hbm_bandwidth_bytes_per_s > 0 for x in g.load_catalog())


def test_memory_is_what_the_driver_reports():
    assert g.find_gpu("h100-80gb").memory_bytes == 81559 * 2**20 == 85_520_809_984  # nvidia-smi 81559MiB
    assert g.find_gpu("h100-pcie").memory_bytes == 81559 * 2**20  # the same memory.total, PCIe
    assert g.find_gpu("h100-pcie").hbm_bandwidth_bytes_per_s == 2_000_000_000_000  # not the SXM card's 3.35 TB/s
    assert g.find_gpu("NVIDIA H100 NVL").memory_bytes == 95830 * 2**20
    assert g.find_gpu("a10g").memory_bytes == 23028 * 2**20 and g.find_gpu("gb200").memory_bytes == 189471 * 2**20
    assert g.find_gpu("NVIDIA GeForce RTX 4090").memory_bytes == 24564 * 2**20
    assert g.find_gpu("mi300x").memory_bytes == 201310208 * 1024  # HSA pool 201310208 KB


def test_unknown_gpu_suggests():
    with pytest.raises(InputError, match="did you mean h100-80gb"):
        g.find_gpu("h100-80g")


def test_user_catalog_adds_gpus(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("gpus:\n  - name: my-gpu\n    memory_bytes: 1000\n    hbm_bandwidth_bytes_per_s: 5\n    source: lab\n")
    assert g.find_gpu("my-gpu", f).memory_bytes == 1000


@pytest.mark.parametrize("text, message", [
    ("gpus:\n  - name: x\n    memory_bytes: -1\n    hbm_bandwidth_bytes_per_s: 5\n    source: s\n", "gpus.0.memory_bytes"),
    ("gpus:\n  - name: x\n    memory_bytes: 1\n    hbm_bandwidth_bytes_per_s: 5\n", "gpus.0.source"),
    ("gpus:\n  - name: h100-sxm\n    memory_bytes: 1\n    hbm_bandwidth_bytes_per_s: 5\n    source: s\n", "already in the shipped"),
    ("gpus: [\n", "mine.yaml"),
    ("- 1\n", "expected a mapping"),
])
def test_bad_user_catalog(tmp_path, text, message):
    f = tmp_path / "mine.yaml"
    f.write_text(text)
    with pytest.raises((ConfigError, InputError), match=message):
        g.load_catalog(f)


def test_the_catalog_has_at_least_25_accelerators_each_with_a_source():
    gpus = g.load_catalog()
    assert len(gpus) >= 25 and {x.vendor for x in gpus} == {"nvidia", "amd", "apple"}
    assert all(len(x.source) > 40 for x in gpus)


@pytest.mark.parametrize("family, choices", [("a100", "a100-40gb, a100-80gb, a100-40gb-pcie, a100-80gb-pcie"),
                                             ("h100", "h100-80gb, h100-pcie, h100-nvl")])
def test_an_ambiguous_name_lists_its_choices(family, choices):
    with pytest.raises(InputError, match=f"--gpu '{family}' is ambiguous: {choices} "):
        g.find_gpu(family)


def _fake_smi(tmp_path, monkeypatch, line):
    smi = tmp_path / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\nprintf '%s\\n' '{line}'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")


def test_gpu_auto_reads_the_local_gpu(tmp_path, monkeypatch):
    _fake_smi(tmp_path, monkeypatch, "NVIDIA H100 NVL, 95830, 90000")
    gpu = g.find_gpu("auto")
    # memory as this driver reports it: 95830 MiB x 2^20 = 100,485,038,080 B; bandwidth from the catalog's H100 NVL
    assert (gpu.name, gpu.memory_bytes, gpu.hbm_bandwidth_bytes_per_s) == ("h100-nvl", 100_485_038_080, 3_900_000_000_000)
    assert "90000 MiB free now" in gpu.source


def test_gpu_auto_without_a_gpu_or_with_an_unknown_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InputError, match="no local GPU found"):
        g.find_gpu("auto")
    _fake_smi(tmp_path, monkeypatch, "NVIDIA Quadro X, 1024, 1000")
    with pytest.raises(InputError, match="'NVIDIA Quadro X' .1024 MiB. is not in the catalog"):
        g.find_gpu("auto")
