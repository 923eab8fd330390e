"""What #11 and #13 asked of the answers themselves: fit's verdict and decode bounds only for what
fits, context-limit warnings, each engine's dtype rule said, quantized checkpoints counted as
stored, one set of layout labels, CSV precision, the terminal table's units, compare's published
row for MLA and hybrids."""

from __future__ import annotations

import csv
import io
import json

import pytest

from kvcalc.planning.capacity import make_setup, weights
from kvcalc.planning.gpus import find_gpu
from kvcalc.models.hf import from_hf_dict
from kvcalc.models.quantization import from_config
from kvcalc.models.registry import load_model

from .conftest import HF


def _json(run_cli, *args):
    code, out, err = run_cli(*args, "-f", "json")
    assert code == 0, err
    return json.loads(out), err


# ----- fit answers the question asked ----------------------------------------------------------

def test_fit_gives_a_verdict_first_and_no_decode_bound_for_what_does_not_fit(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = run_cli("fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "128k", "--batch", "64", "--reserve", "2GiB")
    # KV budget 58,760,722,841 B // (131,072 B/token x 16 = 2,097,152 B a block) = 28,019 blocks;
    # 131,072 tokens = 8,192 blocks a sequence: 28,019 // 8,192 = 3 sequences
    assert code == 0 and out.splitlines()[0].startswith(
        "64 x 131,072 tokens do not fit: at most 3 sequences of 131,072 tokens (or 6,992 tokens each at batch 64)")
    assert "decode bound not computed for GQA-8 (published), MHA, MQA" in " ".join(out.split())
    doc, _ = _json(run_cli, "fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "128k", "--batch", "64", "--reserve", "2GiB")
    assert doc["fits"] is False and doc["verdict"].startswith("64 x 131,072 tokens do not fit")
    assert all(row["decode_tokens_per_s"] is None and row["fits"] is False for row in doc["layouts"])


def test_fit_verdict_when_it_fits(run_cli):
    doc, _ = _json(run_cli, "fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "8k", "--batch", "8", "--reserve", "2GiB")
    # 28,019 blocks // 512 blocks a sequence (8,192 / 16) = 54 sequences >= 8
    assert doc["fits"] is True and doc["verdict"].startswith("8 x 8,192 tokens fit: room for 54 such sequences")
    assert doc["layouts"][0]["decode_tokens_per_s"] > 0 and doc["layouts"][1]["fits"] is True  # MHA: 13 >= 8


def test_seq_beyond_the_trained_context_is_a_warning_not_an_error(run_cli):
    code, out, err = run_cli("llama2-7b", "--seq", "1M", "-f", "json")
    assert code == 0 and json.loads(out)["seq_len"] == 1 << 20
    assert err == ("kvcalc: warning: --seq 1,048,576 is beyond llama2-7b's trained context of 4,096 tokens "
                   "(max_position_embeddings, rope scaling considered)\n")
    code, out, err = run_cli("llama2-7b", "--seq", "4k")
    assert err == ""
    code, _, err = run_cli("llama2-7b", "--seq", "1M", "--batch", "0")  # a failing call says only what is wrong
    assert code == 2 and err.startswith("kvcalc: error: --batch") and "warning" not in err


def test_rope_scaling_extends_the_trained_context():
    cfg = json.loads((HF / "Qwen3-8B.json").read_text())
    assert from_hf_dict(cfg, "x").max_context == 40_960
    cfg["rope_scaling"] = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32_768}
    assert from_hf_dict(cfg, "x").max_context == 131_072  # 32,768 x 4


# ----- auto means what the engine serves -------------------------------------------------------

@pytest.mark.parametrize("engine, dtype, says", [
    ("exact", "fp32", "the checkpoint's own dtype"),
    ("hf", "fp32", "transformers 5 loads the checkpoint in its config dtype"),
    ("vllm", "bf16", "vLLM serves an fp32 checkpoint in bf16"),
    ("llama.cpp", "fp16", "llama.cpp's default cache type"),
])
def test_gemma2_auto_dtype_is_the_engines_and_says_so(run_cli, engine, dtype, says):
    doc, _ = _json(run_cli, "gemma-2-9b", "--seq", "4k", "--engine", engine)
    assert doc["kv_dtype"] == dtype and says in doc["kv_dtype_rule"]
    explicit, _ = _json(run_cli, "gemma-2-9b", "--seq", "4k", "--engine", engine, "--kv-dtype", "fp16")
    assert explicit["kv_dtype_rule"] is None


def test_vllm_counts_an_fp32_checkpoints_weights_in_bf16(run_cli):
    vllm, _ = _json(run_cli, "fit", "gemma-2-9b", "--gpu", "h100-80gb", "--seq", "8k")
    hf, _ = _json(run_cli, "fit", "gemma-2-9b", "--gpu", "h100-80gb", "--seq", "8k", "--engine", "hf")
    assert (vllm["weights_dtype"], vllm["kv_dtype"], hf["weights_dtype"]) == ("bf16", "bf16", "fp32")
    assert hf["weights_bytes"] == 2 * vllm["weights_bytes"] == 2 * vllm["params"] * 2  # 4 B against 2 B a parameter


# ----- weights as the checkpoint stores them ---------------------------------------------------

def _weights(cfg: dict, gpu: str = "h100-80gb", weights_dtype: str = "auto") -> tuple[int, str]:
    m = from_hf_dict(cfg, "x")
    w = weights(m, make_setup(m, find_gpu(gpu), weights_dtype=weights_dtype))
    return w.total_bytes, w.dtype


def test_gpt_oss_weights_equal_the_published_checkpoints():
    # mxfp4 experts (4 bits + one 8-bit scale per 32), bf16 attention, embeddings, router and biases:
    # the tensor bytes of the published safetensors, to the byte
    assert _weights(json.loads((HF / "gpt-oss-20b.json").read_text())) == (13_761_264_768, "mxfp4 (mlp, experts) + bf16")
    assert _weights(json.loads((HF / "gpt-oss-120b.json").read_text()))[0] == 65_248_815_744


def test_deepseek_v3_is_fp8_without_flags(run_cli):
    doc, _ = _json(run_cli, "fit", "deepseek-v3", "--gpu", "h200", "--gpus", "8", "--seq", "8k")
    published = 688_586_727_753  # deepseek-ai/DeepSeek-V3's safetensors, MTP layer included (not counted here)
    assert doc["weights_dtype"] == "fp8 + bf16" and doc["weights_fit"] is True
    assert 0.95 < doc["weights_bytes"] / published < 1.0
    flagged, _ = _json(run_cli, "fit", "deepseek-v3", "--gpu", "h200", "--gpus", "8", "--seq", "8k", "--weights-dtype", "bf16")
    assert flagged["weights_bytes"] > 1.9 * doc["weights_bytes"]


def test_awq_and_gptq_count_bits_scales_and_zero_points():
    cfg = json.loads((HF / "Llama-2-7b.json").read_text())
    cfg["quantization_config"] = {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True, "version": "gemm"}
    # 6,476,005,376 linear params x (4 + (16 + 4) / 128) bits / 8 = 3,364,487,168 B, + fp16 embeddings, head and
    # norms 524,820,480 B = 3,889,307,648 B; TheBloke/Llama-2-7B-AWQ's model.safetensors is listed at 3.89 GB
    assert _weights(cfg) == (3_889_307_648, "awq + fp16")
    cfg["quantization_config"] = {"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": False}
    assert _weights(cfg)[0] == 3_889_307_648


@pytest.mark.parametrize("q, block", [
    ({"quant_method": "fp8", "weight_block_size": [128, 128]}, {"weight_bits": 8, "group_size": 16384, "scale_bits": 32}),
    ({"quant_method": "fp8"}, {"weight_bits": 8, "group_size": 0, "scale_bits": 0}),
    ({"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn"]},
     {"weight_bits": 4, "group_size": 32, "scale_bits": 8, "attention": False}),
    ({"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16}, {"weight_bits": 4, "group_size": 16, "scale_bits": 8}),
    ({"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized"}, {"weight_bits": 4, "group_size": 16, "scale_bits": 8}),
    ({"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {"num_bits": 4, "strategy": "group", "group_size": 32}}},
      "ignore": ["lm_head", "re:.*self_attn.*"]}, {"weight_bits": 4, "group_size": 32, "scale_bits": 16, "attention": False}),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_use_double_quant": True},
     {"weight_bits": 4, "group_size": 64, "scale_bits": 8}),
    ({"quant_method": "bitsandbytes", "load_in_8bit": True}, {"weight_bits": 8, "group_size": 0, "scale_bits": 0}),
    ({"quant_method": "gptq", "bits": 8, "group_size": -1}, {"weight_bits": 8, "group_size": 0, "scale_bits": 0}),
])
def test_quantization_configs_are_read(q, block):
    got = from_config(q)
    assert got is not None and {k: got[k] for k in block} == block


def test_an_unknown_quantization_is_counted_in_the_dtype_and_noted():
    cfg = json.loads((HF / "Llama-2-7b.json").read_text())
    cfg["quantization_config"] = {"quant_method": "hqq-something"}
    m = from_hf_dict(cfg, "x")
    assert m.quantization is None and "quantization_config of a kind kvcalc does not read" in (m.notes or "")


@pytest.mark.parametrize("fmt, total", [
    # the matrices at 4 bits + one 8-bit scale per 32 (mxfp4) or 16 (nvfp4); the rest in fp16 (arithmetic below)
    ("mxfp4", 3_965_198_336), ("nvfp4", 4_167_573_504),
])
def test_weights_dtype_mxfp4_and_nvfp4_quantize_the_matrices(fmt, total):
    cfg = json.loads((HF / "Llama-2-7b.json").read_text())
    linear, rest = 6_476_005_376, 6_738_415_616 - 6_476_005_376  # matrices; embeddings, head and norms
    bits, group = (4, 32) if fmt == "mxfp4" else (4, 16)
    assert total == -(-(linear * bits + linear // group * 8) // 8) + rest * 2
    assert _weights(cfg, weights_dtype=fmt) == (total, f"{fmt} + fp16")


# ----- one vocabulary --------------------------------------------------------------------------

def test_the_published_row_has_one_label_in_every_command(run_cli):
    calc, _ = _json(run_cli, "llama2-70b", "--seq", "4k")
    compare, _ = _json(run_cli, "compare", "llama2-70b", "--seq", "4k")
    fit, _ = _json(run_cli, "fit", "llama2-70b", "--gpu", "h100-80gb", "--tp", "4", "--seq", "4k")
    table, _ = _json(run_cli, "table", "llama2-70b", "--seq", "4k")
    chart, _ = _json(run_cli, "chart", "llama2-70b", "--seq", "4k")
    labels = {calc["variants"][0]["layout"], compare["rows"][0]["layout"], fit["layouts"][0]["layout"],
              table["rows"][0]["layout"], next(iter(chart["series"]))}
    assert labels == {"GQA-8 (published)"}
    assert [v["layout"] for v in calc["variants"]][1:] == ["MHA", "GQA-8", "MQA"]
    assert load_model("deepseek-v3").mla is not None


@pytest.mark.parametrize("model, label", [("deepseek-v3", "MLA (published)"), ("jamba-v0.1", "GQA-8 (published)")])
def test_compare_kv_heads_all_keeps_the_published_row(run_cli, model, label):
    doc, _ = _json(run_cli, "compare", model, "--kv-heads", "all", "--seq", "4k")
    first = doc["rows"][0]
    assert first["layout"] == label and first["published"] is True
    assert [r["published"] for r in doc["rows"]].count(True) == 1 and doc["rows"][1]["layout"] == "MHA"
    if model == "deepseek-v3":  # the latent: (512 + 64) x 61 layers x 2 B x 4,096 tokens = 287,834,112 B
        assert first["kv_cache_bytes"] == 576 * 61 * 2 * 4096 == 287_834_112


def test_csv_floats_are_rounded_json_keeps_them(run_cli):
    _, out, _ = run_cli("fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "4096", "--reserve", "2GiB", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    ratio = rows[0]["max_seqs_vs_mha"]  # 109 / 27 = 4.037037037...
    assert ratio == "4.03704"
    doc, _ = _json(run_cli, "fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "4096", "--reserve", "2GiB")
    assert doc["layouts"][0]["max_seqs_vs_mha"] == 109 / 27


def test_the_terminal_table_shows_units_as_asked(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    _, iec, _ = run_cli("table", "llama3-8b", "--seq", "4k")
    _, si, _ = run_cli("table", "llama3-8b", "--seq", "4k", "--units", "si")
    # 32 layers x 2 x 8 KV heads x 128 x 2 B x 4,096 tokens = 536,870,912 B = 512 MiB = 536.87 MB
    assert "536,870,912" in iec and "512.00 MiB" in iec and "536.87 MB" in si


def test_measure_speaks_the_users_language(run_cli, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("COLUMNS", "250")
    _, out, _ = run_cli("llama3-8b", "--seq", "256", "--measure", "--device", "cpu")
    text = " ".join(out.split())
    assert "a runtime that repeats K/V to every query head (repeat_kv" in text and "the seeds' module" not in text


def test_replication_is_named_where_it_eats_the_saving(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    _, out, _ = run_cli("fit", "llama2-70b", "--gpu", "h100-80gb", "--tp", "16", "--gpus", "16", "--seq", "4k")
    # tp 16: MHA holds 64 / 16 = 4 KV heads a GPU; GQA-8's 8 heads are replicated to 1 a GPU: 4x, not 8x
    assert ("its KV is 4x smaller per GPU (8x in all, but tp 16 replicates each of its 8 KV heads on 2 GPUs)"
            in " ".join(out.split()))
    _, out, _ = run_cli("fit", "llama2-70b", "--gpu", "h100-80gb", "--tp", "4", "--seq", "4k")
    assert "its KV is 8x smaller, and flooring" in " ".join(out.split())  # 64 / 4 = 16 against 8 / 4 = 2


def test_the_png_draws_the_published_line_apart_with_k_ticks_and_iec_axis(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.axes

    from kvcalc.planning import chart

    calls = []
    real = matplotlib.axes.Axes.plot
    monkeypatch.setattr(matplotlib.axes.Axes, "plot", lambda self, *a, **kw: calls.append(kw) or real(self, *a, **kw))
    labels = []
    real_ylabel = matplotlib.axes.Axes.set_ylabel
    monkeypatch.setattr(matplotlib.axes.Axes, "set_ylabel", lambda self, text, **kw: labels.append(text) or real_ylabel(self, text, **kw))
    m = load_model("llama3-8b")
    seqs = [1024, 8192]
    _, data = chart.chart_report(m, seqs)
    chart.plot_png(str(tmp_path / "c.png"), m, seqs, data, 1)
    assert (tmp_path / "c.png").stat().st_size > 1000
    own, rest = calls[0], calls[1:]
    assert own["label"] == "GQA-8 (published)" and own["linestyle"] == "--" and own["marker"] == "D"
    assert own["zorder"] > max(c["zorder"] for c in rest) and all(c["linestyle"] == "-" for c in rest)
    assert labels == ["KV cache (GiB)"]  # MHA at 8k: 4 GiB, so GiB
    assert [chart._tokens(x) for x in (512, 1024, 32768, 1 << 20, 1536)] == ["512", "1k", "32k", "1M", "1,536"]
