"""kvcalc check-log: real startup logs (tests/fixtures/logs, verbatim, sources in sources.json) and
the shapes people paste them in. Each hostile shape is made here from a real log (labelled
synthetic: the transformation is ours, the lines are the runtime's) and must read as the original."""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

import pytest

LOGS = Path(__file__).parent / "fixtures" / "logs"
# Qwen3-32B at tp 4 on vLLM 0.10.0: four workers, four budgets, eight recomputed lines.
QWEN = LOGS / "vllm-v1-qwen3-32b-tp4-yarn-0.10.0.log"


def checked(run_cli, *args: str) -> tuple[int, dict, str]:
    code, out, err = run_cli("check-log", *args, "-f", "json")
    return code, (json.loads(out) if out else {}), err


def figures(doc: dict) -> list[tuple]:
    return [(c["what"], c["reported"], c["computed"], c["computed_max"], c["agrees"]) for c in doc["lines"]]


@pytest.fixture(scope="module")
def original():
    from kvcalc.logs.check import check_log
    from kvcalc.logs.report import check_log_report

    return check_log_report(check_log(str(QWEN))).document


def test_real_vllm_v1_log_every_line_agrees(run_cli):
    code, doc, err = checked(run_cli, str(QWEN))
    assert (code, err) == (0, "")
    assert (doc["runtime"], doc["version"], doc["version_source"], doc["model"]) == ("vllm", "0.10.0", "printed", "qwen3-32b")
    assert doc["settings"]["tp"] == 4 and doc["settings"]["max_model_len"] == 131072
    recomputed = [c for c in doc["lines"] if c["agrees"] is not None]
    assert len(recomputed) == 8 and all(c["agrees"] for c in recomputed)
    # 52.11 GiB // (64 layers x 16 tokens x 2 x 2 KV heads a GPU x 128 x 2 B = 1,048,576 B) = 53,355..53,365
    # blocks; 0.10 prints num_blocks // 1 group x 16 tokens
    tokens = next(c for c in doc["lines"] if c["reported"] == 853_808)
    assert (tokens["computed"], tokens["computed_max"]) == (853_680, 853_840)


def test_wrong_model_exits_1(run_cli):
    code, doc, _ = checked(run_cli, str(QWEN), "--model", "llama3.1-8b")
    assert code == 1 and doc["agrees"] is False
    assert doc["model"] == "llama3.1-8b"


def test_no_recognised_line_exits_2(run_cli, tmp_path):
    log = tmp_path / "app.log"
    log.write_text("hello\nnothing about memory here\n")
    code, out, err = run_cli("check-log", str(log))
    assert code == 2 and out == ""
    assert err.startswith("kvcalc: error: ") and "no memory line kvcalc recognises" in err and err.count("\n") == 1


def test_a_real_log_cut_before_its_memory_lines_exits_2(run_cli, tmp_path):
    head = "\n".join(QWEN.read_text().splitlines()[:12])  # the real start, before vLLM printed any memory line
    log = tmp_path / "head.log"
    log.write_text(head)
    code, out, err = run_cli("check-log", str(log))
    assert code == 2 and out == "" and "no memory line kvcalc recognises" in err


def test_unreadable_exits_2(run_cli, tmp_path):
    code, out, err = run_cli("check-log", str(tmp_path / "missing.log"))
    assert code == 2 and out == "" and "cannot read the log" in err and "Traceback" not in err
    code, _, err = run_cli("check-log", str(tmp_path))
    assert code == 2 and "is a folder" in err


# ----- hostile shapes, each made from the real log ----------------------------------------------

def _lines() -> list[str]:
    return QWEN.read_text(encoding="utf-8").splitlines()


def _write(tmp_path: Path, text: str, name: str = "log.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_ansi_colours(run_cli, tmp_path, original):
    text = "\n".join(f"\x1b[32mINFO\x1b[0m \x1b[1m{line}\x1b[0m" if "KV cache" in line else line for line in _lines())
    _, doc, _ = checked(run_cli, str(_write(tmp_path, text)))
    assert figures(doc) == figures(original)


def test_worker_prefixes(run_cli, tmp_path, original):
    prefixes = ["(EngineCore_0 pid=1812) ", "(RayWorkerWrapper pid=2255, ip=10.0.0.7) ", "(VllmWorker rank=0 pid=77) "]
    text = "\n".join(prefixes[i % 3] + line for i, line in enumerate(_lines()))
    _, doc, _ = checked(run_cli, str(_write(tmp_path, text)))
    assert figures(doc) == figures(original)
    assert [c["text"] for c in doc["lines"]] == [c["text"] for c in original["lines"]]  # the prefix is gone


def test_ray_repeated_suffix(run_cli, tmp_path, original):
    text = "\n".join(line + " [repeated 3x across cluster]" if "KV cache" in line else line for line in _lines())
    _, doc, _ = checked(run_cli, str(_write(tmp_path, text)))
    assert figures(doc) == figures(original)


def test_hard_wrapped_at_80_columns(run_cli, tmp_path, original):
    wrapped = []
    for line in _lines():
        while len(line) > 80:
            wrapped.append(line[:80])
            line = line[80:]
        wrapped.append(line)
    _, doc, _ = checked(run_cli, str(_write(tmp_path, "\n".join(wrapped))))
    assert figures(doc) == figures(original)
    assert doc["settings"]["max_model_len"] == 131072  # the config line, wrapped over many lines, read whole


def test_windows_line_ends(run_cli, tmp_path, original):
    _, doc, _ = checked(run_cli, str(_write(tmp_path, "\r\n".join(_lines()) + "\r\n")))
    assert figures(doc) == figures(original)
    assert [c["line"] for c in doc["lines"]] == [c["line"] for c in original["lines"]]


def test_two_starts_in_one_file(run_cli, tmp_path, original):
    text = "\n".join(_lines() * 2)
    _, doc, _ = checked(run_cli, str(_write(tmp_path, text)))
    assert len(doc["starts"]) == 2 and figures(doc) == figures(original) * 2
    assert {c["start"] for c in doc["lines"]} == {0, 1}


def test_gzipped_whatever_its_name(run_cli, tmp_path, original):
    path = tmp_path / "startup.log"  # no .gz: the magic bytes say it
    path.write_bytes(gzip.compress(QWEN.read_bytes()))
    _, doc, _ = checked(run_cli, str(path))
    assert figures(doc) == figures(original)


def test_stdin(run_cli, monkeypatch, original):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(QWEN.read_bytes())))
    _, doc, _ = checked(run_cli, "-")
    assert figures(doc) == figures(original)


def test_not_utf8_and_nul_bytes(run_cli, tmp_path, original):
    raw = QWEN.read_bytes().replace(b"Automatically", b"Auto\xff\xfe\x00matically")
    path = tmp_path / "bytes.log"
    path.write_bytes(raw)
    _, doc, _ = checked(run_cli, str(path))
    assert figures(doc) == figures(original)


def test_table_output_reads_line_by_line(run_cli):
    code, out, _ = run_cli("check-log", str(QWEN))
    assert code == 0
    assert "vLLM 0.10.0, V1 engine (printed: Initializing a V1 LLM engine (v0.10.0)" in out
    assert "GPU KV cache size: 853,808 tokens" in out and "kvcalc 853,680..853,840 | agrees" in out
    assert "every recomputed line agrees" in out.splitlines()[0]


# ----- every real log of the fixtures: (file, check-log options, lines recomputed, every one agrees) -----
H = Path(__file__).parent / "fixtures" / "hf"
REAL = [
    # vLLM V0: the V0 block rule from the printed budget, concurrency from the printed blocks
    ("vllm-v0-llama3.1-8b-tp2-0.6.4.log", ["--model", "llama3.1-8b"], 2, True),
    ("vllm-v0-llama3.1-8b-pp4-0.6.3.log", [], 1, True),  # pp 4: blocks not recomputed, concurrency is
    ("vllm-v0-qwen2.5-32b-tp4-0.6.3.log", [], 1, True),
    ("vllm-v0-llama3.1-8b-3090-20k-issue10517.log", ["--model", "llama3.1-8b"], 2, True),
    ("vllm-v0-llama3.1-8b-3090-29k-issue10517.log", ["--model", "llama3.1-8b"], 2, True),
    ("vllm-v0-mistral-7b-v0.3-0.5.5.log", ["--model", "mistral-7b-v0.3"], 0, None),  # no budget printed
    # vLLM V1: tokens and concurrency from "Available KV cache memory", by the release's rules
    ("vllm-v1-qwen3-32b-tp4-yarn-0.10.0.log", [], 8, True),
    ("vllm-v1-qwen3-32b-tp8-fp8kv-0.10.0.log", [], 16, True),
    ("vllm-v1-qwen3-235b-fp8-tp8-ep-fp8kv-0.10.0.log", ["--model", "qwen3-235b-a22b"], 16, True),
    ("vllm-v1-gpt-oss-120b-tp4-ray-ansi.log", ["--model", str(H / "gpt-oss-120b.json")], 8, True),  # sliding
    ("vllm-v1-qwen2-7b-tp2-a100.log", ["--model", str(H / "Qwen2-7B-Instruct.json")], 4, True),
    ("vllm-v1-qwen2-7b-a100-wrapped.log", ["--model", str(H / "Qwen2-7B-Instruct.json")], 2, True),
    ("vllm-v1-llama3.1-8b-l4-0.11.0.log", ["--model", str(H / "Llama-3.1-8B-Instruct.json")], 2, True),
    ("vllm-v1-llama3-8b-tp4-0.13.0.log", ["--model", "llama3-8b"], 2, True),
    ("vllm-v1-qwen2.5-3b-0.17.0.log", ["--model", str(H / "Qwen2.5-3B-Instruct.json")], 2, True),
    ("vllm-v1-llama3.2-1b-0.9.0.1.log", ["--model", str(H / "Llama-3.2-1B-Instruct.json")], 0, None),  # no budget
    ("vllm-v1-r1-distill-qwen14b-0.8.5.log", [], 0, None),  # a local path kvcalc does not know
    ("vllm-v1-gemma-4-e4b-it-swa-0.19.2rc1.log", [], 0, None),  # gemma-4: not known to kvcalc
    # vllm#21348: 178,880 tokens are 11,180 blocks, 8.02 GiB, not the 8.11 GiB printed (LMCache connector on)
    ("vllm-v1-qwen3-235b-fp8-tp4-issue21348.log", ["--model", "qwen3-235b-a22b", "--tp", "4"], 1, False),
    # SGLang: K and V buffers of (tokens + page) rows
    ("sglang-qwen3-235b-fp8-tp4-issue21348.log", ["--model", "qwen3-235b-a22b", "--tp", "4"], 2, True),
    ("sglang-deepseek-r1-0528-w4a8-mla-ascend-tp16-dp4.log", ["--model", "deepseek-v3"], 33, True),  # MLA + NEXTN draft
    ("sglang-qwen3-14b-tp2-cpuoffload.log", [], 0, None),  # Qwen3-14B: not known to kvcalc
    ("sglang-deepseek-v3.2-exp-b200-dp8-pr11309.log", [], 0, None),  # no model named
    # llama.cpp: the model from the printed metadata, the cells and MiB by the build's rules
    ("llama.cpp-gpt-oss-20b-iswa-t4-b7772.log", [], 10, True),  # full + SWA caches
    ("llama.cpp-deepseek-v3-0324-mla-4gpu-b5331.log", [], 7, True),  # MLA: K 576 + V 512 a token (b5137-b7831)
    ("llama.cpp-qwen3-235b-q8kv-sweep-bench-b5269.log", [], 4, True),  # q8_0 K and V: 34 B a 32; its one buffer
    ("llama.cpp-qwen2.5-3b-vulkan-partial-b8179.log", [], 6, True),  # CPU + Vulkan: whole layers each
    ("llama.cpp-qwen3-0.6b-orin-cpu-kv-b5489.log", [], 5, True),
    ("llama.cpp-gemma-4-e4b-iswa-metal-b8680.log", [], 0, None),  # gemma4: no kvcalc mapping
    ("ollama-llama2-7b-q4_0-metal-0.1.32.log", [], 4, True),
    ("ollama-qwen2.5-14b-cpu-0.9.0.log", [], 4, True),
    ("ik_llama.cpp-deepseek-r1-mla2-q8kv-a6000.log", ["--model", "deepseek-v3"], 0, None),  # n_ctx not in the excerpt
    ("ik_llama.cpp-deepseek-lite-mla1-q8kv-cpu-comma-decimal.log", [], 0, None),  # no metadata in the excerpt
]


def test_every_fixture_has_a_source_and_a_case():
    sources = json.loads((LOGS / "sources.json").read_text())
    files = {p.name for p in LOGS.glob("*.log")}
    assert {s["file"] for s in sources} == files
    assert all(s["source_url"] and s["repository"] for s in sources)
    assert {f for f, *_ in REAL} == files
    assert len(files) >= 20


@pytest.mark.parametrize("name, options, recomputed, agrees", REAL, ids=[r[0] for r in REAL])
def test_real_logs(run_cli, name, options, recomputed, agrees):
    code, doc, err = checked(run_cli, str(LOGS / name), *options)
    lines = [c for c in doc["lines"] if c["agrees"] is not None]
    assert len(lines) == recomputed, [c["rule"] for c in doc["lines"]][:3]
    assert doc["agrees"] is agrees
    assert code == (1 if agrees is False else 0)
    unknown = [c for c in doc["lines"] if c["agrees"] is None]
    assert all(c["rule"].startswith(("not recomputed", "the budget")) for c in unknown)


def test_device_buffers_must_add_up_to_every_layer(run_cli, tmp_path):
    """Synthetic, from a real log: one device's buffer grown by a whole layer (34 MiB) still is whole
    layers, but the devices then hold 62 of DeepSeek-V3's 61 layers."""
    real = (LOGS / "llama.cpp-deepseek-v3-0324-mla-4gpu-b5331.log").read_text()
    edited = real.replace("CUDA1 KV buffer size =   408.00 MiB", "CUDA1 KV buffer size =   442.00 MiB")
    assert edited != real
    code, doc, _ = checked(run_cli, str(_write(tmp_path, edited)))
    buffers = [c for c in doc["lines"] if c["what"].startswith("KV buffer")]
    assert code == 1 and len(buffers) == 4 and not any(c["agrees"] for c in buffers)
