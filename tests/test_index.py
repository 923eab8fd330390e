"""The prebuilt indexes of shipped YAML (configs/index.json, kvcalc/planning/index.json) are current, and
a file edited after the index was built is read from its YAML, not from the stale index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kvcalc.generators import indexes
from kvcalc.models import index


def test_committed_indexes_are_current() -> None:
    for folder, names in indexes.targets():
        committed = (folder / index.INDEX_NAME).read_text(encoding="utf-8")
        assert committed == indexes.build(folder, names), f"{folder}/index.json is stale: run python -m kvcalc.generators.indexes"


def test_an_edited_file_is_read_from_its_yaml(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("name: a\nn_layers: 2\n")
    (tmp_path / index.INDEX_NAME).write_text(indexes.build(tmp_path, ["m.yaml"]))
    index._index.cache_clear()
    assert index.load_yaml_data(tmp_path / "m.yaml") == {"name": "a", "n_layers": 2}
    (tmp_path / "m.yaml").write_text("name: a\nn_layers: 3\n")  # same length, new text
    assert index.load_yaml_data(tmp_path / "m.yaml") == {"name": "a", "n_layers": 3}
    index._index.cache_clear()


def test_a_broken_index_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("name: b\n")
    (tmp_path / index.INDEX_NAME).write_text("{not json")
    index._index.cache_clear()
    assert index.load_yaml_data(tmp_path / "m.yaml") == {"name": "b"}
    index._index.cache_clear()


def test_a_shipped_model_is_answered_without_yaml_or_pydantic() -> None:
    code = ("import sys; from kvcalc.models.registry import load_model; from kvcalc.planning.gpus import find_gpu; "
            "load_model('llama2-70b'); find_gpu('h100-80gb'); "
            "print(sorted(m for m in ('yaml', 'pydantic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.replace("'", '"')) == []
