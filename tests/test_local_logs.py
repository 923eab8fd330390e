"""kvcalc's llama.cpp buffers against public startup logs of GPU (CUDA, Metal, Vulkan) and CPU runs
(tests/fixtures/local-logs, verbatim with sources.json): the model buffers per device and the
output buffers exactly, the compute buffers (an estimate) within the error the README states.
Every expected figure is read from the log itself."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from kvcalc.engines import get_engine
from kvcalc.models.gguf_tensors import from_config
from kvcalc.models.registry import load_model
from kvcalc.planning.gpus import find_gpu
from kvcalc.planning.llamacpp_buffers import compute_buffers, cpu_compute_buffer, output_buffer
from kvcalc.planning.local_fit import Local, place

LOGS = Path(__file__).parent / "fixtures" / "local-logs"
MIB = r"=\s+([\d.]+) MiB"

# log, run (03 is a diff of two runs), model, a llama.cpp build of the log's era (01: Ollama 0.5 of late
# 2024; 02, 09: Ollama of 2025-06; 03: 2025-01; 06: inp_embd but an f32 mask: b7774-b9409),
# llama.cpp settings, n_ctx, where it ran, the GGUF's file type
# (None: not a file kvcalc's quantizer reproduces), compute tolerance in MiB
CASES = [
    ("01_llama-3.1-8b_cuda_rtx4090_ollama.log", None, "llama3.1-8b", "b4291",
     dict(n_parallel=4, kv_unified=True, flash_attn="off"), 8192, "cuda", "q4_k_m", True, 0.005),
    ("02_deepseek-r1-distill-llama-8b_cuda_gtx1080_ollama.log", None, "llama3.1-8b", "b5554",
     dict(n_parallel=4, kv_unified=True, flash_attn="off"), 8192, "cuda", "q4_k_m", True, 0.005),
    ("03_mistral-7b-v0.2_cuda_logdetective_pr106.log", "-", "mistral-7b", "b4463",
     dict(n_parallel=1, flash_attn="off"), 2048, "cuda", None, False, 0.005),
    ("03_mistral-7b-v0.2_cuda_logdetective_pr106.log", "+", "mistral-7b", "b4463",
     dict(n_parallel=1, flash_attn="off"), 32768, "cuda", None, False, 0.005),
    ("04_qwen3-coder-30b-a3b_cuda_a100_b7342.log", None, "qwen3-30b-a3b", "b7342",
     dict(n_parallel=4, kv_unified=True, flash_attn="auto"), 65536, "cuda", "q8_0", False, 0.005),
    ("06_qwen2.5-0.5b_metal_m4.log", None, "qwen2-0.5b", "b9000",
     dict(n_parallel=1, kv_unified=False, flash_attn="auto"), 512, "metal", None, False, 0.005),
    ("07_qwen2.5-coder-7b_vulkan_rtx5080.log", None, "qwen2.5-7b", "b11312",
     dict(n_parallel=1, kv_unified=False, flash_attn="auto"), 16384, "cuda", "q8_0", False, 0.005),
    ("08_qwen3-0.6b_cuda_orin_ngl0_b5489.log", None, "qwen3-0.6b", "b5489",
     dict(n_parallel=1, flash_attn="off"), 4096, "gpu0", None, False, 2.5),
    ("09_qwen2.5-14b_cpu_ollama.log", None, str(LOGS / "qwen2.5-14b.yaml"), "b5554",
     dict(n_parallel=2, kv_unified=True, flash_attn="off"), 8192, "cpu", None, True, 0.005),
]


def _lines(case) -> str:
    text = (LOGS / case[0]).read_text()
    if case[1] is None:
        return text
    return "\n".join(l[1:] for l in text.splitlines() if l[:1] in (case[1], " "))


def _mib(text: str, pattern: str) -> float:
    found = re.findall(pattern + MIB, text)
    assert found, pattern
    return float(found[-1])


def _engine(case):
    _, _, name, build, opts, n_ctx, where, *_ = case
    eng = get_engine(f"llama.cpp@{build}", **opts)
    text = _lines(case)
    n_batch = int(re.findall(r"n_batch\s+=\s+(\d+)", text)[-1]) if "n_batch" in text else 2048
    server = "main: setting n_parallel" in text  # llama-server's auto slots: n_outputs_max = -np
    return replace(eng, n_batch=n_batch, c_api=not server), load_model(name)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0][:2] + (c[1] or ""))
def test_compute_and_output_buffers(case):
    eng, model = _engine(case)
    text, n_ctx, where, embeddings, tol = _lines(case), case[5], case[6], case[8], case[9]
    if "output buffer size" in text:  # (07's excerpt does not print it)
        assert round(output_buffer(model, eng, embeddings) / 2**20, 2) == _mib(text, r"output buffer size ")
    if where == "cpu":
        assert abs(cpu_compute_buffer(model, eng, n_ctx) / 2**20 - _mib(text, r"CPU compute buffer size ")) < tol
        return
    head = 151936 * 1024 // 256 * 210 if where == "gpu0" else 0  # the file's tied head: Q6_K, 127,626,240 B
    c = compute_buffers(model, eng, n_ctx, 0 if where == "gpu0" else model.n_layers + 1, where == "metal", head)
    device = _mib(text, r"(?:CUDA0|MTL0|Vulkan0) compute buffer size ")
    host = _mib(text, r"(?:CUDA_Host|Vulkan_Host|CPU) compute buffer size ")
    assert abs(c.device_bytes / 2**20 - device) < tol
    assert abs(c.host_bytes / 2**20 - host) < 0.005


@pytest.mark.parametrize("case", [c for c in CASES if c[7]], ids=lambda c: c[0][:2])
def test_model_buffers_per_device(case):
    """The GPU holds every block and the output layer; token_embd stays in host memory."""
    eng, model = _engine(case)
    text, gpu = _lines(case), {"01": "rtx-4090", "02": "rtx-4090", "04": "a100-40gb", "07": "rtx-5080"}[case[0][:2]]
    device = find_gpu(gpu)
    p = place(model, from_config(model, case[7]), Local(device, eng.for_model(model), device.memory_bytes, "log"),
              case[5], model.n_layers + 1)
    assert round(p.gpu.weights_bytes / 2**20, 2) == _mib(text, r"(?:CUDA0|Vulkan0) model buffer size ")
    assert round(p.host.weights_bytes / 2**20, 2) == _mib(text, r"CPU(?:_Mapped)? model buffer size ")


def test_every_log_has_its_source():
    import json

    sources = {s["file"]: s for s in json.loads((LOGS / "sources.json").read_text())["logs"]}
    for log in {c[0] for c in CASES}:
        s = sources[log]
        assert (s.get("repo") and s.get("commit") and s.get("path")) or s.get("issue_url"), log
