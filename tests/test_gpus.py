"""The GPU catalog: complete, sourced, validated, and extensible."""

from __future__ import annotations

import pytest
import yaml

from kvcalc import gpus as g
from kvcalc.errors import ConfigError, InputError

REQUIRED = ["h100-80gb", "h200", "a100-40gb", "a100-80gb", "l40s", "l4", "rtx-4090", "rtx-3090", "mi300x", "b200"]


def test_shipped_catalog_passes_the_strict_schema_and_has_every_required_gpu():
    data = yaml.safe_load(g.CATALOG.read_text())
    assert [x.name for x in g._from_data(data, g.CATALOG, validate=True)] == [x.name for x in g.load_catalog()]
    assert [x.name for x in g.load_catalog()] == REQUIRED
    assert all(x.source and x.memory_bytes > 0 and x.hbm_bandwidth_bytes_per_s > 0 for x in g.load_catalog())


def test_memory_is_what_the_driver_reports():
    assert g.find_gpu("h100").memory_bytes == 81559 * 2**20 == 85_520_809_984  # nvidia-smi 81559MiB
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
    ("gpus:\n  - name: h100\n    memory_bytes: 1\n    hbm_bandwidth_bytes_per_s: 5\n    source: s\n", "already in the shipped"),
    ("gpus: [\n", "mine.yaml"),
    ("- 1\n", "expected a mapping"),
])
def test_bad_user_catalog(tmp_path, text, message):
    f = tmp_path / "mine.yaml"
    f.write_text(text)
    with pytest.raises((ConfigError, InputError), match=message):
        g.load_catalog(f)
