"""Never a silent wrong number: a model whose layers kvcalc does not map (an unknown model_type, a
key that changes the cache, a GGUF architecture) is refused by name on every command, unless
--assume-standard-attention, which is then said on every table and in the JSON. The families that
got a confident plain-attention answer before (issue #20) are mapped now: tests/test_families.py."""

from __future__ import annotations

import json

import pytest

from .conftest import FIXTURES

BASE = json.loads((FIXTURES / "hf" / "Llama-3.1-8B.json").read_text())
# (model_type, keys the family's config.json adds): families kvcalc does not map
FAMILIES = {
    "plamo2": {"mamba_d_state": 64, "mamba_step": 2},
    "rwkv7": {"head_size": 64, "a_low_rank_dim": 64},
    "hunyuan_v1_dense": {"use_cla": True, "cla_share_factor": 2},
    "xlstm": {"num_blocks": 32, "qk_dim_factor": 0.5},
}


def _config(tmp_path, model_type: str, extra: dict) -> str:
    path = tmp_path / model_type / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps({**BASE, "model_type": model_type, **extra}))
    return str(path)


@pytest.mark.parametrize("family", FAMILIES)
def test_an_unmapped_family_is_refused_by_name(run_cli, tmp_path, family):
    path = _config(tmp_path, family, FAMILIES[family])
    code, out, err = run_cli(path, "--seq", "4k")
    assert code == 2 and out == "" and f"model_type '{family}'" in err and "--assume-standard-attention" in err
    assert len(err.strip().splitlines()) == 1


def test_a_cache_key_kvcalc_does_not_read_is_refused_in_a_mapped_family(run_cli, tmp_path):
    path = _config(tmp_path, "llama", {"attention_chunk_size": 8192})
    code, _, err = run_cli(path, "--seq", "4k")
    assert code == 2 and "attention_chunk_size" in err


@pytest.mark.parametrize("argv", [["calc", "--seq", "4k"], ["table", "--seq", "4k"], ["compare", "--seq", "4k"],
                                  ["fit", "--gpu", "h100-80gb", "--seq", "4k"],
                                  ["plan", "--gpu", "h100-80gb", "--seq", "4k"], ["chart"]])
def test_every_command_refuses_and_every_output_says_the_assumption(run_cli, tmp_path, argv):
    path = _config(tmp_path, "plamo2", FAMILIES["plamo2"])
    command, *rest = argv
    code, _, err = run_cli(command, path, *rest)
    assert code == 2 and "plamo2" in err
    code, out, _ = run_cli(command, path, *rest, "--assume-standard-attention")
    assert code == 0 and "ASSUMED standard attention" in " ".join(out.split())
    code, out, _ = run_cli(command, path, *rest, "--assume-standard-attention", "-f", "json")
    assert code == 0 and "plamo2" in json.loads(out)["assumed_standard_attention"][0]


def test_an_unmapped_gguf_architecture_is_refused_then_assumed(run_cli, tmp_path):
    pytest.importorskip("gguf")
    from .test_gguf import write_header_only

    path = write_header_only(tmp_path / "r7.gguf", arch="rwkv7", tensors_gib=1)
    code, _, err = run_cli(str(path), "--seq", "4k")
    assert code == 2 and "GGUF architecture 'rwkv7'" in err and "--assume-standard-attention" in err
    code, out, _ = run_cli(str(path), "--seq", "4k", "--assume-standard-attention")
    assert code == 0 and "ASSUMED standard attention" in out


def test_a_mapped_model_says_nothing_of_assumptions(run_cli):
    code, out, _ = run_cli("llama3-8b", "--seq", "4k", "--assume-standard-attention", "-f", "json")
    assert code == 0 and "assumed_standard_attention" not in json.loads(out)
