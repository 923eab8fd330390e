"""Models by Hugging Face repo id: `kvcalc Qwen/Qwen3-14B --seq 32k`.

After the shipped configs, a repo id is looked up in the local Hugging Face cache (offline,
instant: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub, laid out as
huggingface_hub lays it out: models--ORG--NAME/refs/REVISION and snapshots/COMMIT/config.json),
then downloaded with huggingface_hub (the optional extra `kvcalc[hub]`; imported only here, only
then): config.json, and model.safetensors.index.json for the checkpoint's exact size.
huggingface_hub honours HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE itself. A revision comes from
--revision or `ORG/NAME@REVISION`. The model is named after the repo, and its source records the
commit read.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Optional

from ..errors import ConfigError
from .model import Model, Source

REPO = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")


def split(name: str) -> tuple[str, Optional[str]]:
    """'org/name@rev' -> ('org/name', 'rev')."""
    repo, _, rev = name.strip().partition("@")
    return repo, rev or None


def looks_like_repo(name: str) -> bool:
    return bool(REPO.match(split(name)[0]))


def cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return Path(os.environ["HUGGINGFACE_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "huggingface" / "hub"


def _repo_folder(repo: str) -> Optional[Path]:
    cache = cache_dir()
    folder = cache / ("models--" + repo.replace("/", "--"))
    if folder.is_dir():
        return folder
    try:  # repo ids are case-insensitive on the Hub, case-sensitive on disk
        want = folder.name.lower()
        return next((cache / n for n in os.listdir(cache) if n.lower() == want), None)
    except OSError:
        return None


def from_cache(repo: str, revision: Optional[str]) -> Optional[tuple[Path, str]]:
    """(snapshot folder, commit) holding the repo's config.json in the local cache, or None."""
    folder = _repo_folder(repo)
    if folder is None:
        return None
    rev = revision or "main"
    ref = folder / "refs" / rev
    try:
        commit = ref.read_text(encoding="utf-8").strip() if ref.is_file() else rev if COMMIT.match(rev) else None
    except OSError:
        return None
    if commit is None or not COMMIT.match(commit):
        return None
    snapshot = folder / "snapshots" / commit
    return (snapshot, commit) if (snapshot / "config.json").is_file() else None


def _download(repo: str, revision: Optional[str]) -> tuple[Path, str]:
    try:
        import huggingface_hub
        from huggingface_hub import errors
    except ImportError:
        raise ConfigError(
            f"{repo}: not a shipped model, and not in the local Hugging Face cache ({cache_dir()}); "
            f"pip install 'kvcalc[hub]' to download its config.json, or give a path to a config.json"
        ) from None
    import logging

    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)  # its retry chatter: we say it in one line
    where = f"{repo}" + (f" at revision {revision}" if revision else "")
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    try:
        if offline:
            raise errors.OfflineModeIsEnabled("HF_HUB_OFFLINE")
        # one metadata request first: it does not retry, so no network is said in seconds, not a minute
        huggingface_hub.get_hf_file_metadata(huggingface_hub.hf_hub_url(repo, "config.json", revision=revision))
        path = Path(huggingface_hub.hf_hub_download(repo, "config.json", revision=revision))
        try:
            huggingface_hub.hf_hub_download(repo, "model.safetensors.index.json", revision=revision)
        except errors.EntryNotFoundError:
            pass
    except errors.GatedRepoError:
        raise ConfigError(f"{where}: the repository is gated: accept its terms on https://huggingface.co/{repo} "
                          f"and set HF_TOKEN (or run `hf auth login`)") from None
    except errors.RevisionNotFoundError:
        raise ConfigError(f"{where}: no such revision on the Hub") from None
    except errors.RepositoryNotFoundError:
        raise ConfigError(f"{where}: no such repository on the Hub (if it is private, set HF_TOKEN)") from None
    except errors.OfflineModeIsEnabled:
        raise ConfigError(f"{where}: not in the local Hugging Face cache ({cache_dir()}), and HF_HUB_OFFLINE is "
                          f"set: unset it to download, or give a path to a config.json") from None
    except errors.LocalEntryNotFoundError:
        raise ConfigError(f"{where}: cannot reach the Hub ({_endpoint()}) and not in the local cache: check the "
                          f"network, or give a path to a config.json") from None
    except errors.EntryNotFoundError:
        raise ConfigError(f"{where}: the repository has no config.json") from None
    except errors.HfHubHTTPError as err:
        raise ConfigError(f"{where}: the Hub answered {_first_line(err)}") from None
    except ValueError as err:  # huggingface_hub's check of the repo id or revision
        raise ConfigError(f"{where}: {_first_line(err)}") from None
    except Exception as err:  # noqa: BLE001 - the network library's own errors: one line, not a traceback
        raise ConfigError(f"{where}: cannot reach the Hub ({_endpoint()}): {type(err).__name__}: {_first_line(err)}; "
                          f"check the network, or give a path to a config.json") from None
    return path.parent, path.parent.name


def _endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def _checkpoint_bytes(snapshot: Path) -> Optional[tuple[int, str]]:
    """The checkpoint's exact size from its safetensors index (total_size), or the header of a
    single model.safetensors; None when neither is there."""
    index = snapshot / "model.safetensors.index.json"
    try:
        if index.is_file():
            total = json.loads(index.read_text(encoding="utf-8")).get("metadata", {}).get("total_size")
            if isinstance(total, int) and not isinstance(total, bool) and total > 0:
                return total, "its model.safetensors.index.json (total_size)"
        single = snapshot / "model.safetensors"
        if single.is_file():
            with open(single, "rb") as fh:
                n = int.from_bytes(fh.read(8), "little")
                if 0 < n <= 100 * 2**20:
                    header = json.loads(fh.read(n))
                    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
                    if ends:
                        return max(ends), "its model.safetensors header"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return None


def load_repo(name: str, revision: Optional[str] = None) -> Model:
    """The model of a Hugging Face repo id: from the local cache, else downloaded."""
    return load_repo_checkpoint(name, revision)[0]


def load_repo_checkpoint(name: str, revision: Optional[str] = None) -> tuple[Model, Optional[tuple[int, str]]]:
    """The model of a repo id, and its checkpoint's exact size with how it was read (None: not
    at hand)."""
    from .hf import load_hf_config

    repo, rev = split(name)
    rev = revision or rev
    found = from_cache(repo, rev)
    how = "read from the local Hugging Face cache"
    if found is None:
        found = _download(repo, rev)
        how = "downloaded from the Hugging Face Hub"
    snapshot, commit = found
    model = load_hf_config(snapshot / "config.json")
    canonical = snapshot.parent.parent.name[len("models--"):].replace("--", "/") if snapshot.parent.parent.name.startswith("models--") else repo
    model = replace(model, name=canonical, hf_id=canonical,
                    source=Source(url=f"https://huggingface.co/{canonical}/blob/{commit}/config.json", revision=commit,
                                  note=f"{how} ({snapshot / 'config.json'})"))
    return model, _checkpoint_bytes(snapshot)
