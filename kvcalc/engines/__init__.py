"""Runtime profiles: how many tokens each kind of layer holds, what a token costs there, the
allocation granularity, and the recurrent state a sequence keeps. One module a runtime:

- ``exact``: what the model needs (the base every profile starts from);
- ``transformers`` (CLI name ``hf``): transformers 5.x's DynamicCache, as it allocates today;
- ``vllm``: vLLM's paged KV cache (v1 KV-cache manager);
- ``llamacpp`` (CLI name ``llama.cpp``): llama.cpp's cells, streams and ggml block types.

kvcalc.formulas sums what a profile answers; nothing runtime-specific lives there. Adding a
runtime is one module here plus its conformance suite. The runtime modules are imported when a
profile is asked for, not at start-up.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from .exact import Engine, Shape, StateTensor

ENGINES = ("exact", "hf", "vllm", "llama.cpp")
DEFAULT_BLOCK_SIZE = 16  # vLLM's --block-size on GPUs (FlashAttention)
_LAZY = {"Transformers": "transformers", "Vllm": "vllm", "LlamaCpp": "llamacpp"}


def get_engine(name: "str | Engine", block_size: int = DEFAULT_BLOCK_SIZE) -> Engine:
    """A profile by CLI name (exact, hf, vllm, llama.cpp); a profile passes through unchanged."""
    if isinstance(name, Engine):
        return name
    key = str(name).strip().lower()
    if key == "exact":
        return Engine()
    if key in ("hf", "transformers"):
        from .transformers import Transformers

        return Transformers()
    if key == "vllm":
        from .vllm import Vllm

        return Vllm(block_size=block_size)
    if key in ("llama.cpp", "llamacpp", "llama_cpp"):
        from .llamacpp import LlamaCpp

        return LlamaCpp()
    raise InputError(f"unknown engine {name!r} (choose from: {', '.join(ENGINES)})")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ENGINES", "DEFAULT_BLOCK_SIZE", "Engine", "LlamaCpp", "Shape", "StateTensor", "Transformers", "Vllm",
           "get_engine"]
