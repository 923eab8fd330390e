"""Prebuilt indexes of the shipped YAML files (configs/*.yaml, kvcalc/gpus.yaml), so that
answering for a shipped model imports no YAML parser. An index holds each file's parsed data with
its length and CRC-32; a file whose text no longer matches (edited in a checkout) is parsed from
its YAML as before, so a stale index costs time, never a wrong answer.

    python -m kvcalc.index      # rebuild after editing a shipped YAML (tests/test_index.py checks)
"""

from __future__ import annotations

import json
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from .files import parse_yaml, read_text

INDEX_NAME = "index.json"


def _stamp(text: str) -> list[int]:
    raw = text.encode("utf-8")
    return [len(raw), zlib.crc32(raw)]


@lru_cache(maxsize=None)
def _index(folder: Path) -> dict[str, Any]:
    try:
        with open(folder / INDEX_NAME, encoding="utf-8") as fh:
            data = json.load(fh)
        return data["files"] if isinstance(data, dict) and isinstance(data.get("files"), dict) else {}
    except (OSError, ValueError):
        return {}


def load_yaml_data(path: Path) -> Any:
    """The parsed data of a shipped YAML file: from the index when it matches the file's text."""
    text = read_text(path)
    entry = _index(path.parent).get(path.name)
    if isinstance(entry, dict) and entry.get("stamp") == _stamp(text):
        return json.loads(json.dumps(entry["data"]))  # a private copy: callers may change it
    return parse_yaml(text, str(path))


def build(folder: Path, names: list[str]) -> str:
    """The index text for these YAML files of folder."""
    files = {}
    for name in sorted(names):
        text = (folder / name).read_text(encoding="utf-8")
        files[name] = {"stamp": _stamp(text), "data": parse_yaml(text, name)}
    return json.dumps({"generated_by": "python -m kvcalc.index", "files": files}, indent=1, sort_keys=False) + "\n"


def targets() -> list[tuple[Path, list[str]]]:
    """(folder, YAML file names) of every shipped index."""
    from .registry import configs_dir

    here = Path(__file__).resolve().parent
    configs = configs_dir()
    return [(configs, sorted(p.name for p in configs.glob("*.yaml"))), (here, ["gpus.yaml"])]


def main() -> None:
    for folder, names in targets():
        (folder / INDEX_NAME).write_text(build(folder, names), encoding="utf-8")
        print(f"wrote {folder / INDEX_NAME} ({len(names)} files)")


if __name__ == "__main__":
    main()


