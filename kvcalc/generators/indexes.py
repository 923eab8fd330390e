"""Generate the indexes of the shipped YAML files (kvcalc.models.index reads them).

    python -m kvcalc.generators.indexes     # after editing a shipped YAML (tests/test_index.py checks)
"""

from __future__ import annotations

import json
from pathlib import Path

from ..models.files import parse_yaml
from ..models.index import INDEX_NAME, PACKAGE, _stamp, configs_dir


def build(folder: Path, names: list[str]) -> str:
    """The index text for these YAML files of folder."""
    files = {}
    for name in sorted(names):
        text = (folder / name).read_text(encoding="utf-8")
        files[name] = {"stamp": _stamp(text), "data": parse_yaml(text, name)}
    return json.dumps({"generated_by": "python -m kvcalc.generators.indexes", "files": files}, indent=1, sort_keys=False) + "\n"


def targets() -> list[tuple[Path, list[str]]]:
    """(folder, YAML file names) of every shipped index."""
    configs = configs_dir()
    return [(configs, sorted(p.name for p in configs.glob("*.yaml"))), (PACKAGE / "planning", ["gpus.yaml"])]


def main() -> None:
    for folder, names in targets():
        (folder / INDEX_NAME).write_text(build(folder, names), encoding="utf-8")
        print(f"wrote {folder / INDEX_NAME} ({len(names)} files)")


if __name__ == "__main__":
    main()


