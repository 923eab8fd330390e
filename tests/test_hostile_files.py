"""Files and names a user gives: bounded before any work, one line on stderr, exit 2."""

from __future__ import annotations

import json
import os

import pytest

BASE = {"model_type": "llama", "num_hidden_layers": 4, "num_attention_heads": 8, "num_key_value_heads": 2,
        "hidden_size": 256, "intermediate_size": 512, "vocab_size": 1000, "max_position_embeddings": 4096,
        "torch_dtype": "bfloat16"}


def one_line(run_cli, *args):
    code, out, err = run_cli(*args)
    assert code == 2 and err.startswith("kvcalc: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("change, message", [
    ({"num_hidden_layers": 10**10}, "beyond any model"),
    ({"num_attention_heads": 10**30}, "beyond any model"),
    ({"num_local_experts": "8"}, "num_local_experts: must be a whole number"),
    ({"layer_types": [1, "x", "full_attention", "full_attention"]}, "unknown layer type"),
    ({"model_type": "gemma3", "text_config": "x"}, "text_config: expected an object"),
    ({"model_type": "jamba", "attn_layer_offset": "4"}, "attn_layer_offset"),
    ({"model_type": "jamba", "attn_layer_offset": 100}, "attn_layer_offset"),
    ({"tie_word_embeddings": "no"}, "tie_word_embeddings: must be true or false"),
    ({"model_type": "qwen2", "use_sliding_window": "yes", "sliding_window": 4096}, "use_sliding_window: must be true or false"),
    ({"model_type": "falcon", "new_decoder_architecture": 1}, "new_decoder_architecture: must be true or false"),
])
def test_bad_config_json_values(run_cli, tmp_path, change, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**BASE, **change}))
    assert message in one_line(run_cli, str(path), "--seq", "1")


def test_huge_periods_are_bounded_by_the_layer_count(run_cli, tmp_path):
    for change in ({"model_type": "gemma3_text", "sliding_window": 512, "sliding_window_pattern": 10**12, "head_dim": 32},
                   {"model_type": "jamba", "attn_layer_period": 10**9, "attn_layer_offset": 1}):
        path = tmp_path / "config.json"
        path.write_text(json.dumps({**BASE, **change}))
        code, out, err = run_cli(str(path), "--seq", "1", "-f", "json")
        assert code == 0, err
        assert len(json.loads(out)["variants"]) >= 1


def test_conflicting_duplicate_keys_are_refused(run_cli, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(BASE)[:-1] + ', "num_key_value_heads": 8}')
    assert "'num_key_value_heads' is given twice, with different values" in one_line(run_cli, str(path), "--seq", "1")


def test_deep_nesting_is_one_line(run_cli, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert "nested too deep" in one_line(run_cli, str(deep), "--seq", "1")
    yml = tmp_path / "deep.yaml"
    yml.write_text("[" * 50_000 + "]" * 50_000)
    one_line(run_cli, str(yml), "--seq", "1")


def test_devices_fifos_and_huge_files_are_not_read(run_cli, tmp_path):
    zero = tmp_path / "zero.yaml"
    zero.symlink_to("/dev/zero")
    assert "not a regular file" in one_line(run_cli, str(zero), "--seq", "1")
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert "not a regular file" in one_line(run_cli, str(fifo), "--seq", "1")
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(70 * 1024 * 1024)
    assert "more than a config can be" in one_line(run_cli, str(big), "--seq", "1")
    catalog = tmp_path / "gpus.yaml"
    catalog.symlink_to("/dev/zero")
    assert "not a regular file" in one_line(run_cli, "gpus", "--gpu-catalog", str(catalog))


def test_a_name_never_reaches_outside_the_shipped_configs(run_cli, tmp_path, monkeypatch):
    outside = tmp_path / "evil.yaml"
    outside.write_text("name: evil\\nn_layers: 0\\n")
    monkeypatch.chdir(tmp_path)
    err = one_line(run_cli, "../" + tmp_path.name + "/evil", "--seq", "1")
    assert "unknown model" in err


def test_yaml_alias_bombs_are_refused(run_cli, tmp_path):
    bomb = tmp_path / "bomb.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"] + [f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 9) + "]" for i in range(1, 9)]
    bomb.write_text("\n".join(lines) + "\n")
    assert "anchors and aliases" in one_line(run_cli, "show", str(bomb))
