"""kvcalc: exact KV-cache sizes for LLMs, and what fits on which GPU.

    >>> import kvcalc
    >>> model = kvcalc.load_model("llama2-70b")
    >>> kvcalc.kv_cache(model, seq_len=4096, kv_dtype="fp16").total_bytes
    1342177280
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The public API, imported on first use so that `import kvcalc` (and the CLI's --help) stays fast.
_API = {
    "load_model": "kvcalc.registry",
    "load_all": "kvcalc.registry",
    "kv_cache": "kvcalc.formulas",
    "variants": "kvcalc.formulas",
    "kv_bytes_per_token": "kvcalc.formulas",
    "KVCache": "kvcalc.formulas",
    "Model": "kvcalc.model",
    "ModelConfig": "kvcalc.config",
    "load_yaml": "kvcalc.config",
    "load_hf_config": "kvcalc.hf",
    "KvcalcError": "kvcalc.errors",
    "ConfigError": "kvcalc.errors",
    "count_params": "kvcalc.params",
    "find_gpu": "kvcalc.gpus",
    "load_catalog": "kvcalc.gpus",
    "make_setup": "kvcalc.capacity",
    "weights": "kvcalc.capacity",
    "layout_fit": "kvcalc.capacity",
}

if TYPE_CHECKING:  # pragma: no cover
    from .config import ModelConfig, load_yaml
    from .model import Model
    from .errors import ConfigError, KvcalcError
    from .formulas import KVCache, kv_bytes_per_token, kv_cache, variants
    from .hf import load_hf_config
    from .registry import load_all, load_model
    from .params import count_params
    from .gpus import find_gpu, load_catalog
    from .capacity import layout_fit, make_setup, weights


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'kvcalc' has no attribute {name!r}")


__all__ = ["__version__", *_API]
