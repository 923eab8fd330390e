"""A hostile user: every command, every option that takes a value, every file type, given what
it cannot use. Each case: exit 2, exactly one stderr line `kvcalc: error: ...`, no traceback,
nothing written. A few run as subprocesses under an address-space limit and a timeout."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import HF

# Each command with what makes it valid, and the options that take a value.
COMMANDS = {
    "calc": (["llama2-70b", "--seq", "4k"], ["--seq", "--batch", "--block-size", "--kv-dtype", "--engine", "--units", "--format", "--device"]),
    "calc-llama.cpp": (["llama2-70b", "--seq", "4k", "--engine", "llama.cpp"], ["--parallel", "--ubatch", "--k-dtype", "--v-dtype", "--flash-attn"]),
    "compare": (["compare", "llama2-70b", "--seq", "4k"], ["--seq", "--batch", "--kv-heads", "--kv-dtype", "--engine", "--block-size", "--units", "--format"]),
    "compare-gpu": (["compare", "llama2-70b", "--seq", "4k", "--gpu", "h100-80gb"], ["--gpu", "--tp"]),
    "table": (["table", "llama2-70b", "--seq", "4k"], ["--seq", "--batch", "--kv-dtype", "--kv-heads", "--tp", "--engine", "--block-size", "--max-rows", "--format"]),
    "fit": (["fit", "llama2-70b", "--gpu", "h100-80gb", "--seq", "4k"], ["--gpu", "--seq", "--batch", "--gpus", "--tp", "--pp", "--kv-dtype", "--weights-dtype", "--weights-bytes", "--gpu-memory-utilization", "--reserve", "--block-size", "--engine", "--format"]),
    "fit-vllm": (["fit", "llama2-70b", "--kv-memory", "4GiB"], ["--kv-memory", "--max-model-len", "--max-num-batched-tokens", "--tp"]),
    "plan": (["plan", "llama2-70b", "--gpu", "h100-80gb", "--seq", "4k"], ["--gpu", "--seq", "--batch", "--tp", "--pp", "--min-tokens-per-s", "--reserve", "--engine"]),
    "plan-custom": (["plan", "--n-layers", "32", "--head-dim", "128", "--n-heads", "32", "--gpu", "h100-80gb", "--seq", "4k"], ["--n-heads", "--n-layers", "--head-dim"]),
    "chart": (["chart", "llama2-70b", "--seq", "4k,8k"], ["--seq", "--batch", "--kv-dtype", "--engine", "--units", "--format"]),
    "list": (["list"], ["--kv-dtype", "--format"]),
    "gpus": (["gpus"], ["--format"]),
    "show": (["show", "llama2-70b"], ["--format"]),
    "measure": (["measure", "--all"], ["--seq", "--batch", "--device"]),
}
BAD = ["0", "-1", "abc", "nan", "inf", "1e400", "9" * 30, "9" * 5000, "4k\n5", "\x1b[31m", "", "1:0"]
# values that are legitimate for some options: (option, value) pairs that are not hostile there
NOT_BAD = {("--kv-heads", "1:0"), ("--format", ""), ("--reserve", "0"),  # no reserve is a choice
           ("--min-tokens-per-s", "9" * 30)}  # an unmet target is an answer ("nothing fits"), not an error


def cases():
    out = []
    for (name, (base, options)), bad in itertools.product(COMMANDS.items(), BAD):
        for option in options:
            if (option, bad) in NOT_BAD:
                continue
            out.append(pytest.param(base, option, bad, id=f"{name} {option} {bad[:12]!r}"))
    return out


CASES = cases()


def one_line_error(run_cli, args, tmp_path):
    code, out, err = run_cli(*args)
    assert code == 2, (code, err)
    assert err.startswith("kvcalc: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_the_suite_is_big_enough():
    assert len(CASES) >= 300


@pytest.mark.parametrize("base, option, bad", CASES)
def test_every_option_refuses_what_it_cannot_use(run_cli, tmp_path, monkeypatch, base, option, bad):
    monkeypatch.chdir(tmp_path)
    args = [*base]
    if option in args:  # replace the valid value
        i = args.index(option)
        args[i + 1] = bad
    else:
        args += [option, bad]
    one_line_error(run_cli, args, tmp_path)


MODEL_NAMES = ["no-such-model", "../../etc/passwd", "a" * 300, "llama2-70b\nkvcalc: error: forged", "\x1b[2J", "",
               "meta-llama/", "/", ".", "configs/llama2-70b"]


@pytest.mark.parametrize("name", MODEL_NAMES, ids=[repr(n)[:20] for n in MODEL_NAMES])
@pytest.mark.parametrize("command", ["calc", "show", "fit", "compare", "chart"])
def test_bad_model_names(run_cli, tmp_path, monkeypatch, command, name):
    monkeypatch.chdir(tmp_path)
    extra = {"calc": ["--seq", "4k"], "show": [], "fit": ["--gpu", "h100-80gb", "--seq", "4k"],
             "compare": ["--seq", "4k"], "chart": []}[command]
    args = ([name] if command == "calc" else [command, name]) + extra
    one_line_error(run_cli, args, tmp_path)


FILES = {
    "empty.yaml": "", "list.yaml": "- 1\n- 2\n", "text.json": "not json", "array.json": "[1, 2]",
    "null.json": "null", "keylist.yaml": "? [a, b]\n: 1\n", "tab.yaml": "name:\t[\n",
    "neg.yaml": "name: x\nn_layers: -32\nn_heads: 32\nn_kv_heads: 8\nhead_dim: 128\nhidden_size: 1\nintermediate_size: 1\nvocab_size: 1\ndtype: bf16\nmax_context: 1\n",
    "five.yaml": "name: x\nn_layers: 32\nn_heads: 32\nn_kv_heads: 5\nhead_dim: 128\nhidden_size: 1\nintermediate_size: 1\nvocab_size: 1\ndtype: bf16\nmax_context: 1\n",
    "sf.yaml": "name: x\nn_layers: 32\nn_heads: 32\nn_kv_heads: 8\nhead_dim: 128\nhidden_size: 1\nintermediate_size: 1\nvocab_size: 1\ndtype: bf16\nmax_context: 1\nlayer_pattern: SF\n",
    "window0.yaml": "name: x\nn_layers: 32\nn_heads: 32\nn_kv_heads: 8\nhead_dim: 128\nhidden_size: 1\nintermediate_size: 1\nvocab_size: 1\ndtype: bf16\nmax_context: 1\nlayer_pattern: SF\nsliding_window: 0\n",
    "bad.gguf": "GGUF but not really", "dup.json": '{"model_type": "llama", "num_hidden_layers": 2, "num_hidden_layers": 3}',
    "huge.json": json.dumps({"model_type": "llama", "num_hidden_layers": 10**5000 if False else "9" * 400}),
    "nested.json": "[" * 20000 + "]" * 20000, "nested.yaml": "a: " + "[" * 20000 + "]" * 20000,
    "types.json": json.dumps({"model_type": "llama", "num_hidden_layers": [1], "num_attention_heads": {"a": 1}}),
    "bin.json": "\x00\x01\x02", "latin1.yaml": None,
}


@pytest.mark.parametrize("name", FILES, ids=list(FILES))
@pytest.mark.parametrize("command", ["calc", "show", "import"])
def test_bad_files(run_cli, tmp_path, command, name):
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / name
    if FILES[name] is None:
        path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    else:
        path.write_text(FILES[name])
    if command == "import" and not name.endswith((".json", ".gguf")):
        path = path.with_suffix(".json")
        (folder / name).rename(path)
    args = {"calc": [str(path), "--seq", "4k"], "show": ["show", str(path)], "import": ["import", str(path)]}[command]
    code, out, err = run_cli(*args)
    assert code == 2 and err.startswith("kvcalc: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert sorted(p.name for p in folder.iterdir()) == [path.name]


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_any_text_as_seq_is_an_answer_or_one_line(text):
    from kvcalc.cli import main

    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(["llama3-8b", "--seq", text])
            code = 0
        except SystemExit as exc:
            code = exc.code
    assert code in (0, 2)
    if code == 2:
        assert err.getvalue().startswith("kvcalc: error: ") and err.getvalue().count("\n") == 1


LIMITED = [
    ["plan", "--n-heads", "1" + "0" * 30, "--n-layers", "32", "--head-dim", "128", "--gpu", "h100-80gb", "--seq", "4k"],
    ["table", "llama2-70b", "--seq", "1:1000000000", "-f", "csv", "-o", "x.csv"],
    ["chart", "llama2-70b", "--seq", "1:1000000"],
    ["llama2-70b", "--seq", "4k", "--batch", "99999999999999999999", "--measure"],
    ["table", "llama2-70b", "--seq", "4k", "--tp", "1:1000000000"],
]


@pytest.mark.skipif(shutil.which("prlimit") is None or shutil.which("timeout") is None, reason="needs prlimit and timeout")
@pytest.mark.parametrize("args", LIMITED, ids=[" ".join(a)[:40] for a in LIMITED])
def test_bounded_work_under_a_1_gb_limit(tmp_path, args):
    done = subprocess.run(["timeout", "20", "prlimit", "--as=1000000000", sys.executable, "-m", "kvcalc", *args],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("kvcalc: error: ") and done.stderr.count("\n") == 1, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_hf_fixture_still_loads(run_cli):
    code, _, _ = run_cli(str(HF / "Llama-2-70b.json"), "--seq", "4k")
    assert code == 0
