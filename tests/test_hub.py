"""Hugging Face repo ids: from the local HF cache (offline), and downloaded from a fake Hub that
this test serves on loopback (HF_ENDPOINT), with a gated repo, a missing repo, a missing revision
and no network refused in one line each. The real huggingface_hub does the downloading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import HF

COMMIT = "0123456789abcdef0123456789abcdef01234567"
QWEN3_32B_PER_TOKEN = 64 * 2 * 8 * 128 * 2  # 64 layers x K,V x 8 KV heads x 128 x bf16 = 262,144 B


def cache_repo(cache: Path, repo: str, files: dict[str, str], ref: str = "main", commit: str = COMMIT) -> Path:
    """A repo in an HF cache laid out as huggingface_hub lays it out (blobs linked from snapshots)."""
    folder = cache / ("models--" + repo.replace("/", "--"))
    snap = folder / "snapshots" / commit
    snap.mkdir(parents=True)
    (folder / "blobs").mkdir()
    for name, text in files.items():
        blob = folder / "blobs" / f"{abs(hash(name + text)):x}"
        blob.write_text(text)
        (snap / name).symlink_to(os.path.relpath(blob, snap))
    (folder / "refs").mkdir()
    (folder / "refs" / ref).write_text(commit)
    return snap


def kvcalc(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    code = "import sys; from kvcalc.cli.entry import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)


def base_env(cache: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    return {**env, "HF_HUB_CACHE": str(cache), "COLUMNS": "200", "HF_HUB_DISABLE_TELEMETRY": "1", **more}


def test_a_repo_id_answers_from_the_local_cache_offline(tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    cache_repo(cache, "Qwen/Qwen3-32B", {"config.json": (HF / "Qwen3-32B.json").read_text()})
    env = base_env(cache, HF_HUB_OFFLINE="1")
    # Qwen/Qwen3-32B is also shipped: --revision asks for the repo itself, which the cache holds
    res = kvcalc("Qwen/Qwen3-32B", "--seq", "32k", "--revision", "main", "-f", "json", env=env)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["kv_cache_bytes"] == QWEN3_32B_PER_TOKEN * 32768 == 8_589_934_592
    assert doc["model"] == "Qwen/Qwen3-32B" and COMMIT in doc["source"]["url"]
    table = kvcalc("Qwen/Qwen3-32B@main", "--seq", "32k", env=env)
    assert table.returncode == 0 and f"Qwen/Qwen3-32B/blob/{COMMIT}/config.json" in table.stdout


def test_a_repo_kvcalc_does_not_ship_and_its_checkpoint_size(tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    index = {"metadata": {"total_size": 65_524_246_528}, "weight_map": {}}  # Qwen3-32B's published total_size
    cache_repo(cache, "someorg/Qwen3-32B-copy", {"config.json": (HF / "Qwen3-32B.json").read_text(),
                                                 "model.safetensors.index.json": json.dumps(index)})
    env = base_env(cache, HF_HUB_OFFLINE="1")
    res = kvcalc("SomeOrg/qwen3-32b-copy", "--seq", "32k", "-f", "json", env=env)  # any case
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["kv_cache_bytes"] == 8_589_934_592
    fit = kvcalc("fit", "someorg/Qwen3-32B-copy", "--gpu", "h100-80gb", "--seq", "32k", "-f", "json", env=env)
    assert fit.returncode == 0, fit.stderr
    assert json.loads(fit.stdout)["weights_bytes"] == 65_524_246_528  # the index's exact total, not a count


def test_not_in_the_cache_and_offline_is_one_line(tmp_path: Path) -> None:
    res = kvcalc("someorg/absent", "--seq", "1k", env=base_env(tmp_path / "hub", HF_HUB_OFFLINE="1"))
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert "not in the local Hugging Face cache" in res.stderr and "HF_HUB_OFFLINE is set" in res.stderr


# ----- a fake Hub on loopback ------------------------------------------------------------------

FILES = {
    ("openai/gpt-oss-120b", "config.json"): (HF / "gpt-oss-120b.json").read_text(),
    ("deepseek-ai/DeepSeek-V3", "config.json"): (HF / "DeepSeek-V3.json").read_text(),
    ("Qwen/Qwen3-8B-mirror", "config.json"): (HF / "Qwen3-8B.json").read_text(),
}
GATED = {"meta-llama/Llama-4-Gated"}


class FakeHub(BaseHTTPRequestHandler):
    """The two endpoints huggingface_hub's hf_hub_download uses: HEAD and GET /REPO/resolve/REV/FILE."""

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, body: bool) -> None:
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return self._error(404, "RepoNotFound")
        repo, rev, name = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        if repo in GATED:
            return self._error(403, "GatedRepo")
        if not any(r == repo for r, _ in FILES):
            return self._error(404, "RepoNotFound")
        if rev not in ("main", COMMIT):
            return self._error(404, "RevisionNotFound")
        if (repo, name) not in FILES:
            return self._error(404, "EntryNotFound")
        data = FILES[(repo, name)].encode()
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{abs(hash(data)):x}"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _error(self, code: int, error: str) -> None:
        self.send_response(code)
        self.send_header("X-Error-Code", error)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(True)


@pytest.fixture(scope="module")
def hub():
    pytest.importorskip("huggingface_hub")
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_downloaded_gpt_oss_120b_fits_an_h100_with_its_mxfp4_weights(hub: str, tmp_path: Path) -> None:
    env = base_env(tmp_path / "hub", HF_ENDPOINT=hub)
    res = kvcalc("fit", "openai/gpt-oss-120b", "--gpu", "h100-80gb", "--seq", "8k", "-f", "json", env=env)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    # counted from config.json's quantization_config (mxfp4 experts, bf16 attention and embeddings):
    # equal to the published checkpoint's tensor bytes, 65,248,815,744 B (well within 5%)
    assert doc["weights_bytes"] == 65_248_815_744 and doc["weights_fit"] is True
    assert doc["layouts"][0]["max_seqs"] > 0 and doc["weights_dtype"].startswith("mxfp4")
    assert doc["source"]["revision"] == COMMIT if "source" in doc else True
    again = kvcalc("openai/gpt-oss-120b", "--seq", "8k", env={**env, "HF_HUB_OFFLINE": "1"})  # now in the cache
    assert again.returncode == 0 and f"openai/gpt-oss-120b/blob/{COMMIT}" in again.stdout


def test_downloaded_deepseek_v3_counts_fp8_without_flags(hub: str, tmp_path: Path) -> None:
    res = kvcalc("fit", "deepseek-ai/DeepSeek-V3", "--revision", COMMIT, "--gpu", "h200", "--gpus", "8", "--seq", "8k",
                 "-f", "json", env=base_env(tmp_path / "hub", HF_ENDPOINT=hub))
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    published = 688_586_727_753  # the safetensors of deepseek-ai/DeepSeek-V3 (with its MTP layer, not counted here)
    assert doc["weights_dtype"] == "fp8 + bf16" and abs(doc["weights_bytes"] - published) / published < 0.05
    assert doc["weights_fit"] is True


@pytest.mark.parametrize("repo, says", [
    ("meta-llama/Llama-4-Gated", "the repository is gated: accept its terms on https://huggingface.co/meta-llama/Llama-4-Gated and set HF_TOKEN"),
    ("nobody/nothing", "no such repository on the Hub"),
    ("Qwen/Qwen3-8B-mirror@v9", "at revision v9: no such revision on the Hub"),
])
def test_hub_refusals_are_one_line(hub: str, tmp_path: Path, repo: str, says: str) -> None:
    res = kvcalc(repo, "--seq", "1k", env=base_env(tmp_path / "hub", HF_ENDPOINT=hub))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and says in res.stderr, res.stderr


def test_no_network_is_one_line_and_quick(tmp_path: Path) -> None:
    pytest.importorskip("huggingface_hub")
    res = kvcalc("someorg/model", "--seq", "1k", env=base_env(tmp_path / "hub", HF_ENDPOINT="http://127.0.0.1:9"))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "cannot reach the Hub" in res.stderr, res.stderr


def test_huggingface_hub_is_imported_only_to_download(tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    cache_repo(cache, "someorg/m", {"config.json": (HF / "Qwen3-8B.json").read_text()})
    code = ("import sys; from kvcalc.cli.entry import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write(repr('huggingface_hub' in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code, "someorg/m", "--seq", "1k"], capture_output=True, text=True,
                         env=base_env(cache, HF_HUB_OFFLINE="1"))
    assert res.stderr.endswith("False"), res.stderr


def test_import_takes_a_repo_id_too(tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    cache_repo(cache, "someorg/m", {"config.json": (HF / "Qwen3-8B.json").read_text()})
    res = kvcalc("import", "someorg/m", "--name", "my-m", env=base_env(cache, HF_HUB_OFFLINE="1"))
    assert res.returncode == 0, res.stderr
    assert f"someorg/m/blob/{COMMIT}/config.json" in res.stdout.splitlines()[0]
    assert "name: my-m\n" in res.stdout and "n_layers: 36\n" in res.stdout and f"revision: {COMMIT}" in res.stdout
