"""The YAML schema: strictness, messages naming file and field, and the runtime dataclass."""

from __future__ import annotations

import dataclasses

import pytest

from kvcalc.models.config import MLAConfig, ModelConfig, MoEConfig, Source, SSMConfig, load_yaml, validate
from kvcalc.errors import ConfigError
from kvcalc.models.model import MLA, SSM, Model, MoE
from kvcalc.models.model import Source as SourceData

GOOD = """\
name: tiny
n_layers: 4
n_heads: 8
n_kv_heads: 2
head_dim: 16
hidden_size: 128
intermediate_size: 256
vocab_size: 1000
dtype: bf16
max_context: 2048
"""


def write(tmp_path, text):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return path


def test_good_yaml(tmp_path):
    m = load_yaml(write(tmp_path, GOOD))
    assert (m.n_layers, m.n_kv_heads, m.group_size, m.layer_kinds) == (4, 2, 4, "FFFF")


def test_hf_key_names_are_accepted(tmp_path):
    text = GOOD.replace("n_layers", "num_hidden_layers").replace("n_kv_heads", "num_key_value_heads")
    text = text.replace("dtype: bf16", "torch_dtype: bfloat16")
    m = load_yaml(write(tmp_path, text))
    assert (m.n_layers, m.n_kv_heads, m.dtype) == (4, 2, "bf16")


BAD = [
    ("", "empty file"),
    ("- 1\n- 2\n", "expected a mapping of fields, got list"),
    ("name: [unclosed\n", "malformed YAML at line"),
    (GOOD + "colour: blue\n", "colour: unknown field"),
    (GOOD.replace("head_dim: 16\n", ""), "head_dim: Field required"),
    (GOOD.replace("n_kv_heads: 2", "n_kv_heads: 0"), "n_kv_heads: must be > 0, got 0"),
    (GOOD.replace("n_kv_heads: 2", "n_kv_heads: -2"), "n_kv_heads: must be > 0, got -2"),
    (GOOD.replace("n_kv_heads: 2", "n_kv_heads: 3"), "n_kv_heads: 8 query heads do not split evenly over 3 KV heads"),
    (GOOD.replace("n_kv_heads: 2", "n_kv_heads: '2'"), "n_kv_heads: Input should be a valid integer"),
    (GOOD.replace("n_kv_heads: 2", "n_kv_heads: 2.5"), "n_kv_heads: Input should be a valid integer"),
    (GOOD.replace("n_layers: 4", "num_hidden_layers: 0"), "num_hidden_layers: must be > 0, got 0"),
    (GOOD.replace("dtype: bf16", "dtype: fp64"), "dtype: Input should be 'fp32', 'fp16' or 'bf16'"),
    (GOOD + "layer_pattern: SF\n", "layer_pattern: has sliding (S) layers but sliding_window is not set"),
    (GOOD + "sliding_window: 512\n", "sliding_window: is set but no layer is sliding"),
    (GOOD + "sliding_window: 0\nlayer_pattern: S\n", "sliding_window: must be > 0, got 0"),
    (GOOD + "layer_pattern: FX\n", "layer_pattern: letters must be F (full), S (sliding), C (chunked), M (MLA), R (recurrent), H (full attention and a recurrent state) or N"),
    (GOOD + "layer_pattern: M\n", "layer_pattern: has MLA (M) layers but the mla block is missing"),
    (GOOD + "mla: {kv_lora_rank: 0, qk_rope_head_dim: 64, qk_nope_head_dim: 128, v_head_dim: 128}\n",
     "mla.kv_lora_rank: must be > 0, got 0"),
    (GOOD + "n_layers: 5\n", "malformed YAML at line 11, column 1: duplicate key 'n_layers'"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_bad_yaml(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_yaml(path)
    assert str(err.value).startswith(f"{path}: "), str(err.value)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_yaml(tmp_path / "nope.yaml")


def test_yaml_is_safe_loaded(tmp_path):
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_yaml(write(tmp_path, "!!python/object/apply:os.system ['true']\n"))


@pytest.mark.parametrize(
    "schema, data",
    [(ModelConfig, Model), (MLAConfig, MLA), (MoEConfig, MoE), (SSMConfig, SSM), (Source, SourceData)],
)
def test_schema_and_runtime_fields_agree(schema, data):
    """One definition per fact: the strict schema and the runtime dataclass have the same fields,
    the same defaults and the same required fields (types are checked by validating every
    shipped config and building it both ways, tests/test_configs.py)."""
    runtime = {f.name: f for f in dataclasses.fields(data) if f.init}
    assert set(schema.model_fields) == set(runtime)
    for name, field in schema.model_fields.items():
        f = runtime[name]
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        assert field.is_required() == (not has_default), name
        if not field.is_required():
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            assert (list(default) if isinstance(default, tuple) else default) == field.default, name


def test_validate_returns_runtime_model():
    m = validate(
        {"name": "x", "n_layers": 1, "n_heads": 1, "n_kv_heads": 1, "head_dim": 1, "hidden_size": 1,
         "intermediate_size": 1, "vocab_size": 1, "dtype": "fp32", "max_context": 1, "aliases": ["y"]},
        "inline",
    )
    assert isinstance(m, Model) and m.aliases == ("y",) and m.names == ("x", "y")
