"""Reading config files: text and YAML, every failure one ConfigError naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError


# Every file this process has read as input: an output file must never replace one of them.
INPUTS: set[str] = set()


def note_input(path: str | Path) -> None:
    INPUTS.add(str(path))


MAX_BYTES = 8 * 1024 * 1024  # no model config comes near; a bigger "config" is a mistake or an attack


def read_text(path: Path) -> str:
    """A config file's text: a regular file of at most MAX_BYTES, checked before reading (a FIFO
    or /dev/zero is refused, never read forever)."""
    import stat

    note_input(path)
    try:
        st = Path(path).stat()
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
            raise ConfigError(f"{path}: not a regular file (a device, FIFO or socket), not a config file")
        if st.st_size > MAX_BYTES:
            raise ConfigError(f"{path}: {st.st_size:,} bytes, more than a config can be ({MAX_BYTES:,} at most)")
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
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"a key must be a plain value, got a {type(key).__name__}", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen[key] = loader.construct_object(value_node, deep=True)
        return seen

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return Loader


MAX_DEPTH = 64  # a model config nests three levels; libyaml's C composer recurses without a guard


def _check_depth(text: str, origin: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before parsing: flow brackets, or indentation."""
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch in "]}":
            depth -= 1
    indents = {len(line) - len(line.lstrip(" ")) for line in text.splitlines() if line.strip()}
    if deepest > MAX_DEPTH or len(indents) > MAX_DEPTH:
        raise ConfigError(f"{origin}: malformed YAML: nested too deep (at most {MAX_DEPTH} levels)")
    import re

    if re.search(r"(^|[\s\[{,:-])[&*][A-Za-z0-9_-]", text, re.M):
        raise ConfigError(f"{origin}: malformed YAML: anchors and aliases (&name, *name) are not allowed in a config")


def parse_yaml(text: str, origin: str) -> Any:
    """Safe-load YAML text; every error is one line naming origin (and line, column)."""
    import yaml

    _check_depth(text, origin)
    try:
        data = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise ConfigError(f"{origin}: malformed YAML: nested too deep") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{origin}: malformed YAML{where}: {problem}") from None
    if data is None:
        raise ConfigError(f"{origin}: empty file, expected a model config")
    return data
