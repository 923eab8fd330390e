"""Runtime engines: how many tokens each kind of layer holds, what a token costs there, the
allocation granularity, and the recurrent state a sequence keeps, for one release of a runtime.
One module a runtime:

- ``exact``: what the model needs (the base every engine starts from);
- ``transformers`` (CLI name ``hf``): transformers' DynamicCache;
- ``vllm``: vLLM's paged KV cache;
- ``sglang``: SGLang's token pool;
- ``llamacpp`` (CLI names ``llama.cpp`` and ``llama-cpp-python``): llama.cpp's cells, streams
  and ggml block types;
- ``ollama``: Ollama's defaults per release, mapped onto the llama.cpp rules it runs with.

An engine is chosen once, at a command's edge: ``get_engine("vllm@0.10.1.1", block_size=16)``
builds it with its release's rules (``kvcalc.engines.releases``: eras as data) and its options;
everything downstream receives that object and asks it, never its name. kvcalc.core.formulas sums
what an engine answers; nothing runtime-specific lives there. Adding a runtime is one module
here plus its conformance suite. The runtime modules are imported when an engine is asked for,
not at start-up.
"""

from __future__ import annotations

import importlib
from typing import Any, Optional

from ..errors import InputError
from .exact import DEFAULT_BLOCK_SIZE, Engine, Shape, StateTensor

# CLI name -> (module, class). Every spelling a user may write maps to one of these.
_MODULES = {"exact": ("exact", "Engine"), "hf": ("transformers", "Transformers"), "vllm": ("vllm", "Vllm"),
            "llama.cpp": ("llamacpp", "LlamaCpp"), "llama-cpp-python": ("llamacpp", "LlamaCpp"),
            "sglang": ("sglang", "Sglang"), "ollama": ("ollama", "Ollama")}
_SPELLINGS = {"transformers": "hf", "llamacpp": "llama.cpp", "llama_cpp": "llama.cpp", "llama-cpp": "llama.cpp",
              "llama_cpp_python": "llama-cpp-python", "llamacpp-python": "llama-cpp-python"}
ENGINES = ("exact", "hf", "vllm", "sglang", "llama.cpp", "llama-cpp-python", "ollama")
_LAZY = {"Transformers": "transformers", "Vllm": "vllm", "LlamaCpp": "llamacpp", "Sglang": "sglang"}


def engine_name(spec: str) -> str:
    """The CLI name of NAME[@VERSION], any case: 'Exact' -> exact, 'transformers@4.57.6' -> hf."""
    key = str(spec).strip().partition("@")[0].strip().lower()
    key = _SPELLINGS.get(key, key)
    if key not in _MODULES:
        raise InputError(f"unknown engine {str(spec).strip()!r} (choose from: {', '.join(ENGINES)}; "
                         f"a release as NAME@VERSION, e.g. vllm@0.10.1.1)")
    return key


def engine_class(name: str) -> type[Engine]:
    module, cls = _MODULES[engine_name(name)]
    return getattr(importlib.import_module(f".{module}", __name__), cls)


def get_engine(spec: "str | Engine" = "exact", block_size: Optional[int] = None, **options: Any) -> Engine:
    """The engine of 'NAME[@VERSION]' (exact, hf, vllm, llama.cpp, llama-cpp-python; any case)
    with its release's rules and the options given (None values are left at the release's
    defaults). An Engine passes through. block_size is the paged block of engines that have one,
    and ignored by the others; any other option an engine does not take is refused by name."""
    if isinstance(spec, Engine):
        return spec
    name = engine_name(spec)
    version = str(spec).strip().partition("@")[2].strip() or None
    if "@" in str(spec) and not version:
        raise InputError(f"--engine {str(spec).strip()!r}: give a version after @ (e.g. vllm@0.10.1.1), or none")
    cls = engine_class(name)
    if block_size is not None and cls.has_option("block_size"):
        options["block_size"] = block_size
    return cls.build(name, version, **{k: v for k, v in options.items() if v is not None})


def runtimes() -> list[Any]:
    """Every runtime's releases and eras (kvcalc engines), in CLI order."""
    out = []
    for name in ENGINES:
        runtime = engine_class(name).runtime_of(name)
        if runtime is not None:
            out.append(runtime)
    return out


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ENGINES", "DEFAULT_BLOCK_SIZE", "Engine", "LlamaCpp", "Sglang", "Shape", "StateTensor", "Transformers", "Vllm",
           "engine_class", "engine_name", "get_engine", "runtimes"]
