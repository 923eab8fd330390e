"""`kvcalc fit --engine llama.cpp|ollama`: what llama.cpp places on the GPU and in host memory
(kvcalc.planning.local_fit), the answers (largest -c, most -ngl), Apple's working set, and the CLI."""

from __future__ import annotations

import json

import pytest

from kvcalc.engines import get_engine
from kvcalc.models.gguf_tensors import from_config
from kvcalc.models.registry import load_model
from kvcalc.planning import gpus as g
from kvcalc.planning.local_fit import DEFAULT_MARGIN, Local, layer_kv, max_context, max_ngl, place

GIB = 1 << 30


def _local(gpu="rtx-4090", model="llama3.1-8b", **engine):
    m = load_model(model)
    device = g.find_gpu(gpu)
    size, rule = device.working_set()
    return m, Local(device, get_engine("llama.cpp", **engine).for_model(m), size, rule)


def test_layers_offloaded_from_the_last_and_the_output_layer_last():
    m, local = _local(n_parallel=1)
    w = from_config(m, "q4_k_m")
    full, none, half = (place(m, w, local, 4096, n) for n in (33, 0, 16))
    # token_embd stays in host memory: 128256 x 4096 at Q4_K = 295,501,824 B (log 01: CPU 281.81 MiB)
    assert full.host.weights_bytes == 295_501_824
    assert full.gpu.weights_bytes + full.host.weights_bytes == w.total_bytes
    assert none.gpu.weights_bytes == 0 and none.host.weights_bytes == w.total_bytes
    assert half.gpu.kv_cache_bytes == half.host.kv_cache_bytes == full.gpu.kv_cache_bytes // 2
    # 32 layers x 4096 cells x 8 heads x 128 x 2 (K, V) x 2 B = 512 MiB
    assert full.gpu.kv_cache_bytes == 512 << 20 and none.host.kv_cache_bytes == 512 << 20


def test_a_tied_head_is_copied_to_the_gpu():
    m, local = _local(model="llama3.2-1b", n_parallel=1)
    w = from_config(m, "q8_0")
    embd = w.named("token_embd.weight")
    full, blocks = place(m, w, local, 4096, 17), place(m, w, local, 4096, 16)
    assert full.host.weights_bytes == embd  # token_embd in host memory, and its copy on the GPU
    assert full.gpu.weights_bytes - blocks.gpu.weights_bytes >= embd


def test_n_cpu_moe_keeps_experts_in_host_memory():
    from dataclasses import replace

    m, local = _local(model="qwen3-30b-a3b", n_parallel=1)
    w = from_config(m, "q4_k_m")
    experts = w.layer_bytes(m.n_layers, experts=True)
    a, b = place(m, w, local, 4096, 49), place(m, w, replace(local, n_cpu_moe=10), 4096, 49)
    assert a.gpu.weights_bytes - b.gpu.weights_bytes == pytest.approx(sum(experts[:10]), rel=1e-3)
    assert b.host.weights_bytes - a.host.weights_bytes == sum(experts[:10])


def test_max_context_is_the_largest_that_fits():
    m, local = _local(n_parallel=1)
    w = from_config(m, "q8_0")
    p = max_context(m, w, local, 33, 10**6)
    assert p.fits and p.n_ctx % 256 == 0
    assert not place(m, w, local, p.n_ctx + 256, 33).fits


def test_max_ngl_when_the_model_is_larger_than_the_gpu():
    m, local = _local(gpu="rtx-3060-12gb", model="qwen3-30b-a3b", n_parallel=1)
    w = from_config(m, "q4_k_m")
    p = max_ngl(m, w, local, 8192)
    assert 0 < p.ngl < 49 and p.fits and not place(m, w, local, 8192, p.ngl + 1).fits


def test_layer_kv_sums_to_the_cache():
    m = load_model("gemma-3-12b")
    eng = get_engine("llama.cpp", n_parallel=1).for_model(m)
    per = layer_kv(m, eng, 32768, "f16", "f16")
    assert len(per) == m.n_layers and len(set(per)) == 2  # sliding and global layers


@pytest.mark.parametrize("memory, expected", [
    (8 << 30, 5_726_633_984),  # 5461.34 MiB, logged (old print "5461.34 MB")
    (24 << 30, 17_179_885_568),  # logged in bytes (gpustack fixture)
    (32 << 30, 22_906_503_168),  # logged in bytes
    (36 << 30, 27 << 30),  # 3/4 from 36 GiB (M4 Max 36 GB: 28991.03 MB)
    (64 << 30, 48 << 30),  # 51539.61 MB
])
def test_apple_working_set_rule(memory, expected):
    assert g.apple_working_set(memory) == expected


def test_catalog_macs_and_wired_limit():
    mac = g.find_gpu("m2-max-64gb")
    assert mac.unified and mac.working_set()[0] == 48 * GIB
    size, rule = mac.working_set(56 * GIB)
    assert size == 56 * GIB and "iogpu.wired_limit_mb=57344" in rule


def test_gpu_auto_on_a_mac(monkeypatch):
    answers = {"machdep.cpu.brand_string": "Apple M2 Max", "hw.memsize": str(64 << 30), "iogpu.wired_limit_mb": "0"}
    monkeypatch.setattr(g, "_nvidia_smi", lambda: [])
    monkeypatch.setattr("platform.system", lambda: "Darwin")
    monkeypatch.setattr(g, "_run", lambda args: answers.get(args[-1]))
    assert g.find_gpu("auto").name == "m2-max-64gb"
    answers["iogpu.wired_limit_mb"] = "57344"
    gpu = g.find_gpu("auto")
    assert gpu.working_set()[0] == 56 * GIB and "57344" in gpu.source
    answers["machdep.cpu.brand_string"] = "Apple M9 Max"
    assert g.find_gpu("auto").name == "m9-max-64gb"


def test_gpu_auto_with_rocm(monkeypatch):
    out = json.dumps({"card0": {"Card series": "Radeon RX 7900 XTX", "VRAM Total Memory (B)": "25753026560"}})
    monkeypatch.setattr(g, "_nvidia_smi", lambda: [])
    monkeypatch.setattr(g, "_mac", lambda: None)
    monkeypatch.setattr(g, "_run", lambda args: out if args[0] == "rocm-smi" else None)
    gpu = g.find_gpu("auto")
    assert gpu.name == "rx-7900-xtx" and gpu.memory_bytes == 25_753_026_560


# ----- the CLI ---------------------------------------------------------------------------------

def test_must_show_rtx_4090(run_cli):
    code, out, err = run_cli("fit", "llama3.1-8b", "--engine", "llama.cpp", "--weights-dtype", "q4_k_m", "--batch", "1",
                             "--gpu", "rtx-4090")
    assert code == 0, err
    assert "max context -c" in out and "all 33 layers on the GPU" in out
    for line in ("weights (q4_k_m)", "KV cache (f16)", "compute buffers (est.)", "output buffer", "margin",
                 "usable on the GPU", "23.64 GiB"):
        assert line in out


def test_must_show_m2_max(run_cli):
    code, out, err = run_cli("fit", "llama3.1-8b", "--engine", "llama.cpp", "--weights-dtype", "q4_k_m", "--batch", "1",
                             "--gpu", "m2-max-64gb", "-f", "json")
    doc = json.loads(out)
    assert doc["usable_bytes"] == 48 * GIB and doc["question"] == "max_context"
    for key in ("weights_bytes", "kv_cache_bytes", "compute_buffer_bytes", "output_buffer_bytes", "max_context"):
        assert isinstance(doc[key], int)
    assert doc["devices"][0]["kind"] == "gpu" and doc["margin_bytes"] == DEFAULT_MARGIN


def test_verdict_and_what_to_change(run_cli):
    code, out, err = run_cli("fit", "qwen3-30b-a3b", "--engine", "llama.cpp", "--weights-dtype", "q4_k_m", "-c", "32k",
                             "-ngl", "all", "--gpu", "rtx-3060-12gb", "--fail-if-not-fit")
    assert code == 1 and "does NOT fit" in out and "--n-cpu-moe" in out and "-ngl" in out


def test_ollama_defaults(run_cli):
    code, out, err = run_cli("fit", "llama3.1-8b", "--engine", "ollama@0.9.0", "--gpu", "rtx-4090", "-f", "json")
    doc = json.loads(out)
    assert code == 0, err
    assert doc["n_ctx"] == 8192 and doc["n_parallel"] == 2  # num_ctx 4096 x OLLAMA_NUM_PARALLEL auto 2
    assert doc["output_buffer_bytes"] == 2 * 4 * (128256 + 4096)  # Ollama extracts embeddings too
    code, out, err = run_cli("fit", "llama3.1-8b", "--engine", "ollama", "--gpu", "rtx-4090", "-f", "json")
    assert json.loads(out)["n_ctx"] == 32768  # 0.15.5 on: 32768 for 23-47 GiB


@pytest.mark.parametrize("args, message", [
    (["llama3.1-8b", "--engine", "llama.cpp", "--gpu", "rtx-4090"], "--weights-dtype FILE_TYPE"),
    (["llama3.1-8b", "--engine", "llama.cpp", "--gpu", "rtx-4090", "--weights-dtype", "int4"], "a llama.cpp file type"),
    (["llama3.1-8b", "--engine", "llama.cpp", "--gpu", "rtx-4090", "--weights-bytes", "5GB"], "--weights-bytes"),
    (["llama3.1-8b", "--engine", "llama.cpp", "--gpu", "rtx-4090", "--tp", "2"], "--tp: vLLM's and SGLang's"),
    (["llama3.1-8b", "--gpu", "rtx-4090", "-ngl", "10"], "--n-gpu-layers: llama.cpp's"),
    (["llama3.1-8b", "--engine", "llama.cpp", "--weights-dtype", "q4_0", "--gpu", "rtx-4090", "--wired-limit", "20GiB"],
     "not an Apple GPU"),
    (["llama3.1-8b", "--engine", "llama.cpp", "--weights-dtype", "q4_0", "--gpu", "rtx-4090", "--n-cpu-moe", "2"],
     "no experts"),
    (["llama3.1-8b", "--engine", "llama.cpp", "--weights-dtype", "q4_0", "--gpu", "rtx-4090", "--batch", "2", "-np", "3"],
     "give one"),
    (["qwen3-8b", "--engine", "ollama@0.20.0", "--gpu", "rtx-4090"], "Go engine"),
    (["deepseek-v3", "--engine", "llama.cpp", "--weights-dtype", "q4_k_m", "--gpu", "rtx-4090"], "does not list the GGUF"),
])
def test_refusals(run_cli, args, message):
    code, out, err = run_cli("fit", *args)
    assert code != 0 and message in err and "Traceback" not in err and out == ""


def test_a_gguf_files_own_tensor_table(run_cli, tmp_path):
    """A .gguf's tensors as stored: a Q8_0 file of 2 llama layers, its blocks' bytes on the GPU."""
    import numpy as np

    gguf = pytest.importorskip("gguf")
    w = gguf.GGUFWriter(str(tmp_path / "tiny.gguf"), "llama")
    for key, value in (("block_count", 2), ("context_length", 8192), ("embedding_length", 256),
                       ("feed_forward_length", 512), ("attention.head_count", 4), ("attention.head_count_kv", 2)):
        w.add_uint32(f"llama.{key}", value)
    w.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_uint32("llama.vocab_size", 1024)
    q8 = gguf.GGMLQuantizationType.Q8_0
    tensors = [("token_embd.weight", (1024, 256), q8), ("output_norm.weight", (256,), None),
               ("output.weight", (1024, 256), q8)]
    for i in range(2):
        tensors += [(f"blk.{i}.attn_norm.weight", (256,), None), (f"blk.{i}.attn_q.weight", (256, 256), q8),
                    (f"blk.{i}.attn_k.weight", (128, 256), q8), (f"blk.{i}.attn_v.weight", (128, 256), q8),
                    (f"blk.{i}.attn_output.weight", (256, 256), q8), (f"blk.{i}.ffn_norm.weight", (256,), None),
                    (f"blk.{i}.ffn_gate.weight", (512, 256), q8), (f"blk.{i}.ffn_up.weight", (512, 256), q8),
                    (f"blk.{i}.ffn_down.weight", (256, 512), q8)]
    for name, shape, qt in tensors:  # numpy order: rows, then the row of ne0 elements
        if qt is None:
            w.add_tensor(name, np.zeros(shape, dtype=np.float32))
        else:
            w.add_tensor(name, np.zeros((shape[0], shape[1] // 32 * 34), dtype=np.uint8), raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    code, out, err = run_cli("fit", str(tmp_path / "tiny.gguf"), "--engine", "llama.cpp", "--gpu", "rtx-4090",
                             "-c", "4096", "-ngl", "all", "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    per_block = (256 * 256 * 2 + 128 * 256 * 2 + 512 * 256 * 3) // 32 * 34 + 2 * 256 * 4  # Q8_0 + 2 f32 norms
    embd = 1024 * 256 // 32 * 34
    assert doc["weights_bytes"] == 2 * per_block + 2 * embd + 256 * 4
    assert doc["devices"][1]["weights_bytes"] == embd  # token_embd stays in host memory
    assert doc["weights_file_type"] is None and "tensor table" in doc["weights_source"]
    code, out, err = run_cli("fit", str(tmp_path / "tiny.gguf"), "--engine", "llama.cpp", "--gpu", "rtx-4090",
                             "--weights-dtype", "q4_0")
    assert code == 2 and "their own types" in err


def test_a_user_catalog_without_bandwidth(run_cli, tmp_path):
    """A user's GPU needs no bandwidth for llama.cpp's fit; a decode bound then has none."""
    f = tmp_path / "mine.yaml"
    f.write_text("gpus:\n  - name: my-card\n    vendor: nvidia\n    memory_bytes: 17179869184\n    source: my nvidia-smi\n"
                 "  - name: my-mac\n    vendor: apple\n    memory_bytes: 34359738368\n    source: About This Mac\n")
    code, out, err = run_cli("fit", "llama3.1-8b", "--engine", "llama.cpp", "--weights-dtype", "q8_0", "--gpu", "my-card",
                             "--gpu-catalog", str(f), "-f", "json")
    assert code == 0, err
    assert json.loads(out)["usable_bytes"] == 17179869184 - (512 << 20)  # CUDA's total: the driver's less 512 MiB
    code, out, err = run_cli("fit", "llama3.1-8b", "--engine", "llama.cpp", "--weights-dtype", "q8_0", "--gpu", "my-mac",
                             "--gpu-catalog", str(f), "-f", "json")
    assert json.loads(out)["usable_bytes"] == g.apple_working_set(32 << 30)
    code, out, err = run_cli("fit", "llama3.1-8b", "--gpu", "my-card", "--gpu-catalog", str(f), "--seq", "4k", "--batch", "1")
    assert code == 0, err
