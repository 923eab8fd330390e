"""Reading config files: text and YAML, every failure one ConfigError naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ConfigError


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read ({err.__class__.__name__}: {err})") from None


def parse_yaml(text: str, origin: str) -> Any:
    """yaml.safe_load (the C loader when present), errors as one line naming origin."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{origin}: malformed YAML{where}: {problem}") from None
    if data is None:
        raise ConfigError(f"{origin}: empty file, expected a model config")
    return data
