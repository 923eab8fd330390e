"""Every command's --format json validates against its committed JSON Schema (schemas/), over
the sample calls schemas/make_schemas.py infers them from; and the schemas are not vacuous: a
field renamed, retyped, dropped or added is refused."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
_spec = importlib.util.spec_from_file_location("make_schemas", SCHEMAS / "make_schemas.py")
make_schemas = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_schemas)  # type: ignore[union-attr]
SAMPLES = [(command, argv) for command, argvs in make_schemas.samples().items() for argv in argvs]


def schema(command: str) -> dict:
    return json.loads((SCHEMAS / f"{command}.schema.json").read_text())


def output(run_cli, argv: list[str]) -> dict:
    code, out, err = run_cli(*argv)
    assert code in (0, 1), err  # measure exits 1 on a mismatch, still printing its JSON
    return json.loads(out)


def test_every_command_has_a_schema() -> None:
    names = {p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json")}
    assert names == {c for c, _ in SAMPLES}
    assert {"calc", "list", "show", "compare", "table", "fit", "fit-kv-memory", "plan", "gpus", "chart", "measure"} <= names


@pytest.mark.parametrize("command, argv", SAMPLES, ids=[" ".join(a)[:80] for _, a in SAMPLES])
def test_output_validates(run_cli, command: str, argv: list[str]) -> None:
    if command == "measure":
        pytest.importorskip("torch")
    jsonschema.validate(output(run_cli, argv), schema(command))


def _first_key(doc: dict) -> str:
    return next(iter(doc))


@pytest.mark.parametrize("command, argv", [s for s in SAMPLES if s[0] != "measure"][::4])
def test_a_changed_contract_is_refused(run_cli, command: str, argv: list[str]) -> None:
    doc, sch = output(run_cli, argv), schema(command)
    key = next(k for k in sch["required"])
    renamed = copy.deepcopy(doc)
    renamed[key + "_renamed"] = renamed.pop(key)
    retyped = copy.deepcopy(doc)
    retyped[key] = {"not": "what the contract says"}
    for bad in (renamed, retyped):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, sch)


def test_a_byte_count_must_be_an_integer(run_cli) -> None:
    doc = output(run_cli, ["llama2-70b", "--seq", "4k", "-f", "json"])
    doc["kv_cache_bytes"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema("calc"))
