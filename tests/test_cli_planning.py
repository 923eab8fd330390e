"""compare, table, fit, plan, gpus and chart through the real entry point."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest


def test_compare_kv_heads_all_gives_the_seeds_table(run_cli):
    code, out, _ = run_cli("compare", "llama2-70b", "--kv-heads", "all", "--seq", "4096", "--kv-dtype", "fp16", "-f", "json")
    rows = {r["n_kv_heads"]: r for r in json.loads(out)["rows"]}
    assert code == 0 and sorted(rows) == [1, 2, 4, 8, 16, 32, 64]
    # MHA 2 x 80 x 64 x 128 x 2 B x 4,096 = 10,737,418,240 B; GQA-8 1/8 of it; MQA 1/64
    assert rows[64]["kv_cache_bytes"] == 10_737_418_240 and rows[64]["ratio_vs_mha"] == 1.0
    assert rows[8]["kv_cache_bytes"] == 1_342_177_280 and rows[8]["ratio_vs_mha"] == 0.125
    assert rows[1]["kv_cache_bytes"] == 167_772_160 and rows[1]["ratio_vs_mha"] == 0.015625
    code, out, _ = run_cli("compare", "llama2-70b", "--kv-heads", "64,8,1", "--seq", "4096")
    assert "100%" in out and "12.5%" in out and "1.56%" in out and "64x smaller" in out


def test_compare_models_side_by_side_with_gpu(run_cli):
    code, out, _ = run_cli("compare", "llama2-70b", "llama3-8b", "deepseek-v3", "--seq", "32k", "--gpu", "h100-80gb", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["model"] for r in rows] == ["llama2-70b", "llama3-8b", "deepseek-v3"]
    # llama3-8b: 2 x 32 x 8 x 128 x 2 B x 32,768 = 4,294,967,296 B
    assert rows[1]["kv_cache_bytes"] == "4294967296" and rows[1]["layout"] == "GQA-8 (published)"
    assert rows[1]["fits"] == "true" and float(rows[1]["decode_tokens_per_s"]) > 0  # booleans, as in JSON
    assert rows[2]["fits"] == "false"  # 671B parameters do not fit one H100


def test_compare_bad_heads_is_one_line(run_cli):
    code, out, err = run_cli("compare", "llama2-70b", "--kv-heads", "3", "--seq", "4096")
    assert code == 2 and out == ""
    assert err.strip() == "kvcalc: error: llama2-70b: 3 KV heads do not divide 64 query heads (choose from: 64, 32, 16, 8, 4, 2, 1)"


def test_fit_must_show_llama2_70b(run_cli):
    code, out, _ = run_cli("fit", "llama2-70b", "--gpu", "h100-80gb", "--tp", "4", "--seq", "4096", "--reserve", "2GiB")
    assert code == 0
    assert "30,771 // 256 = 120 sequences" in out and "3,846 // 256 = 15 sequences" in out
    assert "120 / 15 = 8.00x" in out and "40,332,921,241" in out


def test_fit_json_contract(run_cli):
    code, out, _ = run_cli("fit", "llama3-8b", "--gpu", "h100-80gb", "--tp", "16", "--seq", "4096", "--batch", "8", "-f", "json")
    doc = json.loads(out)
    assert code == 0
    for key in ("model", "gpu", "gpu_memory_bytes", "hbm_bandwidth_bytes_per_s", "tp", "pp", "replicas", "params",
                "weights_bytes", "weights_bytes_per_gpu", "kv_budget_bytes_per_gpu", "weights_fit", "layouts"):
        assert key in doc
    assert doc["params"] == 8_030_261_248 and doc["layouts"][0]["kv_heads_per_gpu"] == 1
    for key in ("layout", "n_kv_heads", "kv_heads_per_gpu", "bytes_per_token_per_gpu", "num_blocks_per_gpu", "max_seqs",
                "max_seqs_vs_mha", "max_context", "decode_tokens_per_s"):
        assert key in doc["layouts"][0]


def test_fit_needs_seq_or_batch_and_a_known_gpu(run_cli):
    code, _, err = run_cli("fit", "llama3-8b", "--gpu", "h100-80gb")
    assert code == 2 and "needs --seq" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("fit", "llama3-8b", "--gpu", "h1000", "--seq", "1k")
    assert code == 2 and "unknown GPU 'h1000'" in err
    code, _, err = run_cli("fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "1k", "--gpu-memory-utilization", "1.5")
    assert code == 2 and "(0, 1]" in err
    code, _, err = run_cli("fit", "jamba-v0.1", "--gpu", "h100-80gb", "--seq", "1k")
    assert code == 2 and "--weights-bytes" in err
    code, out, _ = run_cli("fit", "jamba-v0.1", "--gpu", "h100-80gb", "--tp", "2", "--seq", "1k", "--weights-bytes", "104GB", "-f", "json")
    assert code == 0 and json.loads(out)["weights_bytes_per_gpu"] == 52_000_000_000


def test_plan_with_and_without_a_model(run_cli):
    code, out, _ = run_cli("plan", "llama2-70b", "--gpu", "h100-80gb", "--tp", "4", "--seq", "32k", "--batch", "16")
    assert code == 0 and "RECOMMENDED: 4 KV heads" in out
    code, out, _ = run_cli("plan", "--n-heads", "32", "--n-layers", "32", "--head-dim", "128", "--gpu", "a100-40gb",
                           "--seq", "32k", "--batch", "8", "-f", "json")
    doc = json.loads(out)
    # per GPU budget: floor(42,949,672,960 x 0.9) - 0 - 2 GiB = 36,507,222,016 B
    # 8 KV heads: 8 x 32,768 x 32 x 2 x 8 x 128 x 2 B = 34,359,738,368 B fits; 16 heads do not
    assert code == 0 and doc["recommended_n_kv_heads"] == 8 and doc["kv_budget_bytes_per_gpu"] == 36_507_222_016
    code, _, err = run_cli("plan", "--n-heads", "32", "--gpu", "h100-80gb", "--seq", "4k")
    assert code == 2 and "--n-layers" in err
    code, _, err = run_cli("plan", "llama3-8b", "--n-heads", "32", "--gpu", "h100-80gb", "--seq", "4k")
    assert code == 2 and "--n-heads describe a model without MODEL" in err  # never silently ignored
    code, _, err = run_cli("plan", "llama3-8b", "--gpu", "h100-80gb")
    assert code == 2 and "Missing option '--seq'" in err  # no silent default context


def test_gpus_lists_the_catalog_and_user_additions(run_cli, tmp_path):
    code, out, _ = run_cli("gpus", "-f", "json")
    names = [g["name"] for g in json.loads(out)["gpus"]]
    assert code == 0 and "h100-80gb" in names and "mi300x" in names and all(g["source"] for g in json.loads(out)["gpus"])
    f = tmp_path / "mine.yaml"
    f.write_text("gpus:\n  - name: lab-gpu\n    memory_bytes: 48000000000\n    hbm_bandwidth_bytes_per_s: 1000000000000\n    source: our lab\n")
    code, out, _ = run_cli("fit", "llama3-8b", "--gpu", "lab-gpu", "--gpu-catalog", str(f), "--seq", "4k", "-f", "json")
    assert code == 0 and json.loads(out)["gpu_memory_bytes"] == 48_000_000_000


def test_table_writes_csv_whole_with_no_progress_bar_in_files(run_cli, tmp_path):
    out_file = tmp_path / "grid.csv"
    code, out, err = run_cli("table", "llama3-8b", "mistral-7b", "--seq", "1k:32k:1k", "--batch", "1:400",
                             "--kv-dtype", "bf16,fp8", "-f", "csv", "-o", str(out_file))
    # stderr is not a terminal: no bar; only the warning that llama3-8b is trained for 8,192 tokens
    assert code == 0 and out == "" and err == (
        "kvcalc: warning: --seq 32,768 is beyond llama3-8b's trained context of 8,192 tokens "
        "(max_position_embeddings, rope scaling considered)\n")
    with out_file.open() as f:
        rows = sum(1 for _ in f) - 1
    assert rows == 2 * 2 * 32 * 400  # models x dtypes x seqs x batches


def test_table_bad_input_writes_nothing(run_cli, tmp_path):
    out_file = tmp_path / "grid.csv"
    code, _, err = run_cli("table", "llama3-8b", "--seq", "1k", "--kv-heads", "3", "-f", "csv", "-o", str(out_file))
    assert code == 2 and "3 KV heads do not divide" in err and not out_file.exists()
    code, _, err = run_cli("table", "llama3-8b", "--seq", "1k", "-f", "csv", "-o", str(tmp_path / "no" / "x.csv"))
    assert code == 2 and "does not exist" in err
    assert list(tmp_path.iterdir()) == []
    code, _, err = run_cli("table", "llama3-8b", "--seq", "1:200", "--batch", "1:100")
    assert code == 2 and "use --format csv" in err


def test_table_terminal_and_json(run_cli):
    code, out, _ = run_cli("table", "llama2-70b", "--seq", "4k", "--batch", "1,8", "--kv-heads", "64,8,1", "--tp", "4", "-f", "json")
    doc = json.loads(out)
    assert code == 0 and len(doc["rows"]) == 6 and doc["rows"][2]["layout"] == "GQA-8"
    code, out, _ = run_cli("table", "llama2-70b", "--seq", "4k", "--batch", "1,8")
    assert code == 0 and "1,342,177,280" in out


def test_chart_terminal_bars(run_cli):
    code, out, _ = run_cli("chart", "llama2-70b", "--seq", "1k,32k", "--kv-dtype", "fp16")
    assert code == 0 and "80.00 GiB" in out and "█" in out and "MQA" in out


def test_chart_plot_png(run_cli, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "kv.png"
    code, _, err = run_cli("chart", "llama3-8b", "--seq", "1k,8k,64k", "--plot", str(png), "-f", "json")
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "wrote" in err


def test_chart_plot_without_matplotlib_is_one_line(run_cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    code, _, err = run_cli("chart", "llama3-8b", "--seq", "1k", "--plot", str(tmp_path / "x.png"))
    assert code == 2 and "kvcalc[plot]" in err and not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("args", [["compare", "llama2-70b", "--kv-heads", "all", "--seq", "4k"],
                                  ["fit", "llama2-70b", "--gpu", "h100-80gb", "--tp", "4", "--seq", "4096"],
                                  ["table", "llama3-8b", "--seq", "1k,4k", "--batch", "1,8", "-f", "csv"]])
def test_planning_commands_import_no_torch_and_no_pydantic(args):
    code = (
        "import sys\nfrom kvcalc.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'pydantic', 'numpy', 'matplotlib')), file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stderr.strip() == "[]", out.stderr
