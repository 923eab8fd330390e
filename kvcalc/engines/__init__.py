"""Runtime profiles: how many tokens each kind of layer holds, what a token costs there, the
allocation granularity, and the recurrent state a sequence keeps. One module a runtime:

- ``exact``: what the model needs (the base every profile starts from);
- ``transformers`` (CLI name ``hf``): transformers 5.x's DynamicCache, as it allocates today;
- ``vllm``: vLLM's paged KV cache (v1 KV-cache manager);
- ``llamacpp`` (CLI name ``llama.cpp``): llama.cpp's cells, streams and ggml block types.

kvcalc.formulas sums what a profile answers; nothing runtime-specific lives there. Adding a
runtime is one module here plus its conformance suite.
"""

from __future__ import annotations

from ..errors import InputError
from .exact import Engine, Shape, StateTensor
from .llamacpp import LlamaCpp
from .transformers import Transformers
from .vllm import DEFAULT_BLOCK_SIZE, Vllm

ENGINES = ("exact", "hf", "vllm", "llama.cpp")


def get_engine(name: "str | Engine", block_size: int = DEFAULT_BLOCK_SIZE) -> Engine:
    """A profile by CLI name (exact, hf, vllm); a profile passes through unchanged."""
    if isinstance(name, Engine):
        return name
    key = str(name).strip().lower()
    if key == "exact":
        return Engine()
    if key in ("hf", "transformers"):
        return Transformers()
    if key == "vllm":
        return Vllm(block_size=block_size)
    if key in ("llama.cpp", "llamacpp", "llama_cpp"):
        return LlamaCpp()
    raise InputError(f"unknown engine {name!r} (choose from: {', '.join(ENGINES)})")


__all__ = ["ENGINES", "DEFAULT_BLOCK_SIZE", "Engine", "LlamaCpp", "Shape", "StateTensor", "Transformers", "Vllm",
           "get_engine"]
