"""The quick path: the common calls parsed straight from argv, no typer imported.

`kvcalc/cli/cli_spec.json` lists every command's options as the typer app in `kvcalc.cli.app` declares
them (names, flags, defaults, types); it is generated from that app (`python -m kvcalc.cli.fastpath`)
and tests/test_fastpath.py checks it is current and that both paths answer alike. Anything
unusual (--help, an unknown or repeated option, a missing value, `--`, an attached short value)
is declined: run() returns None and typer handles the call, usage errors included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

SPEC = Path(__file__).with_name("cli_spec.json")
_DECLINE = object()


def _spec() -> dict[str, Any]:
    with open(SPEC, encoding="utf-8") as fh:
        return json.load(fh)


def _convert(value: str, kind: str) -> Any:
    if kind == "str":
        return value
    if kind == "path":
        return Path(value) if value else _DECLINE
    if kind == "float":
        try:
            return float(value)
        except ValueError:
            return _DECLINE
    return _DECLINE


def parse(args: list[str], spec: dict[str, Any]) -> Optional[tuple[str, dict[str, Any]]]:
    """(function name, keyword arguments) for argv, or None to let typer handle it."""
    commands = spec["commands"]
    if not args or args[0] in ("--help", "-h", "--version"):
        return None
    name, rest = (args[0], args[1:]) if args[0] in commands else ("calc", args)
    cmd = commands[name]
    values: dict[str, Any] = {}
    positional: list[str] = []
    i = 0
    while i < len(rest):
        token = rest[i]
        if token.startswith("-") and token != "-":
            flag, eq, attached = token.partition("=")
            opt = cmd["options"].get(flag)
            if opt is None or token in ("--help", "-h"):
                return None
            param, kind = opt[0], opt[1]
            if param in values:
                return None  # repeated: typer's rule (the last wins) is not worth copying
            if kind == "flag":
                if eq:
                    return None
                values[param] = opt[2]
            else:
                if eq:
                    raw = attached
                elif i + 1 < len(rest):
                    i += 1
                    raw = rest[i]
                else:
                    return None  # a missing value: typer says so
                if raw.startswith("-") and raw != "-" and not raw[1:2].isdigit():
                    return None
                value = _convert(raw, kind)
                if value is _DECLINE:
                    return None
                values[param] = value
        else:
            positional.append(token)
        i += 1
    for arg_name, nargs, required, kind in cmd["arguments"]:
        if nargs == -1:
            taken, positional = positional, []
            if required and not taken:
                return None
            values[arg_name] = taken
        elif positional:
            value = _convert(positional.pop(0), kind)
            if value is _DECLINE:
                return None
            values[arg_name] = value
        elif required:
            return None
        else:
            values[arg_name] = None
    if positional:
        return None
    for param, (default, required) in cmd["params"].items():
        if param not in values:
            if required:
                return None
            values[param] = default
    return cmd["function"], values


def run(args: list[str]) -> Any:
    """Run the call and return its Result (kvcalc.call), or None when typer should handle it."""
    try:
        spec = _spec()
    except (OSError, ValueError):  # no spec beside the code (a broken install): typer answers everything
        return None
    parsed = parse(args, spec)
    if parsed is None:
        return None
    from . import commands

    function, kwargs = parsed
    return getattr(commands, function)(**kwargs)
