"""The contract a script relies on and the surprises a newcomer met (issue #25): every JSON row
says whether it is the model as published and what kind of layout it is; tables stay readable at
80 columns and name what they leave out; a verdict has an exit status; and each surprise below
is fixed, with the test that failed before."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import HF

KINDS = {"MHA", "GQA", "MQA", "MLA", "hybrid"}


def _json(run_cli, *args):
    code, out, err = run_cli(*args, "-f", "json")
    assert code in (0, 1), err
    return json.loads(out)


@pytest.mark.parametrize("args, rows", [
    (("llama2-70b", "--seq", "4k"), "variants"),
    (("jamba-v0.1", "--seq", "4k"), "variants"),
    (("compare", "llama2-70b", "deepseek-v3", "--seq", "4k"), "rows"),
    (("table", "llama3-8b", "--seq", "1k", "--batch", "1", "--kv-heads", "all"), "rows"),
    (("table", "llama3-8b", "deepseek-v3", "--seq", "1k", "--batch", "1"), "rows"),
    (("fit", "llama2-70b", "--gpu", "h100-80gb", "--tp", "4", "--seq", "4k"), "layouts"),
    (("fit", "llama2-70b", "--kv-memory", "4GiB"), "layouts"),
    (("plan", "llama2-70b", "--gpu", "h100-80gb", "--tp", "4", "--seq", "4k", "--batch", "8"), "layouts"),
    (("chart", "deepseek-v3", "--seq", "1k,2k"), "lines"),
])
def test_every_row_says_published_and_layout_kind(run_cli, args, rows):
    doc = _json(run_cli, *args)
    assert doc[rows], args
    for row in doc[rows]:
        assert isinstance(row["published"], bool) and row["layout_kind"] in KINDS, row
    assert any(r["published"] for r in doc[rows]) or args[0] == "table"


def test_the_published_row_says_its_kind():
    from kvcalc.core.formulas import layout_kind
    from kvcalc.models.registry import load_model

    assert [layout_kind(load_model(m)) for m in ("llama2-7b", "llama2-70b", "falcon-7b", "deepseek-v3", "jamba-v0.1")] \
        == ["MHA", "GQA", "MQA", "MLA", "hybrid"]


def test_chart_series_are_a_list_of_objects_too(run_cli):
    doc = _json(run_cli, "chart", "llama3-8b", "--seq", "1k,2k")
    # the series stay keyed by label (the contract kept); lines add one object a layout
    assert [(l["layout"], l["published"]) for l in doc["lines"]][0] == ("GQA-8 (published)", True)
    assert [l["kv_cache_bytes"] for l in doc["lines"]] == list(doc["series"].values())


COMMANDS_80 = [
    ("gpus",), ("plan", "llama2-70b", "--gpu", "h100-80gb", "--tp", "4", "--seq", "4k", "--batch", "64"),
    ("fit", "qwen3-32b", "--kv-memory", "8.66GiB", "--max-model-len", "8k"),
    ("fit", "qwen3-32b", "--gpu", "h100-80gb", "--seq", "8k"), ("llama2-70b", "--seq", "4096"),
    ("compare", "llama2-70b", "--kv-heads", "all", "--seq", "4k"), ("table", "llama3-8b", "--seq", "4k,8k", "--batch", "1,8"),
    ("list",), ("engines",), ("nemotron-h-56b", "--seq", "8k"),
]


@pytest.mark.parametrize("args", COMMANDS_80, ids=lambda a: " ".join(a[:2]))
def test_80_columns_keep_every_word_and_number_whole(run_cli, monkeypatch, args):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run_cli(*args)
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80 and "…" not in out and "optional=" not in out
    header = [line for line in out.splitlines() if line.startswith("┃")]
    first = " ".join(line.split("┃")[1].strip() for line in header).strip()
    assert first in ("GPU", "Layout", "Model", "Runtime")  # the essential first column, whole


def test_gpus_at_80_columns_name_every_gpu(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = run_cli("gpus")
    assert "h100-80gb" in out and "a100-40gb" in out and "Memory (B), CUDA total, Bandwidth (B/s): left out" in " ".join(out.split())


def test_plan_and_kv_memory_keep_their_columns(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = run_cli("plan", "llama2-70b", "--gpu", "h100-80gb", "--tp", "4", "--seq", "4k", "--batch", "64")
    assert "┃ Layout ┃" in out and "Fits" in out and "GQA-16" in out
    _, out, _ = run_cli("fit", "qwen3-32b", "--kv-memory", "8.66GiB", "--max-model-len", "8k")
    assert "Blocks" in out and "Concurrency" in out and "Starts" in out


def test_fail_if_not_fit_gives_scripts_an_exit_status(run_cli):
    assert run_cli("fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "128k", "--batch", "64", "--fail-if-not-fit")[0] == 1
    assert run_cli("fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "8k", "--batch", "4", "--fail-if-not-fit")[0] == 0
    assert run_cli("fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "128k", "--batch", "64")[0] == 0  # without: 0
    assert run_cli("fit", "llama3-8b", "--kv-memory", "100MiB", "--max-model-len", "128k", "--fail-if-not-fit")[0] == 1
    assert run_cli("plan", "llama2-70b", "--gpu", "l4", "--seq", "128k", "--batch", "64", "--fail-if-not-fit")[0] == 1
    code, _, err = run_cli("fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "8k", "--fail-if-not-fit")
    assert code == 2 and "needs a verdict" in err


# ----- the surprises a newcomer met -----------------------------------------------------------


def test_plan_without_a_model_says_it_counts_no_weights(run_cli):
    code, out, err = run_cli("plan", "--n-heads", "32", "--n-layers", "32", "--head-dim", "128", "--gpu", "l4",
                             "--seq", "4k", "--batch", "8")
    assert code == 0 and "no weights are counted" in err and "WEIGHTS COUNTED AS 0 B" in out


def test_fit_says_when_plain_vllm_serve_would_refuse_to_start(run_cli):
    code, out, _ = run_cli("fit", "qwen3-32b", "--gpu", "h100-80gb", "--seq", "8k", "--batch", "4")
    assert code == 0 and "plain `vllm serve` (max_model_len = qwen3-32b's 40,960) would refuse to start" in " ".join(out.split())


def test_the_exact_twin_is_in_the_dtype_the_engine_serves(run_cli):
    """gemma-2-9b is an fp32 checkpoint that vLLM serves in bf16: the exact figure it is held to is
    bf16's too (it was fp32, and vLLM looked 0.7224x 'the exact')."""
    doc = _json(run_cli, "gemma-2-9b", "--seq", "4k", "--engine", "vllm")
    assert doc["kv_dtype"] == "bf16" and doc["exact_kv_cache_bytes"] <= doc["kv_cache_bytes"]


def test_a_config_without_vocabulary_or_context_still_sizes_the_cache(tmp_path, run_cli):
    cfg = json.loads((HF / "Qwen3-8B.json").read_text())
    for key in ("vocab_size", "max_position_embeddings"):
        cfg.pop(key)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    doc = _json(run_cli, str(path), "--seq", "4k")
    assert doc["kv_cache_bytes"] == 36 * 4096 * 2 * 8 * 128 * 2  # 36 layers x 4,096 x (K + V) x 8 x 128 x 2 B
    code, _, err = run_cli("fit", str(path), "--gpu", "h100-80gb", "--seq", "4k")
    assert code == 2 and "vocab_size" in err and "--weights-bytes" in err  # the weights need it: said by name
    code, _, err = run_cli("fit", str(path), "--gpu", "h100-80gb", "--seq", "4k", "--weights-bytes", "16GB")
    assert code == 2 and "vocab_size" in err and "--reserve" in err  # vLLM's profile run needs it too
    assert run_cli("fit", str(path), "--gpu", "h100-80gb", "--seq", "4k", "--weights-bytes", "16GB", "--reserve", "2GiB")[0] == 0


def test_a_corrupt_gguf_is_one_plain_line(tmp_path, run_cli):
    pytest.importorskip("gguf")
    path = tmp_path / "bad.gguf"
    path.write_bytes(b"GGUF\x03\x00\x00\x00garbage")
    code, _, err = run_cli(str(path), "--seq", "4k")
    assert code == 2 and "not a readable GGUF file (truncated or corrupt" in err and "dtype" not in err


def test_a_local_config_is_not_said_to_be_at_revision_main(run_cli):
    doc = _json(run_cli, str(HF / "Qwen3-8B.json"), "--seq", "4k")
    assert doc["source"]["revision"] == "local file"


def test_hybrid_and_mla_read_right_at_a_glance(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    _, out, _ = run_cli("list")
    assert re.search(r"nemotron-h-56b .* 54 recurrent", out)
    _, out, _ = run_cli("deepseek-v3", "--seq", "4k")
    assert "│ MLA (published) │   latent │" in out
    _, out, _ = run_cli("nemotron-h-56b", "--seq", "8k")
    assert "KV + state" in out and "1.16 GiB" in out  # 320 MiB of KV + 870 MiB of Mamba state, in the table


def test_table_takes_kv_heads_all_as_compare_does(run_cli):
    doc = _json(run_cli, "table", "llama2-70b", "--seq", "4k", "--batch", "1", "--kv-heads", "all")
    assert [r["n_kv_heads"] for r in doc["rows"]] == [64, 32, 16, 8, 4, 2, 1]


@pytest.mark.parametrize("fmt", ["csv", "markdown"])
def test_show_takes_every_format_the_readme_promises(run_cli, fmt):
    code, out, _ = run_cli("show", "deepseek-v3", "-f", fmt)
    assert code == 0 and "mla.kv_lora_rank" in out and "512" in out


def test_help_points_to_sections_that_exist(run_cli):
    docs = Path(__file__).parents[1] / "docs"
    code, out, _ = run_cli("table", "--help")
    assert "docs/capacity.md" in out
    assert "## table: the grid a planning spreadsheet needs" in (docs / "capacity.md").read_text()


COMMANDS = ["calc", "list", "show", "import", "measure", "compare", "table", "fit", "plan", "gpus", "engines", "chart"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_has_examples_that_run(run_cli, monkeypatch, tmp_path, command):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(command, "--help")
    assert code == 0 and "Examples:" in out
    examples = [line.strip() for line in out.split("Examples:")[1].splitlines() if line.strip().startswith("kvcalc ")]
    assert examples
    for example in examples:
        args = example.split()[1:]
        if any(a.startswith("./") or "/" in a and not a.startswith("-") for a in args) or "--all" in args:
            continue  # a file of one's own, a Hub repo id, or every model allocated: not run here
        code, _, err = run_cli(*args)
        assert code in (0, 1) and "warning" not in err, (example, err)


def test_readme_tour_runs_without_warnings(run_cli, monkeypatch, tmp_path):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    tour = readme.split("## Quick tour")[1].split("## Documentation")[0]
    commands = re.findall(r"`(kvcalc [^`]+)`", tour)
    monkeypatch.chdir(tmp_path)
    ran = 0
    for command in commands:
        args = command.split()[1:]
        if "--measure" in args or any("/" in a for a in args) or args[0] in ("--gpu",):
            continue  # torch, or a Hub repo id
        code, _, err = run_cli(*args)
        assert code == 0 and "warning" not in err, (command, err)
        ran += 1
    assert ran >= 8


def test_no_module_level_call_state():
    """A call's state (warnings, --wide, the checkpoint read with a model) lives in its Call and
    Result, never in a module global that one call could leak into the next."""
    import kvcalc.cli.commands
    import kvcalc.models.hub
    import kvcalc.output.report

    assert not hasattr(kvcalc.cli.commands, "WARNINGS") and not hasattr(kvcalc.output.report, "WIDE")
    assert not hasattr(kvcalc.models.hub, "WEIGHTS")
