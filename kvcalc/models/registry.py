"""Finding models: shipped configs by name, alias or Hugging Face id, or a file path."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .index import configs_dir, load_yaml_data
from .model import Model, from_dict
from ..errors import ConfigError


def shipped_files() -> list[Path]:
    return sorted(configs_dir().glob("*.yaml"))


def _key(name: str) -> str:
    return name.strip().lower()


def load_yaml(path: Path) -> Model:
    """A YAML config, validated by the strict schema (imported only when needed)."""
    from .config import load_yaml as validate_yaml

    return validate_yaml(path)


def load_shipped(path: Path) -> Model:
    """A shipped config, trusted: the test suite validates every file in configs/."""
    data = load_yaml_data(path)
    if not isinstance(data, dict):
        return load_yaml(path)  # not a mapping: let the validating loader say what is wrong
    try:
        return from_dict(data)
    except (TypeError, ValueError):
        return load_yaml(path)  # an edited file: let the validating loader say what is wrong


@lru_cache(maxsize=None)
def load_all() -> tuple[Model, ...]:
    """Every shipped model, in file-name order."""
    return tuple(load_shipped(p) for p in shipped_files())


def _looks_like_path(name: str) -> bool:
    try:
        return name.endswith((".yaml", ".yml", ".json", ".gguf")) or Path(name).is_file()
    except (OSError, ValueError):  # a name too long for a path, or with a NUL: not a path
        return False


GGUF_TENSORS = "the GGUF's tensor table"  # how a GGUF's weights were read


ASSUME_FLAG = "--assume-standard-attention"


def admit(model: Model, assume: bool = False) -> str | None:
    """None for a model kvcalc maps whole; for one with an unmapped part, a refusal naming it, or
    with `assume`, the assumption in words (said on every table and in the JSON)."""
    if model.unmapped is None:
        return None
    if not assume:
        raise ConfigError(f"{model.name}: kvcalc does not map {model.unmapped}, so its cache may not be plain "
                          f"attention layers; {ASSUME_FLAG} sizes it as if it were")
    return f"ASSUMED standard attention for {model.name} ({ASSUME_FLAG}): kvcalc does not map {model.unmapped}"


def load_model(name: str | Path, revision: str | None = None) -> Model:
    """A model by shipped name, alias or Hugging Face id (any case), or from a YAML, config.json
    or GGUF path; any other Hugging Face repo id from the local HF cache or the Hub (kvcalc.models.hub),
    at `revision` (or ORG/NAME@REVISION) when given."""
    return load_with_checkpoint(name, revision)[0]


def load_with_checkpoint(name: str | Path, revision: str | None = None) -> tuple[Model, tuple[int, str] | None]:
    """The model (as load_model finds it) and, for a repo id whose checkpoint index is at hand,
    the checkpoint's exact size and how it was read (None otherwise)."""
    text = str(name)
    if revision is not None or ("@" in text and "/" in text and not _looks_like_path(text)):
        from .hub import load_repo_checkpoint, looks_like_repo

        if looks_like_repo(text):
            return load_repo_checkpoint(text, revision)
    return _load_model(name, text)


def _load_model(name: str | Path, text: str) -> tuple[Model, tuple[int, str] | None]:
    if isinstance(name, Path) or _looks_like_path(text):
        path = Path(text)
        if path.suffix == ".json":
            from .hf import load_hf_config

            return load_hf_config(path), None
        if path.suffix == ".gguf":
            from .gguf import from_gguf

            model, weights = from_gguf(path)
            return model, (weights, GGUF_TENSORS)
        return load_yaml(path), None
    key = _key(text)
    plain = key and len(key) <= 200 and "/" not in key and "\\" not in key and "\0" not in key and not key.startswith(".")
    direct = configs_dir() / f"{key}.yaml"  # the fast path: a shipped model's file is named after it
    if plain and direct.is_file():  # a name never reaches outside configs/
        return load_shipped(direct), None
    for model in load_all():
        if key in (_key(n) for n in model.names):
            return model, None
    from .hub import load_repo_checkpoint, looks_like_repo

    if looks_like_repo(text):
        return load_repo_checkpoint(text)
    raise ConfigError(_unknown(text))


def _unknown(name: str) -> str:
    """The error for an unknown model: up to three close models, each named once."""
    import difflib

    owner = {_key(n): m.name for m in load_all() for n in m.names}
    close = difflib.get_close_matches(_key(name), list(owner), n=12, cutoff=0.6)
    models = list(dict.fromkeys(owner[c] for c in close))[:3]
    hint = f"; did you mean {' or '.join(models)}?" if models else ""
    return (f"unknown model {name!r}{hint} ('kvcalc list' shows every model; a path to a .yaml, config.json "
            f"or .gguf works too)")


def custom_model(n_heads: int | None, n_layers: int | None, head_dim: int | None, kv_dtype: str = "auto") -> Model:
    """A bare attention stack for `kvcalc plan` without a MODEL: n_heads, n_layers, head_dim
    (fp16 unless --kv-dtype says otherwise; no weights counted)."""
    from ..errors import InputError

    missing = [flag for flag, v in (("--n-heads", n_heads), ("--n-layers", n_layers), ("--head-dim", head_dim)) if v is None]
    if missing:
        raise InputError(f"give a MODEL, or {', '.join(missing)} (with the others of --n-heads, --n-layers, --head-dim)")
    from .model import MAX_HEADS, MAX_LAYERS

    h, layers, d = n_heads, n_layers, head_dim
    assert h is not None and layers is not None and d is not None
    for flag, value, limit in (("--n-heads", h, MAX_HEADS), ("--n-layers", layers, MAX_LAYERS)):
        if value > limit:
            raise InputError(f"{flag}: {value:,} is beyond any model (at most {limit:,})")
    return Model(name=f"custom-{layers}L-{h}H-{d}D", n_layers=layers, n_heads=h, n_kv_heads=h, head_dim=d,
                 hidden_size=h * d, intermediate_size=1, vocab_size=1,
                 dtype=kv_dtype if kv_dtype in ("fp32", "fp16", "bf16") else "fp16", max_context=1 << 40)
