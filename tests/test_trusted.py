"""The quick path past the schema (kvcalc.models.trusted) accepts only what the strict schema accepts,
and builds the same Model; every shipped config and every published config.json takes it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from kvcalc.models.config import validate
from kvcalc.errors import ConfigError
from kvcalc.models.hf import from_hf_dict
from kvcalc.models.registry import load_all
from kvcalc.models.trusted import trusted_model

HF = sorted((Path(__file__).parent / "fixtures" / "hf").glob("*.json"))
BAD_VALUES = [0, -1, True, False, None, "7", 1.5, 10**16, [], {}, "", " ", "x\ny", "Z" * 201]


def _schema(data):
    try:
        return validate(copy.deepcopy(data), "test")
    except ConfigError:
        return None


def _same(data) -> None:
    quick = trusted_model(copy.deepcopy(data))
    if quick is not None:  # the quick path may decline; it may never differ
        assert quick == _schema(data)


@pytest.mark.parametrize("model", load_all(), ids=lambda m: m.name)
def test_every_shipped_config_takes_the_quick_path(model) -> None:
    data = model.to_dict()
    assert trusted_model(copy.deepcopy(data)) == validate(copy.deepcopy(data), "x") == model


@pytest.mark.parametrize("path", HF, ids=lambda p: p.stem)
def test_every_published_config_json_takes_the_quick_path(path, monkeypatch) -> None:
    import kvcalc.models.config

    seen = []
    monkeypatch.setattr(kvcalc.models.config, "validate", lambda data, origin: seen.append(data))
    from_hf_dict(json.loads(path.read_text()), str(path))
    assert seen == [], "the published config.json fell back to the slow schema"


def _mutants(data):
    for key in [*data, "unknown_key"]:
        for bad in BAD_VALUES:
            yield {**data, key: bad}
        yield {k: v for k, v in data.items() if k != key}
    for block in ("source", "mla", "moe", "ssm"):
        if isinstance(data.get(block), dict):
            for key in [*data[block], "extra"]:
                for bad in BAD_VALUES:
                    yield {**data, block: {**data[block], key: bad}}
    for pattern in ("FS", "S", "M", "R", "FX", "F S", "F" * 2000, "SM"):
        yield {**data, "layer_pattern": pattern}
    yield {**data, "sliding_window": 4096}
    yield {**data, "n_kv_heads": data["n_heads"] + 1}
    yield {**data, "dtype": "bfloat16"}
    yield {**data, "aliases": ["a", 1]}


@pytest.mark.parametrize("model", load_all(), ids=lambda m: m.name)
def test_the_quick_path_never_accepts_what_the_schema_refuses(model) -> None:
    n = 0
    for mutant in _mutants(model.to_dict()):
        _same(mutant)
        n += 1
    assert n > 250


def test_a_wrong_rule_is_caught(monkeypatch) -> None:
    """The mutant sweep above catches a quick path that forgets a rule: here, KV heads dividing."""
    data = {**load_all()[0].to_dict(), "n_kv_heads": 3}
    assert trusted_model(data) is None and _schema(data) is None
