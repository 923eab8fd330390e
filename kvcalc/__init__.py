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
    "load_model": "kvcalc.models.registry",
    "load_all": "kvcalc.models.registry",
    "kv_cache": "kvcalc.core.formulas",
    "variants": "kvcalc.core.formulas",
    "kv_bytes_per_token": "kvcalc.core.formulas",
    "KVCache": "kvcalc.core.formulas",
    "Model": "kvcalc.models.model",
    "ModelConfig": "kvcalc.models.config",
    "load_yaml": "kvcalc.models.config",
    "load_hf_config": "kvcalc.models.hf",
    "KvcalcError": "kvcalc.errors",
    "ConfigError": "kvcalc.errors",
    "count_params": "kvcalc.models.params",
    "find_gpu": "kvcalc.planning.gpus",
    "load_catalog": "kvcalc.planning.gpus",
    "make_setup": "kvcalc.planning.capacity",
    "weights": "kvcalc.planning.capacity",
    "layout_fit": "kvcalc.planning.capacity",
}

if TYPE_CHECKING:  # pragma: no cover
    from .models.config import ModelConfig, load_yaml
    from .models.model import Model
    from .errors import ConfigError, KvcalcError
    from .core.formulas import KVCache, kv_bytes_per_token, kv_cache, variants
    from .models.hf import load_hf_config
    from .models.registry import load_all, load_model
    from .models.params import count_params
    from .planning.gpus import find_gpu, load_catalog
    from .planning.capacity import layout_fit, make_setup, weights


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'kvcalc' has no attribute {name!r}")


__all__ = ["__version__", *_API]
