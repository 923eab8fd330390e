"""-o writes a regular file whole or not at all, and never replaces what it must not: devices,
FIFOs, directories, read-only files, the command's own input; links are followed; modes are
kept; signals and broken pipes leave nothing behind and no traceback."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from .conftest import HF

KVCALC = [sys.executable, "-m", "kvcalc"]


def test_a_fifo_is_refused_and_left_alone(run_cli, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, _, err = run_cli("llama2-70b", "--seq", "4k", "-o", str(fifo))
    assert code == 2 and "it is a FIFO" in err and err.count("\n") == 1
    assert stat.S_ISFIFO(fifo.stat().st_mode) and sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_a_device_node_is_refused_and_left_alone(run_cli, tmp_path):
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError):
        pytest.skip("mknod is not permitted here")
    code, _, err = run_cli("llama2-70b", "--seq", "4k", "-o", str(node))
    assert code == 2 and "it is a device" in err
    assert stat.S_ISCHR(node.stat().st_mode)


def test_a_symlink_writes_its_target(run_cli, tmp_path):
    target, link = tmp_path / "real.json", tmp_path / "link.json"
    target.write_text("old")
    link.symlink_to(target.name)
    code, _, _ = run_cli("llama2-70b", "--seq", "4k", "-o", str(link))
    assert code == 0 and link.is_symlink() and target.read_text().startswith("{")


def test_read_only_and_own_input_are_refused(run_cli, tmp_path):
    ro = tmp_path / "ro.json"
    ro.write_text("keep")
    ro.chmod(0o444)
    code, _, err = run_cli("llama2-70b", "--seq", "4k", "-o", str(ro))
    assert code == 2 and "read-only" in err and ro.read_text() == "keep" and stat.S_IMODE(ro.stat().st_mode) == 0o444
    src = tmp_path / "in.json"
    src.write_text((HF / "Llama-2-7b.json").read_text())
    code, _, err = run_cli("import", str(src), "-o", str(src))
    assert code == 2 and "this command's own input" in err and src.read_text() == (HF / "Llama-2-7b.json").read_text()


def test_modes_follow_the_umask_or_the_replaced_file(run_cli, tmp_path):
    old = os.umask(0o027)
    try:
        code, _, _ = run_cli("llama2-70b", "--seq", "4k", "-o", str(tmp_path / "new.json"))
        assert code == 0 and stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640  # 0o666 & ~0o027
    finally:
        os.umask(old)
    kept = tmp_path / "kept.json"
    kept.write_text("x")
    kept.chmod(0o604)
    run_cli("llama2-70b", "--seq", "4k", "-o", str(kept))
    assert stat.S_IMODE(kept.stat().st_mode) == 0o604 and kept.read_text().startswith("{")


def test_sigterm_during_a_large_export_leaves_nothing(tmp_path):
    out = tmp_path / "big.csv"
    proc = subprocess.Popen([*KVCALC, "table", "llama2-70b", "--seq", "1:5000000", "-f", "csv", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.time() + 30
    while time.time() < deadline and not any(p.name.startswith(".kvcalc-") for p in tmp_path.iterdir()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM and err.decode() == "kvcalc: aborted\n"
    assert list(tmp_path.iterdir()) == []


def test_a_broken_pipe_ends_quietly():
    proc = subprocess.Popen([*KVCALC, "table", "llama2-70b", "--seq", "1:300000", "-f", "csv"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, as `head -1` does
    err = proc.stderr.read()
    proc.wait(timeout=30)
    assert proc.returncode == 141 and err == b""


def test_a_full_or_closed_stdout_is_one_line(tmp_path):
    if os.path.exists("/dev/full"):
        with open("/dev/full", "w") as full:
            done = subprocess.run([*KVCALC, "llama2-70b", "--seq", "4k"], stdout=full, stderr=subprocess.PIPE)
        assert done.returncode == 74 and done.stderr.decode().count("\n") == 1 and b"Traceback" not in done.stderr
    closed = subprocess.run([*KVCALC, "llama2-70b", "--seq", "4k", "-f", "json"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
    assert closed.returncode == 74 and b"standard output is closed" in closed.stderr
    to_file = subprocess.run([*KVCALC, "llama2-70b", "--seq", "4k", "-o", str(tmp_path / "x.json")],
                             stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
    assert to_file.returncode == 0 and (tmp_path / "x.json").exists()


@pytest.mark.parametrize("args", [["chart", "llama2-70b", "--seq", "4k,32k"], ["llama2-70b", "--seq", "4k"], ["list"]])
def test_an_ascii_terminal_gets_ascii(tmp_path, args):
    cfg = tmp_path / "café.yaml"
    cfg.write_text((HF.parent.parent.parent / "configs" / "llama3-8b.yaml").read_text().replace("name: llama3-8b", "name: llama-café"))
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "LANG": "C", "LC_ALL": "C"}
    for command in (args, [str(cfg), "--seq", "4k"]):
        done = subprocess.run([*KVCALC, *command], capture_output=True, env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.isascii() and b"Traceback" not in done.stderr
