"""The ``ollama`` engine: Ollama's defaults, release by release, mapped onto the llama.cpp rules it
runs with (kvcalc.engines.llamacpp). Sources: github.com/ollama/ollama at each tag (eras below).

- Context: num_ctx (2048 until 0.6.6; 4096 from 0.6.7; from 0.15.5 by the GPU memory: under
  23 GiB 4096, under 47 GiB 32768, else 262144), clamped to the model's trained context. The KV
  cache holds num_ctx x OLLAMA_NUM_PARALLEL cells: Ollama starts llama.cpp with
  ``-c num_ctx*parallel -np parallel`` (server/sched.go, llm/server.go, llm/llama_server.go).
- OLLAMA_NUM_PARALLEL: 1 until 0.1.48; then auto (4, or 1 when the model with 4 x num_ctx does
  not fit on the GPU); auto 2 from 0.6.7; 1 from 0.10.0.
- OLLAMA_KV_CACHE_TYPE (from 0.5.0): f16, q8_0 or q4_0 for K and V alike, only with flash
  attention (Ollama falls back to f16 without it).
- OLLAMA_FLASH_ATTENTION: off until the llama engine's auto (0.13.4); llama-server's auto from 0.30.0.
- Runners: from 0.6.0 to 0.24.x Ollama ran some architectures on its own Go engine
  (ollamarunner), whose graph and caches are not llama.cpp's: kvcalc refuses those models for those
  releases. From 0.30.0 every GGUF runs on upstream llama-server.
"""

from __future__ import annotations

from dataclasses import dataclass, fields as dataclass_fields, replace
from typing import Any, ClassVar, Optional

from ..errors import InputError
from ..models.model import CHUNKED, HYBRID, MLA_KIND, RECURRENT, SLIDING, Model
from .llamacpp import RULE_FIELDS, RUNTIME as LLAMA_CPP, LlamaCpp
from .releases import Era, Runtime

_T = "ollama/ollama "
# Architectures Ollama 0.24.0 ran on its Go engine (fs/ggml/ggml.go OllamaEngineRequired), as kvcalc families
GO_ENGINE = ("gemma3", "gemma3_text", "gemma3n_text", "gpt_oss", "llama4_text", "mistral3", "qwen3", "qwen3_moe",
             "qwen3_next", "deepseek_v2", "deepseek_v3", "nemotron_h", "lfm2", "olmo3")

RUNTIME = Runtime("ollama", "Ollama", "release", checked=("0.32.15",), eras=(
    Era("0.3.0", "num_ctx 2048; OLLAMA_NUM_PARALLEL auto (4 sequences, or 1 when the model with 4 x num_ctx does not "
                 "fit the GPU); flash attention off; llama.cpp b3440 with -c num_ctx x parallel, --parallel, -b 512",
        _T + "v0.3.0 server/sched.go:697,715, llm/server.go:187,263; llm/llama.cpp submodule d94c6e0cc",
        {"default_ctx": "2048", "parallel": "auto4", "fa": "off", "kv_types": False, "runner": "llama",
         "build": "b3440", "ubatch": "512"}),
    Era("0.5.0", "OLLAMA_KV_CACHE_TYPE: f16, q8_0, q4_0 (with flash attention); llama.cpp b3862",
        _T + "1bdab9fdb (#6279); llama/vendoring 3f1ae2e32", {"kv_types": True, "build": "b3862"}),
    Era("0.6.0", "some architectures on Ollama's own Go engine (gemma3 first; by 0.24: qwen3, gpt-oss, llama4 ...); "
                 "llama.cpp b4779", _T + "ab39e08eb, llm/server.go NewLlamaServer; Makefile.sync d7cfe1ffe",
        {"runner": "go", "build": "b4779"}),
    Era("0.6.7", "num_ctx 4096; OLLAMA_NUM_PARALLEL auto 2 then 1; llama.cpp b5162",
        _T + "44b466eeb and fe5b9bb21; Makefile.sync 2016f07bd", {"default_ctx": "4096", "parallel": "auto2",
                                                                 "build": "b5162"}),
    Era("0.9.0", "llama.cpp b5359", _T + "Makefile.sync de4c07f93", {"build": "b5359"}),
    Era("0.10.0", "OLLAMA_NUM_PARALLEL 1", _T + "20c3266e9 (#11330)", {"parallel": "1"}),
    Era("0.12.0", "llama.cpp b6121 (kv_unified left off: a stream a sequence)", _T + "Makefile.sync e54d41bef",
        {"build": "b6121"}),
    Era("0.13.4", "flash attention auto for the llama engine; llama.cpp b7345", _T + "bd6c1d6b4 (#13052); "
        "Makefile.sync 17f7f4baa", {"fa": "auto", "build": "b7345"}),
    Era("0.15.5", "num_ctx by GPU memory: under 23 GiB 4096, under 47 GiB 32768, else 262144; llama.cpp b7437",
        _T + "0334ffa62, server/routes.go Serve; Makefile.sync ec98e2002", {"default_ctx": "vram", "build": "b7437"}),
    Era("0.30.0", "every GGUF on upstream llama-server b9452: -c num_ctx x parallel -np parallel (no -kvu), "
                  "--flash-attn auto, -b = -ub 512 up to num_ctx 4096, 1024 up to 32768, 2048 above",
        _T + "9db4bdbad (#16031), llm/llama_server.go:339-340,558, server/sched.go:807-868; LLAMA_CPP_VERSION",
        {"runner": "llama-server", "build": "b9452", "ubatch": "auto"}),
    Era("0.32.15", "llama-server b10488", _T + "LLAMA_CPP_VERSION, cmake/local.cmake:113", {"build": "b10488"}),
))


@dataclass(frozen=True, eq=False)
class Ollama(LlamaCpp):
    runtime: ClassVar[str] = "ollama"
    name: str = "ollama"  # type: ignore[misc]
    version: Optional[str] = "0.32.15"
    ubatch: str = "auto"  # 512 | auto: llama-server's -ub chosen from num_ctx (0.30.0 on)
    default_ctx: str = "vram"  # 2048 | 4096 | vram
    parallel: str = "1"  # 1 | auto4 | auto2: OLLAMA_NUM_PARALLEL's default
    kv_types: bool = True  # OLLAMA_KV_CACHE_TYPE exists
    runner: str = "llama-server"  # llama (cgo llama.cpp) | go (some architectures on the Go engine) | llama-server
    llama_build: str = "b11312"  # the llama.cpp whose rules size the cache
    parallel_given: bool = False
    default_file_type: ClassVar[str] = "q4_k_m"  # Ollama's library tags (llama3.1:8b ...) are Q4_K_M

    @classmethod
    def runtime_of(cls, name: str) -> Runtime:
        return RUNTIME

    @classmethod
    def from_release(cls, name: str, release: Any, **options: Any) -> "Ollama":
        rules = release.rules
        _, llama = LLAMA_CPP.rules(rules["build"])
        fields = {k: v for k, v in llama.items() if k in RULE_FIELDS}
        given = options.pop("n_parallel", None)
        if options.get("kv_unified") or options.get("swa_full") is not None:
            raise InputError("--kv-unified and --swa-full are llama.cpp's: Ollama sets them itself")
        fa = options.pop("flash_attn", None) or rules["fa"]
        return cls(name=name, version=release.version, rules_version=release.rules_version, warning=release.warning,
                   **fields, default_ctx=rules["default_ctx"], parallel=rules["parallel"], kv_types=rules["kv_types"],
                   runner=rules["runner"], llama_build=rules["build"], ubatch="512" if "n_ubatch" in options else rules["ubatch"], n_parallel=given or (1 if rules["parallel"] == "1"
                   else int(rules["parallel"][-1])), parallel_given=given is not None, kv_unified=False,
                   swa_full=False, flash_attn=fa, **{k: v for k, v in options.items() if k != "kv_unified"})

    @property
    def ollama(self) -> "Ollama":
        return self

    def admit(self, model: Model) -> None:
        super().admit(model)
        self.refuse(model)

    def cells_per_stream(self, n_ctx: int) -> int:
        """`kvcalc calc --engine ollama --seq N`: N is num_ctx, a sequence's context; Ollama starts
        llama.cpp with -c N x parallel and a stream a sequence, so each stream holds N cells."""
        return super().cells_per_stream(n_ctx * self.n_parallel)

    def default_num_ctx(self, device_bytes: int) -> tuple[int, str]:
        """(num_ctx, the rule) when neither the request nor OLLAMA_CONTEXT_LENGTH sets it."""
        if self.default_ctx == "vram":
            gib = device_bytes / (1 << 30)
            n = 4096 if gib < 23 else 32768 if gib < 47 else 262144
            return n, f"Ollama {self.version}'s default for {gib:.1f} GiB of GPU memory (under 23 GiB 4096, under 47 32768, else 262144)"
        return int(self.default_ctx), f"Ollama {self.version}'s default num_ctx"

    def refuse(self, model: Model) -> None:
        """What kvcalc does not model of Ollama: its Go engine, and llama.cpp caches it configures itself."""
        if self.runner == "go" and model.family in GO_ENGINE:
            raise InputError(f"Ollama {self.version} may run {model.family} models on its own Go engine (ollamarunner), "
                             f"whose caches and graph kvcalc does not model: use --engine ollama@0.30.0 or later "
                             f"(llama-server), or --engine llama.cpp")
        kinds = set(model.layer_kinds)
        if self.runner != "llama-server" and kinds & {SLIDING, CHUNKED, RECURRENT, HYBRID, MLA_KIND}:
            raise InputError(f"Ollama {self.version}: kvcalc does not model how its runner sizes the sliding-window, "
                             f"recurrent or MLA caches of {model.name}: use --engine ollama@0.30.0 or later")

    def setup(self, model: Model, seq: Optional[int], device_bytes: int) -> tuple[LlamaCpp, int, list[str]]:
        """(the llama.cpp engine Ollama starts, -c it passes, notes) for num_ctx `seq` (None: the default)."""
        self.refuse(model)
        notes = []
        if seq is None:
            seq, rule = self.default_num_ctx(device_bytes)
            notes.append(f"num_ctx {seq:,}: {rule}; set it with --seq (a request's num_ctx, or OLLAMA_CONTEXT_LENGTH)")
        if model.max_context and seq > model.max_context:
            notes.append(f"num_ctx {seq:,} clamped to {model.name}'s trained context {model.max_context:,} (as Ollama does)")
            seq = model.max_context
        slots = self.n_parallel
        if self.parallel != "1" and not self.parallel_given:
            notes.append(f"OLLAMA_NUM_PARALLEL auto: {slots}, or 1 when the model does not fit the GPU with "
                         f"{slots} x num_ctx (Ollama's own estimate decides; give --parallel to fix it)")
        else:
            notes.append(f"OLLAMA_NUM_PARALLEL {slots}")
        llama = LlamaCpp(**{f: getattr(self, f) for f in LLAMA_FIELDS})
        ub = self.n_ubatch
        if self.ubatch == "auto":  # server/sched.go: -b = -ub from num_ctx (lowered on a small GPU: not modelled)
            ub = 512 if seq <= 4096 else 1024 if seq <= 32768 else 2048
            notes.append(f"-ub {ub}: Ollama {self.version}'s batch for num_ctx {seq:,} (512 up to 4,096, 1,024 up to "
                         f"32,768, 2,048 above; Ollama lowers it on a short GPU and to 512 without flash attention "
                         f"on CUDA: give --ubatch then)")
        c_api = self.runner != "llama-server"  # the cgo runner: llama_context_default_params, n_batch 512 x parallel
        llama = replace(llama, name="llama.cpp", version=self.llama_build, rules_version=self.llama_build, n_ubatch=ub,
                        c_api=c_api, n_batch=512 * slots if c_api else ub)
        notes.append("weights: Q4_K_M unless --weights-dtype says otherwise (the file type of Ollama's library tags, "
                     "llama3.1:8b and the like)")
        notes.append(f"Ollama {self.version} runs llama.cpp with -c {seq * slots:,} -np {slots} (num_ctx x parallel), "
                     f"flash attention {self.flash_attn}; sized by llama.cpp {self.llama_build}'s rules")
        return llama, seq * slots, notes

    def kv_dtype_for(self, kv: str) -> tuple[str, Optional[str]]:
        """(the cache type Ollama uses for OLLAMA_KV_CACHE_TYPE `kv`, a note when it is not that)."""
        quantized = kv.strip().lower() not in ("auto", "f16", "fp16")
        if quantized and not self.kv_types:
            raise InputError(f"Ollama {self.version} has no OLLAMA_KV_CACHE_TYPE (it came with 0.5.0)")
        if quantized and self.flash_attn == "off":
            return "f16", f"OLLAMA_KV_CACHE_TYPE {kv} needs flash attention: Ollama falls back to f16"
        return kv, None

    def words(self, eng: LlamaCpp) -> str:
        return f"Ollama {self.version} (llama.cpp {self.llama_build} rules)"


LLAMA_FIELDS = tuple(f.name for f in dataclass_fields(LlamaCpp) if f.name != "warning")
