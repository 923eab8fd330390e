"""GGUF in: kvcalc reads a .gguf's metadata (never its tensor data) through the gguf package."""

from __future__ import annotations

import json
import resource

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

from kvcalc.errors import ConfigError  # noqa: E402
from kvcalc.core.formulas import kv_cache  # noqa: E402
from kvcalc.models.gguf import from_gguf  # noqa: E402

GiB = 1024**3


def write_header_only(path, arch="llama", n_layers=32, head_count_kv=8, tensors_gib=100, **keys):
    """A GGUF whose tensor table declares `tensors_gib` GiB of f16 weights that were never written:
    the data region is a hole (a sparse file), so reading it would fault in pages of zeros."""
    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(n_layers)
    w.add_context_length(131072)
    w.add_embedding_length(4096)
    w.add_feed_forward_length(14336)
    w.add_head_count(32)
    w.add_head_count_kv(head_count_kv)
    w.add_vocab_size(128256)
    for key, value in keys.items():
        (w.add_uint32 if isinstance(value, int) else w.add_array)(f"{arch}.{key}", value)
    per = tensors_gib * GiB // 4
    for i in range(4):  # f16 tensors of `per` bytes each
        w.add_tensor_info(f"blk.{i}.ffn_up.weight", [per // 2 // 4096, 4096], np.dtype(np.float16), per)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    with open(path, "r+b") as f:  # the data region, as a hole
        f.truncate(path.stat().st_size + tensors_gib * GiB + 64)
    return path


def test_a_100_gib_gguf_answers_from_its_header(tmp_path):
    path = write_header_only(tmp_path / "big.gguf")
    assert path.stat().st_size > 100 * GiB and path.stat().st_blocks * 512 < 64 * 1024**2  # sparse
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model, weights = from_gguf(path)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    assert grown < 256 * 1024**2  # 100 GiB of tensor data were not paged in
    assert weights == 100 * GiB  # the tensor table: 4 tensors of 25 GiB
    assert (model.n_layers, model.n_heads, model.n_kv_heads, model.head_dim) == (32, 32, 8, 128)
    # 32 layers x 2 x 8 KV heads x 128 x 2 B (llama.cpp's f16 default) per token
    assert kv_cache(model, 1000, engine="llama.cpp").bytes_per_token == 32 * 2 * 8 * 128 * 2


def test_gguf_path_on_the_command_line_and_import(run_cli, tmp_path):
    path = write_header_only(tmp_path / "m.gguf", tensors_gib=1)
    code, out, err = run_cli(str(path), "--seq", "16384", "--engine", "llama.cpp", "-f", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["kv_cache_bytes"] == 32 * 16384 * 2 * 8 * 128 * 2 == 2_147_483_648
    assert doc["cells"] == 16384
    code, out, _ = run_cli("import", str(path))
    assert code == 0 and "n_kv_heads: 8" in out and "GGUF metadata (llama)" in out
    code, out, _ = run_cli("fit", str(path), "--gpu", "h100-80gb", "--seq", "4k", "-f", "json")
    assert code == 0 and json.loads(out)["weights_bytes"] == GiB  # from the tensor table
    _, out, _ = run_cli("fit", str(path), "--gpu", "h100-80gb", "--seq", "4k")
    assert "the GGUF's tensor table: 1,073,741,824" in " ".join(out.split())


def test_per_layer_kv_heads_make_jamba_layers(tmp_path):
    kv = [0, 0, 0, 0, 8, 0, 0, 0]
    path = write_header_only(tmp_path / "j.gguf", arch="jamba", n_layers=8, head_count_kv=kv, tensors_gib=1,
                             **{"ssm.conv_kernel": 4, "ssm.inner_size": 8192, "ssm.state_size": 16,
                                "ssm.time_step_rank": 256})
    model, _ = from_gguf(path)
    assert model.layer_kinds == "RRRRFRRR" and model.ssm.d_inner == 8192
    c = kv_cache(model, 4096, engine="llama.cpp")  # 4 slots (llama-server's auto)
    # per slot and Mamba layer: R (4 - 1) x 8192 and S 8192 x 16, in f32; 7 Mamba layers
    assert c.state_bytes == 7 * 4 * (3 * 8192 + 8192 * 16) * 4


def test_gguf_errors_name_the_key(tmp_path):
    path = write_header_only(tmp_path / "x.gguf", arch="bert", tensors_gib=1)
    assert from_gguf(path)[0].unmapped.startswith("GGUF architecture 'bert'")  # commands refuse it by name
    w = gguf.GGUFWriter(str(tmp_path / "y.gguf"), "llama")
    w.add_block_count(2)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    with pytest.raises(ConfigError, match="GGUF key llama.attention.head_count is missing"):
        from_gguf(tmp_path / "y.gguf")
    (tmp_path / "z.gguf").write_bytes(b"not a gguf at all")
    with pytest.raises(ConfigError, match="not a readable GGUF file"):
        from_gguf(tmp_path / "z.gguf")


def test_sliding_patterns_as_llama_cpp_reads_them(tmp_path):
    # gemma3: every 6th layer full by default; gpt-oss: every 2nd; a per-layer flag array wins
    g3 = write_header_only(tmp_path / "g3.gguf", arch="gemma3", n_layers=12, tensors_gib=1,
                           **{"attention.sliding_window": 1024, "attention.key_length": 256})
    model, _ = from_gguf(g3)
    assert model.layer_kinds == "SSSSSF" * 2 and model.sliding_window == 1024 and model.head_dim == 256
    oss = write_header_only(tmp_path / "oss.gguf", arch="gpt-oss", n_layers=4, tensors_gib=1,
                            **{"attention.sliding_window": 128})
    assert from_gguf(oss)[0].layer_kinds == "SFSF"
    flags = write_header_only(tmp_path / "flags.gguf", arch="gemma3", n_layers=4, tensors_gib=1,
                              **{"attention.sliding_window": 512, "attention.sliding_window_pattern": [True, False, False, True]})
    assert from_gguf(flags)[0].layer_kinds == "SFFS"
    # a pattern of 0: llama_hparams::set_swa_pattern makes every layer slide (n_pattern == 0)
    zero = write_header_only(tmp_path / "zero.gguf", arch="gemma3", n_layers=6, tensors_gib=1,
                             **{"attention.sliding_window": 512, "attention.sliding_window_pattern": 0})
    assert from_gguf(zero)[0].layer_kinds == "S" * 6
    # Phi-3 declares a window that llama.cpp does not run: every layer is full
    phi = write_header_only(tmp_path / "phi.gguf", arch="phi3", tensors_gib=1, **{"attention.sliding_window": 2047})
    assert from_gguf(phi)[0].layer_kinds == "F" * 32


def test_deepseek2_mla_dims(tmp_path):
    path = write_header_only(tmp_path / "ds.gguf", arch="deepseek2", n_layers=61, head_count_kv=1, tensors_gib=1, **{
        "attention.kv_lora_rank": 512, "rope.dimension_count": 64, "attention.key_length_mla": 192,
        "attention.value_length_mla": 128, "attention.key_length": 576, "attention.value_length": 512})
    model, _ = from_gguf(path)
    assert (model.mla.kv_lora_rank, model.mla.qk_rope_head_dim, model.mla.qk_nope_head_dim, model.mla.v_head_dim) == (512, 64, 128, 128)
    # llama.cpp: one K row of 512 + 64 a token and layer, f16, no V
    assert kv_cache(model, 16384, engine="llama.cpp").total_bytes == 61 * 16384 * 576 * 2


@pytest.mark.parametrize("arch, family", [("qwen3moe", "qwen3_moe"), ("falcon", "falcon"), ("qwen2", "qwen2"),
                                          ("mistral3", "mistral")])
def test_plain_architectures_map(tmp_path, arch, family):
    model, _ = from_gguf(write_header_only(tmp_path / f"{arch}.gguf", arch=arch, tensors_gib=1))
    assert (model.family, model.n_kv_heads, model.head_dim, model.layer_kinds) == (family, 8, 128, "F" * 32)
