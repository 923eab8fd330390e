"""Prebuilt indexes of the shipped YAML files (configs/*.yaml, kvcalc/planning/gpus.yaml), so that
answering for a shipped model imports no YAML parser. An index holds each file's parsed data with
its length and CRC-32; a file whose text no longer matches (edited in a checkout) is parsed from
its YAML as before, so a stale index costs time, never a wrong answer.

    python -m kvcalc.generators.indexes     # rebuild after editing a shipped YAML (tests/test_index.py checks)
"""

from __future__ import annotations

import json
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from .files import parse_yaml, read_text

INDEX_NAME = "index.json"
PACKAGE = Path(__file__).resolve().parents[1]  # kvcalc/


def configs_dir() -> Path:
    """configs/ inside the installed package (wheel), else the source checkout's configs/."""
    from ..errors import ConfigError

    for candidate in (PACKAGE / "configs", PACKAGE.parent / "configs"):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"no configs/ folder found beside {PACKAGE}")


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
