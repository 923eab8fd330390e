"""Reading config files: text and YAML, every failure one ConfigError naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ConfigError


# Every file this process has read as input: an output file must never replace one of them.
INPUTS: set[str] = set()


def note_input(path: str | Path) -> None:
    INPUTS.add(str(path))


def read_text(path: Path) -> str:
    note_input(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read ({err.__class__.__name__}: {err})") from None


def _loader() -> Any:
    """yaml's safe loader (the C one when present) that refuses duplicate keys."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        pass

    def mapping(loader: Any, node: Any) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen[key] = loader.construct_object(value_node, deep=True)
        return seen

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return Loader


def parse_yaml(text: str, origin: str) -> Any:
    """Safe-load YAML text; every error is one line naming origin (and line, column)."""
    import yaml

    try:
        data = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{origin}: malformed YAML{where}: {problem}") from None
    if data is None:
        raise ConfigError(f"{origin}: empty file, expected a model config")
    return data
