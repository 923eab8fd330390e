"""Every shipped config: valid under the strict schema, sourced, and equal to its published
config.json (tests/fixtures/hf) on every field the calculation uses."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from kvcalc.models.config import load_yaml
from kvcalc.errors import ConfigError
from kvcalc.models.hf import load_hf_config
from kvcalc.models.registry import load_all, load_model, load_shipped, shipped_files

from .conftest import HF

SHIPPED = shipped_files()
REQUIRED = [
    "llama2-7b", "llama2-13b", "llama2-70b", "llama3-8b", "llama3-70b", "llama3.1-8b", "llama3.1-70b",
    "llama3.1-405b", "llama3.2-1b", "llama3.2-3b", "mistral-7b", "mixtral-8x7b", "mixtral-8x22b",
    "qwen2-0.5b", "qwen2-1.5b", "qwen2-7b", "qwen2-72b", "qwen2.5-7b", "qwen2.5-72b",
    "gemma-2-9b", "gemma-3-12b", "deepseek-v3", "mistral-nemo", "phi-3-mini", "falcon-7b", "qwen3-8b",
    "gpt-oss-20b",
]
COMPARED = ["n_layers", "n_heads", "n_kv_heads", "head_dim", "hidden_size", "intermediate_size", "vocab_size",
            "tie_embeddings", "dtype", "max_context", "sliding_window", "layer_kinds", "mla", "moe", "ssm", "family"]


def fixture_of(path: Path) -> Path:
    note = load_shipped(path).source.note
    match = re.search(r"tests/fixtures/hf/(\S+\.json)", note or "")
    assert match, f"{path.name}: source.note must name the fixture it was checked against"
    return HF / match.group(1)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_config_is_valid_and_loads_the_same_both_ways(path):
    validated = load_yaml(path)  # the strict schema
    assert load_shipped(path) == validated  # the trusted start-up path gives the same model
    assert validated.name == path.stem


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_config_records_its_source(path):
    m = load_shipped(path)
    assert m.hf_id and m.source is not None
    assert m.source.url == f"https://huggingface.co/{m.hf_id}/blob/main/config.json"
    assert m.source.revision
    assert path.read_text().startswith(f"# {m.hf_id}:")


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_config_matches_published_config_json(path):
    shipped = load_shipped(path)
    published = load_hf_config(fixture_of(path))
    for field in COMPARED:
        assert getattr(shipped, field) == getattr(published, field), field


@pytest.mark.parametrize("name", REQUIRED)
def test_required_aliases_ship(name):
    assert load_model(name).name == name


def test_names_and_hf_ids_are_unique_and_case_insensitive():
    seen: dict[str, str] = {}
    for m in load_all():
        for n in m.names:
            assert n.lower() not in seen, f"{n} is claimed by {seen.get(n.lower())} and {m.name}"
            seen[n.lower()] = m.name
    assert load_model("META-LLAMA/llama-2-70b-HF").name == "llama2-70b"
    assert load_model("Llama2-70B").name == "llama2-70b"


def test_unknown_model_suggests():
    with pytest.raises(ConfigError, match=r"unknown model 'llama2-70' ; did you mean llama2-70b|did you mean llama2-70b"):
        load_model("llama2-70")


def test_a_yaml_path_works(tmp_path):
    src = SHIPPED[0].read_text()
    path = tmp_path / "mine.yaml"
    path.write_text(src)
    assert load_model(str(path)).n_layers == load_shipped(SHIPPED[0]).n_layers


def test_the_wheel_carries_configs(tmp_path):
    """A non-editable wheel, installed elsewhere and run from another folder, finds every model
    and the GPU catalog."""
    root = Path(__file__).resolve().parents[1]
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(root)],
        capture_output=True, text=True,
    )
    if build.returncode and "hatchling" in build.stderr:
        pytest.skip("hatchling is not installed (pip install -e '.[test]' brings it)")
    assert build.returncode == 0, build.stderr
    wheel = next((tmp_path / "dist").glob("kvcalc-*.whl"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import kvcalc.models.registry as r, kvcalc.planning.gpus as g; ms = r.load_all(); "
        "assert r.configs_dir().is_relative_to(r'%s'), r.configs_dir(); "
        "assert g.CATALOG.is_relative_to(r'%s') and len(g.load_catalog()) == 100; "
        "import kvcalc.cli.fastpath as f, kvcalc.models.index as i; assert f.SPEC.is_file() and f.parse(['gpus', '-f', 'json'], f._spec()) is not None; "
        "assert i._index(r.configs_dir()) and i._index(g.CATALOG.parent); print(len(ms))" % (target, target)
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=elsewhere, capture_output=True, text=True,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == len(SHIPPED)
