"""Generate kvcalc/cli/cli_spec.json: every command's options as the typer app in
kvcalc.cli.app declares them (names, flags, defaults, types), which kvcalc.cli.fastpath reads to
parse the common calls without typer. tests/test_fastpath.py checks it is current.

    python -m kvcalc.generators.cli_spec
"""

from __future__ import annotations

import json

from ..cli.app import _ALL_COMMANDS, app
from ..cli.fastpath import SPEC


def spec() -> dict:
    """Every command's options as typer builds them, for kvcalc.cli.fastpath (cli_spec.json)."""
    import typer.main

    app.registered_commands = list(_ALL_COMMANDS)
    group = typer.main.get_command(app)
    out: dict = {}
    for name, info in ((i.name, i) for i in app.registered_commands):
        command = group.get_command(None, name)  # type: ignore[arg-type]
        options: dict = {}
        params: dict = {}
        arguments: list = []
        for p in command.params:
            kind = {"text": "str", "path": "path", "float": "float", "boolean": "flag"}.get(p.type.name, p.type.name)
            if p.param_type_name == "argument":
                arguments.append([p.name, p.nargs, p.required, kind])
                continue
            if p.is_flag:
                for o in p.opts:
                    options[o] = [p.name, "flag", True]
                for o in p.secondary_opts:
                    options[o] = [p.name, "flag", False]
                default = p.default if p.default is not None else (None if p.secondary_opts else False)
            else:
                for o in p.opts:
                    options[o] = [p.name, kind]
                default = p.default
            params[p.name] = [default, p.required]
        out[name] = {"function": info.callback.__name__, "options": options, "arguments": arguments, "params": params}
    return {"generated_by": "python -m kvcalc.generators.cli_spec", "commands": out}


def main() -> None:
    SPEC.write_text(json.dumps(spec(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {SPEC}")


if __name__ == "__main__":
    main()
