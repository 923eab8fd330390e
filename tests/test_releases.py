"""Versioned engines (issue #23): --engine NAME@VERSION takes the rules of the newest era at or
below VERSION; the numbers each release's own log printed, with their arithmetic. The eras are
checked release by release against goldens recorded from the runtimes (test_release_goldens.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kvcalc.engines import get_engine
from kvcalc.engines.releases import Era, Runtime, resolve
from kvcalc.errors import InputError

from .conftest import HF

MiB = 1024**2


def _json(run_cli, *args):
    code, out, err = run_cli(*args, "-f", "json")
    assert code == 0, err
    return json.loads(out), err


def test_gpt_oss_120b_on_vllm_0_10_1_1_is_what_its_log_printed(run_cli):
    """vLLM 0.10.1.1 printed `Maximum concurrency for 16,384 tokens per request: 284.25x` (TP 4,
    --max-num-batched-tokens 2048, 45.32 GiB of KV memory): its sliding layers reserve window - 1 +
    max_num_batched_tokens; 0.26.0 on, window - 1 + 2 x 2048 tokens in flight."""
    args = ("fit", str(HF / "gpt-oss-120b.json"), "--kv-memory", "45.32GiB", "--tp", "4", "--max-model-len", "16384",
            "--max-num-batched-tokens", "2048")
    old, _ = _json(run_cli, *args, "--engine", "vllm@0.10.1.1")
    new, _ = _json(run_cli, *args, "--engine", "vllm@0.32.0")
    # 18 full + 18 sliding layers of 2 KV heads x 64 x 2 (K, V) x 2 B x 16 tokens = 8,192 B pages
    assert old["num_blocks"] == new["num_blocks"] == 48_661_979_463 // (18 * 8192) == 330_010
    # full: 16,384 / 16 = 1,024 blocks; sliding: cdiv(127 + 2,048, 16) + 1 = 137 (0.10.1.1), cdiv(127 + 4,096, 16) + 1 = 265
    assert round(old["max_concurrency"], 2) == 284.25 == round(330_010 / (1024 + 137), 2)
    assert round(new["max_concurrency"], 2) == 256.02 == round(330_010 / (1024 + 265), 2)
    assert (old["engine_version"], old["rules_version"]) == ("0.10.1.1", "0.9.1")
    assert (new["engine_version"], new["rules_version"]) == ("0.32.0", "0.32.0")


def test_deepseek_v3_on_llama_cpp_b5331_keeps_a_v_row(run_cli):
    """llama.cpp build 5331 logged `KV self size = 2074.00 MiB, K (f16): 1098.00 MiB, V (f16):
    976.00 MiB` for DeepSeek-V3 at -c 16384: MLA K of 576 and V of 512 a token (PR #12801 until
    PR #19067, b7832, dropped the V row)."""
    doc, _ = _json(run_cli, str(HF / "DeepSeek-V3.json"), "--seq", "16384", "--parallel", "1",
                   "--engine", "llama.cpp@b5331")
    # 61 layers x 16,384 cells x (576 + 512) x 2 B
    assert doc["kv_cache_bytes"] == 61 * 16384 * (576 + 512) * 2 == 2_174_746_624
    assert doc["llama_cpp"]["log"] == ["llama_kv_cache_unified: KV self size  = 2074.00 MiB, K (f16): 1098.00 MiB, "
                                       "V (f16):  976.00 MiB"]
    later, _ = _json(run_cli, str(HF / "DeepSeek-V3.json"), "--seq", "16384", "--parallel", "1",
                     "--engine", "llama.cpp@b7917")
    assert later["kv_cache_bytes"] == 61 * 16384 * 576 * 2 == 1098 * MiB
    assert later["rules_version"] == "b7832"


@pytest.mark.parametrize("release, cells", [("0.3.16", 5024), ("0.3.17", 5120)])
def test_llama_cpp_python_pads_n_ctx_by_its_vendored_build(run_cli, release, cells):
    """llama-cpp-python 0.3.16 vendors b6170: 5000 cells padded to 32 with flash attention off;
    0.3.17 vendors b8475: padded to 256 whatever flash attention does (PR #17046)."""
    doc, _ = _json(run_cli, "llama3.2-1b", "--engine", f"llama-cpp-python@{release}", "--seq", "5000",
                   "--parallel", "1", "--flash-attn", "off")
    assert doc["cells"] == cells and doc["engine"] == "llama-cpp-python" and doc["engine_version"] == release
    assert doc["llama_cpp"]["swa_full"] is True and doc["llama_cpp"]["kv_unified"] is False  # the C API's defaults


def test_llama_cpp_python_vendors_the_build_its_changelog_names():
    e = get_engine("llama-cpp-python@0.3.9")
    assert e.rules_version == "b5262" and e.mla == "k_v" and e.swa_cache == "none" and e.ctx_pad == "fa"
    assert get_engine("llama-cpp-python@0.3.36").rules_version == get_engine("llama.cpp").rules_version


def test_llama_server_slots_by_build():
    """-np auto = 4 unified slots from b6925 (an explicit -np 1 too, until b7433); before, 1 slot."""
    assert (get_engine("llama.cpp@b6170").n_parallel, get_engine("llama.cpp@b6170").kv_unified) == (1, False)
    assert (get_engine("llama.cpp@b7000", n_parallel=1).n_parallel, get_engine("llama.cpp@b7000", n_parallel=1).kv_unified) == (4, True)
    assert (get_engine("llama.cpp", n_parallel=1).n_parallel, get_engine("llama.cpp", n_parallel=1).kv_unified) == (1, False)
    assert (get_engine("llama.cpp").n_parallel, get_engine("llama.cpp").kv_unified) == (4, True)
    assert (get_engine("llama.cpp", n_parallel=3).n_parallel, get_engine("llama.cpp", n_parallel=3).kv_unified) == (3, False)


def test_flash_attention_auto_did_not_exist_before_b6325(run_cli):
    code, _, err = run_cli("llama3-8b", "--seq", "4k", "--engine", "llama.cpp@b5331", "--flash-attn", "auto")
    assert code == 2 and "b6325" in err


def test_a_pre_mla_deepseek_gguf_is_cached_per_head(tmp_path, run_cli):
    """A DeepSeek GGUF converted before PR #12801 has no key_length_mla: every llama.cpp release
    runs it unabsorbed, K of n_head x 192 and V of n_head x 128 a token."""
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "ds.gguf"
    w = gguf.GGUFWriter(str(path), "deepseek2")
    for key, value in {"block_count": 2, "context_length": 4096, "embedding_length": 64, "feed_forward_length": 32,
                       "attention.head_count": 4, "attention.head_count_kv": 4, "attention.key_length": 192,
                       "attention.value_length": 128, "attention.kv_lora_rank": 512, "rope.dimension_count": 64,
                       "vocab_size": 32}.items():
        w.add_uint32(f"deepseek2.{key}", value)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    doc, _ = _json(run_cli, str(path), "--seq", "4096", "--parallel", "1", "--engine", "llama.cpp")
    # 2 layers x 4,096 cells x 4 heads x (192 + 128) x 2 B
    assert doc["kv_cache_bytes"] == 2 * 4096 * 4 * (192 + 128) * 2 == 20_971_520
    exact, _ = _json(run_cli, str(path), "--seq", "4096")
    assert exact["kv_cache_bytes"] == 2 * 4096 * 576 * 2  # the model itself is MLA: its latent


def test_versions_as_users_write_them():
    assert get_engine("Exact").name == "exact" and get_engine(" VLLM@0.10 ").version == "0.10"
    assert get_engine("vllm@0.10").rules_version == "0.9.1" and get_engine("vllm@0.8.5").hybrid is False
    assert get_engine("llama.cpp@5331").version == get_engine("llama.cpp@b5331").version == "b5331"
    assert get_engine("transformers@4.57.6").name == "hf" and get_engine("hf@4.57.6").mla_cache == "per_head"
    assert get_engine("vllm").version == "0.32.0" and get_engine("vllm").warning is None


def test_newer_is_a_warning_older_an_error(run_cli):
    code, _, err = run_cli("llama3-8b", "--seq", "4k", "--engine", "vllm@9.1")
    assert code == 0 and "vLLM 9.1 is newer than the newest release kvcalc was checked against (0.32.0)" in err
    code, _, err = run_cli("llama3-8b", "--seq", "4k", "--engine", "vllm@0.7.3")
    assert code == 2 and "covers vLLM 0.8.4 to 0.32.0" in err and len(err.strip().splitlines()) == 1
    for bad in ("vllm@", "vllm@x.y", "llama.cpp@main", "exact@1.0"):
        code, _, err = run_cli("llama3-8b", "--seq", "4k", "--engine", bad)
        assert code == 2 and err.startswith("kvcalc: error:"), bad


def test_an_engine_refuses_options_it_does_not_have():
    with pytest.raises(InputError, match="--parallel is not an option of --engine vllm"):
        get_engine("vllm", n_parallel=2)


def test_eras_merge_their_rules_oldest_first():
    rt = Runtime("x", "X", "release", checked=("1.0", "3.0"),
                 eras=(Era("1.0", "a", "s", {"a": 1, "b": 1}), Era("2.0", "b", "s", {"b": 2})))
    assert resolve(rt, "1.5").rules == {"a": 1, "b": 1} and resolve(rt, "2.1").rules == {"a": 1, "b": 2}
    assert resolve(rt, None).version == "3.0" and resolve(rt, "2.1").rules_version == "2.0"


def test_kvcalc_engines_lists_every_era_with_its_source(run_cli):
    doc, _ = _json(run_cli, "engines")
    by = {r["engine"]: r for r in doc["runtimes"]}
    assert set(by) == {"hf", "vllm", "sglang", "llama.cpp", "llama-cpp-python", "ollama"}
    assert [e["since"] for e in by["vllm"]["eras"]][:1] == ["0.8.4"] and by["vllm"]["newest"] == "0.32.0"
    vllm = {e["since"]: e["source"] for e in by["vllm"]["eras"]}
    assert {"0.9.1", "0.11.0", "0.20.1", "0.26.0", "0.29.0"} <= set(vllm)
    assert all(e["source"] for r in doc["runtimes"] for e in r["eras"])
    builds = {e["since"]: e["source"] for e in by["llama.cpp"]["eras"]}
    for build, pr in (("b2871", "7257"), ("b5137", "12801"), ("b5429", "13194"), ("b6868", "16812"),
                      ("b6925", "16736"), ("b6975", "17046"), ("b7832", "19067")):
        assert f"/pull/{pr}" in builds[build], build


def test_no_engine_name_is_compared_as_a_string_outside_the_engines():
    """Commands ask the engine (its capability flags and methods), never its name; derive.py
    re-derives the caches apart from the engines on purpose, and says so."""
    names = "|".join(re.escape(n) for n in ("exact", "hf", "vllm", "llama.cpp", "transformers"))
    compare = re.compile(rf"""(==|!=|\bin)\s*\(?\s*["']({names})["']|["']({names})["']\s*(==|!=)""")
    root = Path(__file__).parents[1] / "kvcalc"
    found = [f"{p.relative_to(root)}:{i}" for p in root.rglob("*.py") if p.parent.name != "engines"
             and p.name != "derive.py" for i, line in enumerate(p.read_text().splitlines(), 1) if compare.search(line)]
    assert found == []


def test_the_docs_table_of_eras_is_the_engines_own():
    from kvcalc.output.summary import engines_markdown

    text = (Path(__file__).parents[1] / "docs" / "models-and-engines.md").read_text()
    copy = text.split("<!-- eras: generated")[1].split("-->", 1)[1].split("<!-- /eras -->")[0]
    assert copy.strip() == engines_markdown().strip()
