"""The ``llama.cpp`` engine: llama.cpp's KV cache as llama_context allocates it, build by build
(eras in RUNTIME below; the newest, b11312 = ggml-org/llama.cpp@0c1e57098 as vendored by
llama-cpp-python 0.3.36, is checked live by conformance/llamacpp; older releases by goldens
recorded from llama-cpp-python 0.3.8, 0.3.9, 0.3.16 and 0.3.17. Sources: src/llama-context.cpp,
src/llama-kv-cache.cpp, src/llama-kv-cache-iswa.cpp, src/llama-memory-recurrent.cpp,
src/llama-hparams.cpp; before b4881 the root llama.cpp).

Today's rules (b6975 on):
- Cells: n_ctx (``-c``, here ``--seq``) is padded to 256. With a unified buffer (``--kv-unified``,
  llama-server's default when ``-np`` is auto) there is one stream of n_ctx cells; otherwise
  each of the ``--parallel`` sequences gets its own stream of pad(n_ctx / n_parallel, 256) cells.
- A layer's K is [n_embd_k_gqa, cells, streams] of ``--k-dtype`` (ggml rows: a q8_0 block is 34 B
  per 32 elements), V likewise with ``--v-dtype``.
- Sliding-window layers (gemma-2, gemma-3, gpt-oss: the architectures llama.cpp runs with SWA;
  it ignores Mistral's and Phi-3's windows) get their own cache of
  pad(min(n_ctx_seq, window x (n_parallel if unified else 1) + n_ubatch), 256) cells a stream;
  ``--swa-full`` makes it full size.
- MLA (DeepSeek-V2/V3): one K row of kv_lora_rank + rope dims (576) a token, no V (V is a view
  of K). A GGUF converted before llama.cpp's MLA (no key_length_mla) runs unabsorbed: K and V
  per head.
- Recurrent (Mamba) layers: per sequence slot, R of (d_conv - 1) x conv channels and S of
  d_inner x d_state, in f32, whatever the context.
- Refused as llama.cpp refuses: a quantized V cache with flash attention off; different K and V
  types on MLA; a block type whose 32 does not divide the head size.

Earlier builds differ in the padding (32 without flash attention until b6867, none b6868-b6974),
the streams (one shared cache of n_ctx cells before b6071), the SWA cache (every layer n_ctx
cells before b5429), MLA (a V row of kv_lora_rank before b7832) and llama-server's slots.
"""

from __future__ import annotations

from dataclasses import dataclass, fields as dataclass_fields
from typing import Any, ClassVar, Optional

from ..errors import InputError
from ..models.model import CHUNKED, FULL, HYBRID, MLA_KIND, NONE, RECURRENT, SLIDING, SSM, Model
from .exact import Engine, Shape, StateTensor, rule
from .releases import Era, Runtime

CELL_PAD = 256
# llama.cpp's SWA architectures among kvcalc's (llama4's chunked layers are SWA of type CHUNKED)
SWA_FAMILIES = ("gemma2", "gemma3_text", "gpt_oss", "gemma3n_text", "cohere2", "olmo2", "lfm2")
LLAMA4_CHUNK = 8192  # src/models/llama4.cpp: n_swa = 8192 whatever the GGUF says
GEMMA3N_KV_LAYERS = 20  # llama_hparams::n_layer_kv_from_start for gemma3n, hard-coded
FLASH_ATTN = ("auto", "on", "off")
_PR = "https://github.com/ggml-org/llama.cpp/pull/"

# Build numbers are `git rev-list --count` of the merge commit (what `llama-server --version` prints).
RUNTIME = Runtime("llama.cpp", "llama.cpp", "build", checked=("b4875", "b5308", "b6170", "b8475", "b11312"), eras=(
    Era("b2871", "n_ctx padded to 32 without flash attention, 256 with it (llama_kv_cache_get_padding); one cache "
                 "of n_ctx cells shared by every sequence; sliding-window layers hold n_ctx cells like the others; "
                 "flash attention off by default; DeepSeek GGUFs cache K and V per head",
        f"{_PR}7257 (614d3b914), llama.cpp: llama_new_context_with_model",
        {"ctx_pad": "fa", "streams_split": False, "stream_split": "ceil", "fa_off_mla": False, "swa_cache": "none",
         "mla": "per_head", "fa_default": "off",
         "server_slots": "one", "log": "llama_new_context_with_model: KV self", "fa_needs_equal_heads": True,
         "hybrid_split": False, "recurrent_log": "seqs",
         "graph_idxs": False, "graph_inp_embd": False, "graph_mask_f16": False, "graph_outputs_max": False}),
    Era("b4463", "the KV log line's prefix becomes llama_init_from_model", f"{_PR}11110 (afa8a9ec9)",
        {"log": "llama_init_from_model: KV self"}),
    Era("b4881", "the KV log line's prefix becomes llama_context", f"{_PR}12181 (e0dbec0bc), src/llama-context.cpp",
        {"log": "llama_context: KV self"}),
    Era("b4987", "flash attention no longer forced off where K and V head sizes differ (a pre-MLA DeepSeek GGUF)",
        f"{_PR}12612 (b4ae50810), src/llama-context.cpp", {"fa_needs_equal_heads": False}),
    Era("b5137", "DeepSeek MLA: K row of kv_lora_rank + rope (576) and V row of kv_lora_rank (512) a token "
                 "(GGUFs with key_length_mla); flash attention forced off for DeepSeek2",
        f"{_PR}12801 (daa422881), src/llama-model.cpp", {"mla": "k_v", "fa_off_mla": True}),
    Era("b5149", "flash attention allowed with MLA", f"{_PR}12953 (2f74c354c), src/llama-context.cpp",
        {"fa_off_mla": False}),
    Era("b5262", "the KV log line moves to llama_kv_cache_unified", f"{_PR}12799 (c642bc014), src/llama-kv-cache.cpp",
        {"log": "llama_kv_cache_unified: KV self"}),
    Era("b5429", "a separate sliding-window cache of min(n_ctx, pad(n_swa x n_seq_max + n_batch)) cells (kvcalc "
                 "refuses it: n_batch is not modelled; --swa-full is); --swa-full (the C API's default: on); log: "
                 "size = ... (cells, layers)",
        f"{_PR}13194 (e298d2fbd), src/llama-kv-cache.cpp llama_kv_cache_unified_iswa",
        {"swa_cache": "batch", "log": "llama_kv_cache_unified: size"}),
    Era("b5441", "the KV log line counts the sequences: (cells, layers, seqs)", f"{_PR}13660 (797f2ac06)",
        {"log": "llama_kv_cache_unified: size seqs"}),
    Era("b5554", "the SWA cache counts n_ubatch instead of n_batch: min(n_ctx, pad(n_swa x n_seq_max + n_ubatch))",
        f"{_PR}13833 (3600cc288), src/llama-kv-cache.cpp", {"swa_cache": "ubatch"}),
    Era("b6071", "each sequence its own stream of pad(ceil(n_ctx / n_seq_max)) cells unless --kv-unified "
                 "(#14363, b5913, effective by default once LLAMA_SET_ROWS=1 became the default); SWA cells "
                 "n_swa x (n_seq_max if unified else 1) + n_ubatch",
        f"{_PR}14363 (225e7a143) and {_PR}14959 (a4569c41f), src/llama-kv-cache-unified.cpp",
        {"streams_split": True, "swa_cache": "streams", "log": "llama_kv_cache_unified: size streams",
         "graph_idxs": True}),
    Era("b6233", "the KV log prefix becomes llama_kv_cache", f"{_PR}15467 (715a6db02)",
        {"log": "llama_kv_cache: size streams"}),
    Era("b6325", "flash attention auto by default (llama_context_params.flash_attn_type); auto pads like on (256)",
        f"{_PR}15434 (e81b8e4b7), src/llama-context.cpp", {"fa_default": "auto"}),
    Era("b6868", "no cache padding: n_ctx cells exactly (a stream: ceil(n_ctx / n_seq_max)), SWA unpadded",
        f"{_PR}16812 (85a7d8677), src/llama-kv-cache.cpp", {"ctx_pad": "none"}),
    Era("b6925", "llama-server: -np 1 without -kvu becomes 4 slots in a unified buffer; a stream is "
                 "floor(n_ctx / n_seq_max) cells", f"{_PR}16736 (cd5e3b575), tools/server/server.cpp",
        {"server_slots": "auto4", "stream_split": "floor"}),
    Era("b6975", "n_ctx always padded to 256, a stream to pad(n_ctx / n_seq_max, 256); the SWA cache "
                 "pad(min(n_ctx_seq, n_swa x (n_seq_max if unified else 1) + n_ubatch), 256)",
        f"{_PR}17046 (16bcc1259), src/llama-context.cpp", {"ctx_pad": "256"}),
    Era("b7433", "llama-server: -np defaults to auto (4 slots, unified); an explicit -np N keeps N streams",
        f"{_PR}17997 (7b1db3d3b), common/arg.cpp", {"server_slots": "auto"}),
    Era("b7774", "compute graph: the token-embedding input inp_embd always allocated (4 x n_embd x n_ubatch B of "
                 "the compute buffers)", f"{_PR}18550 (365a3e8c3), src/llama-graph.cpp", {"graph_inp_embd": True}),
    Era("b7832", "MLA caches no V row (V is a view of K): 576 elements a token",
        f"{_PR}19067 (d9c6ce46f), src/llama-kv-cache.cpp", {"mla": "k"}),
    Era("b8025", "a hybrid (Mamba + attention) model's attention cache is n_ctx_seq cells a stream (it was the "
                 "whole n_ctx in every stream)", f"{_PR}19559 (bb96bfd36), src/llama-model.cpp create_memory",
        {"hybrid_split": True}),
    Era("b9180", "the recurrent state's log line counts rs_seq", f"{_PR}22673 (255582687), "
                 "src/llama-memory-recurrent.cpp", {"recurrent_log": "rs_seq"}),
    Era("b9410", "compute graph: the flash-attention mask made f16 directly (no f32 mask and cast)",
        f"{_PR}23764 (031ddb2e0), src/llama-graph.cpp build_attn_inp_kq_mask", {"graph_mask_f16": True}),
    Era("b9460", "compute graph: logits reserved for n_outputs_max rows (llama-server: -np), not the whole ubatch",
        f"{_PR}23861 (de6f727aa), src/llama-context.cpp sched_reserve", {"graph_outputs_max": True}),
    Era("b11312", "the recurrent state's log line adds its P state (first seen in b11312, the build checked; the "
                  "PR that added it was not located)", "src/llama-memory-recurrent.cpp (0c1e57098)",
        {"recurrent_log": "rs_seq_p"}),
))

# llama-cpp-python release -> the llama.cpp build its sdist vendors (CHANGELOG.md and the
# vendor/llama.cpp gitlink of each tag; llama-cpp-python 0.3.36 vendors 0c1e57098 = b11312).
LLAMA_CPP_PYTHON = {
    "0.2.90": 3642, "0.3.0": 3826, "0.3.1": 3848, "0.3.2": 4094, "0.3.3": 4291, "0.3.4": 4291, "0.3.5": 4295,
    "0.3.6": 4447, "0.3.7": 4579, "0.3.8": 4875, "0.3.9": 5308, "0.3.10": 5763, "0.3.11": 5763, "0.3.12": 5833,
    "0.3.13": 5897, "0.3.14": 5904, "0.3.15": 6110, "0.3.16": 6170, "0.3.17": 8475, "0.3.18": 8475,
    "0.3.19": 8531, "0.3.20": 8643, "0.3.21": 8942, "0.3.22": 9007, "0.3.23": 9102, "0.3.24": 9445,
    "0.3.25": 9466, "0.3.26": 9518, "0.3.27": 9547, "0.3.28": 9553, "0.3.29": 9625, "0.3.30": 9665,
    "0.3.31": 9733, "0.3.32": 9837, "0.3.33": 9874, "0.3.34": 9976, "0.3.35": 10454, "0.3.36": 11312,
}
PYTHON_RUNTIME = Runtime(
    "llama-cpp-python", "llama-cpp-python", "release", checked=("0.3.8", "0.3.9", "0.3.16", "0.3.17", "0.3.36"),
    eras=tuple(Era(v, f"vendors llama.cpp b{b}", "CHANGELOG.md, vendor/llama.cpp", {"build": b})
               for v, b in LLAMA_CPP_PYTHON.items()))


def ggml_name(name: str) -> str:
    """kvcalc's dtype name as ggml writes it (fp16 -> f16)."""
    return {"fp16": "f16", "fp32": "f32"}.get(name, name)


def pad(n: int, to: int = CELL_PAD) -> int:
    return -(-n // to) * to


@dataclass(frozen=True, eq=False)  # engines are compared by their fields nowhere; fewer generated methods at import
class LlamaCpp(Engine):
    runtime: ClassVar[str] = "llama.cpp"
    is_exact: ClassVar[bool] = False
    plans_capacity: ClassVar[bool] = False
    plans_locally: ClassVar[bool] = True
    shares_context: ClassVar[bool] = True
    state_kinds: ClassVar[tuple[str, ...]] = ("mamba", "mamba2", "gated_delta", "short_conv")  # no lightning
    name: str = "llama.cpp"  # type: ignore[misc]  # or llama-cpp-python: the C API's defaults
    version: Optional[str] = "b11312"
    rules_version: Optional[str] = "b7832"
    n_parallel: int = 4  # llama-server's -np auto: 4 slots in one unified buffer
    kv_unified: bool = True
    swa_full: bool = False
    n_ubatch: int = 512
    flash_attn: str = "auto"
    # the era's rules (RUNTIME): padding, streams, SWA cache, MLA rows, log format
    ctx_pad: str = rule("256")  # fa (32 without flash attention, 256 with) | none | 256
    streams_split: bool = rule(True)  # each sequence its own stream unless unified
    stream_split: str = rule("floor")  # ceil | floor: n_ctx / n_seq_max a stream
    swa_cache: str = rule("streams")  # none | batch | ubatch | streams
    mla: str = rule("k")  # per_head | k_v | k
    log: str = rule("llama_kv_cache: size streams")  # the KV log line: prefix, then its shape
    fa_needs_equal_heads: bool = rule(False)  # flash attention forced off where K and V head sizes differ
    fa_off_mla: bool = rule(False)  # flash attention forced off for DeepSeek2 (MLA)
    hybrid_split: bool = rule(True)  # a Mamba hybrid's attention cells split per stream (else n_ctx each)
    recurrent_log: str = rule("rs_seq_p")  # the recurrent line: seqs | rs_seq | rs_seq_p
    whole_ctx: bool = False  # this model's attention cache is the whole n_ctx in every stream (for_model)
    # how the program sets up the context: llama-server / llama-cli (n_batch 2048, n_outputs_max =
    # -np) or the C API's defaults (llama-cpp-python, Ollama's cgo runner: n_outputs_max = n_batch)
    n_batch: int = rule(2048)
    c_api: bool = rule(False)
    # the compute graph's inputs, build by build (kvcalc.planning.llamacpp_buffers)
    graph_idxs: bool = rule(True)  # K/V written by set_rows through k_idxs / v_idxs inputs (b6071)
    graph_inp_embd: bool = rule(True)  # the inp_embd input always allocated (b7774)
    graph_mask_f16: bool = rule(True)  # the flash-attention mask an f16 input, not f32 and a cast (b9410)
    graph_outputs_max: bool = rule(True)  # logits for n_outputs_max rows, not the whole ubatch (b9460)

    @classmethod
    def runtime_of(cls, name: str) -> Runtime:
        return PYTHON_RUNTIME if name == "llama-cpp-python" else RUNTIME

    @classmethod
    def from_release(cls, name: str, release: Any, **options: Any) -> "LlamaCpp":
        """The rules of the build (llama-cpp-python: the build it vendors) and the defaults of
        llama-server (llama.cpp) or of the C API (llama-cpp-python)."""
        build, version = (f"b{release.rules['build']}", release.version) if name == "llama-cpp-python" else \
            (release.version, release.version)
        era, rules = RUNTIME.rules(build)
        if name == "llama-cpp-python":  # Llama(): n_seq_max 1, one stream, swa_full on, flash_attn off, n_batch 512
            defaults = {"n_parallel": 1, "kv_unified": False, "swa_full": True, "flash_attn": "off", "n_batch": 512,
                        "c_api": True}
        elif rules["server_slots"] != "one":  # -np auto: 4 slots, unified; an explicit -np N keeps N streams
            given = options.get("n_parallel")  # until b7433 an explicit -np 1 could not be told from auto
            explicit = given is not None and (given != 1 or rules["server_slots"] == "auto")
            if options.get("kv_unified"):
                defaults = {"n_parallel": given or 1, "kv_unified": True}  # -kvu: as many slots as asked
            else:
                defaults = {"n_parallel": given if explicit else 4, "kv_unified": options.get("kv_unified", not explicit)}
            options = {k: v for k, v in options.items() if k not in ("n_parallel", "kv_unified")}  # decided above
        else:
            defaults = {"n_parallel": 1, "kv_unified": False, "flash_attn": rules["fa_default"]}
        defaults.setdefault("flash_attn", rules["fa_default"])
        if rules["fa_default"] == "off" and options.get("flash_attn") == "auto":
            raise InputError(f"llama.cpp {build} has no flash-attention auto (it came with b6325): "
                             f"--flash-attn on or off")
        fields = {k: v for k, v in rules.items() if k in RULE_FIELDS}  # the era's rules, named as the fields
        return cls(name=name, version=version, rules_version=era.since, warning=release.warning,
                   **{**defaults, **fields, **options})

    def serving_dtype(self, model: Model) -> str:
        """llama.cpp's default cache type (-ctk / -ctv) is f16, whatever the weights."""
        return "fp16"

    def dtype_rule(self, model: Model) -> str:
        return f"auto = f16: llama.cpp's default cache type (-ctk / -ctv f16), whatever the weights ({model.dtype})"

    @property
    def n_outputs_max(self) -> int:
        """Output rows the reserved graph computes logits for: llama-server sets -np; the C API n_batch."""
        if not self.graph_outputs_max:
            return self.n_batch  # before b9460 every token of the reserved ubatch had its logits
        return self.n_batch if self.c_api else self.n_parallel

    def streams(self) -> int:
        return self.n_parallel if self.streams_split and not self.kv_unified else 1

    @property
    def padding(self) -> int:
        """What n_ctx is padded to: 256, or by flash attention (auto counts as on), or 1."""
        if self.ctx_pad == "fa":
            return 32 if self.flash_attn == "off" else CELL_PAD
        return CELL_PAD if self.ctx_pad == "256" else 1

    def for_model(self, model: Model) -> "LlamaCpp":
        """This engine as llama.cpp runs `model`: flash attention forced off where the build does
        (K and V head sizes that differ, before b4987; DeepSeek2 in b5137-b5148), and a Mamba
        hybrid's attention cache the whole n_ctx in every stream before b8025."""
        from dataclasses import replace

        eng = self
        if self.flash_attn != "off" and model.mla is not None:
            per_head = model.mla.gguf_per_head or self.mla == "per_head"
            unequal = per_head and model.mla.qk_nope_head_dim + model.mla.qk_rope_head_dim != model.mla.v_head_dim
            if (self.fa_needs_equal_heads and unequal) or (self.fa_off_mla and not per_head):
                eng = replace(eng, flash_attn="off")
        if not self.hybrid_split and {RECURRENT, HYBRID} & set(model.layer_kinds):
            eng = replace(eng, whole_ctx=True)
        return eng

    def cells_per_stream(self, n_ctx: int) -> int:
        """n_ctx_seq: the context padded, split per stream (and padded again)."""
        streams = 1 if self.whole_ctx else self.streams()
        if self.ctx_pad == "256":
            n_ctx = pad(n_ctx)
            if streams == 1:
                return n_ctx
            per = pad(n_ctx // streams)
        elif streams == 1:
            return pad(n_ctx, self.padding)
        else:
            split = -(-n_ctx // streams) if self.stream_split == "ceil" else n_ctx // streams
            per = pad(split, self.padding)
        if per == 0:
            raise InputError(f"llama.cpp: n_ctx {n_ctx} over --parallel {self.n_parallel} leaves 0 cells a sequence")
        return per

    def swa_cells_per_stream(self, n_ctx: int, window: int) -> int:
        base = self.cells_per_stream(n_ctx)
        if self.swa_full or self.swa_cache == "none":
            return base
        if self.swa_cache == "batch":
            raise InputError(f"llama.cpp {self.rules_version}: its first SWA cache counted n_batch, which kvcalc "
                             f"does not model: use --swa-full, or a build from b5554")
        seqs = self.n_parallel if self.swa_cache == "ubatch" or self.kv_unified else 1
        want = window * seqs + self.n_ubatch
        if self.ctx_pad == "256":
            return pad(min(base, want))
        return min(base, pad(want, self.padding))

    def layer_kinds(self, model: Model) -> str:
        """llama.cpp runs sliding windows only for some architectures; other windows are full.
        gemma3n: the first 20 layers own a cache (pattern 5), the rest reuse one."""
        kinds = model.layer_kinds
        if model.family == "gemma3n_text":
            kinds = "".join(NONE if i >= GEMMA3N_KV_LAYERS else k if k != NONE else SLIDING if i % 5 < 4 else FULL
                            for i, k in enumerate(kinds))
        if model.family in SWA_FAMILIES:
            return kinds
        return kinds.replace(SLIDING, FULL)

    def tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        """Cells of all streams: `seq_len` is n_ctx (-c), shared by the --parallel sequences."""
        if kind == CHUNKED:  # an SWA cache of llama4's fixed chunk
            return self.swa_cells_per_stream(seq_len, LLAMA4_CHUNK) * self.streams()
        if kind == SLIDING:
            assert window is not None
            return self.swa_cells_per_stream(seq_len, window) * self.streams()
        if kind in (FULL, MLA_KIND):
            return self.cells_per_stream(seq_len) * self.streams()
        return super().tokens(kind, seq_len, window)

    def mla_shape(self, model: Model) -> Shape:
        """The latent as K (kv_lora_rank + rope), with a V row of kv_lora_rank before b7832; a
        GGUF converted before llama.cpp's MLA, and any DeepSeek GGUF before b5137, per head."""
        mla = model.mla
        assert mla is not None
        if mla.gguf_per_head or self.mla == "per_head":
            return Shape("mla", model.n_heads, mla.qk_nope_head_dim + mla.qk_rope_head_dim, model.n_heads, mla.v_head_dim)
        if self.mla == "k_v":
            return Shape("mla", 1, mla.latent_dim, 1, mla.kv_lora_rank)
        return Shape("mla", 1, mla.latent_dim, 0, 0)

    def state_tensors(self, s: SSM) -> tuple[StateTensor, ...]:
        slots = max(1, self.n_parallel)  # one state a sequence slot
        return (StateTensor("r", (slots, (s.d_conv - 1) * s.conv_channels), "fp32"),
                StateTensor("s", (slots, s.d_inner * s.d_state), "fp32"))

    def notes(self, model: Model, cache: Any, exact: Any) -> list[str]:
        return []  # llama.cpp's own log lines (document) say it

    def document(self, cache: Any) -> dict[str, Any]:
        return log_document(cache, self)

    def check(self, model: Model, k_dtype: "KVDTypeLike", v_dtype: "KVDTypeLike") -> None:
        """What llama.cpp refuses when it creates the context."""
        if self.flash_attn not in FLASH_ATTN:
            raise InputError(f"unknown --flash-attn {self.flash_attn!r} (choose from: {', '.join(FLASH_ATTN)})")
        if self.n_parallel < 1 or self.n_ubatch < 1:
            raise InputError("--parallel and --ubatch must be whole numbers > 0")
        per_head = model.mla is not None and (model.mla.gguf_per_head or self.mla == "per_head")
        if model.mla is not None and not per_head and k_dtype.name != v_dtype.name:
            raise InputError(f"llama.cpp: {model.name} (MLA) does not support different K ({ggml_name(k_dtype.name)}) "
                             f"and V ({ggml_name(v_dtype.name)}) cache types")
        if v_dtype.group_size and self.flash_attn == "off":  # MLA too, though its V is a view of K
            raise InputError(f"llama.cpp: a quantized V cache ({v_dtype.name}) requires flash attention "
                             f"(--flash-attn on or auto)")
        kinds = self.layer_kinds(model)
        if {RECURRENT, HYBRID} & set(kinds) or model.mla is not None:
            return
        for dt, which in ((k_dtype, "K"), (v_dtype, "V")):
            if dt.group_size and model.head_dim % dt.group_size:
                raise InputError(f"llama.cpp: {which} cache type {dt.name} with block size {dt.group_size} does not "
                                 f"divide the head size {model.head_dim}")


def mib(n: int) -> float:
    """Bytes in MiB as llama.cpp computes them before printing: (float) bytes / (1024.0f * 1024.0f)."""
    import struct

    return struct.unpack("f", struct.pack("f", float(n)))[0] / 1048576


def _mib(n: int) -> str:
    """MiB as llama.cpp logs them: printed %7.2f."""
    return f"{mib(n):7.2f}"


def log_document(c: Any, eng: "LlamaCpp") -> dict[str, Any]:
    """llama.cpp's own log lines for this cache, as the build prints them (one per KV cache: full,
    then SWA; then the recurrent state), with its cells and settings."""
    streams = eng.streams()
    k_name, v_name = ggml_name(c.kv_dtype), ggml_name(c.v_dtype or c.kv_dtype)
    prefix, shape = eng.log.split(": ")
    caches = [("full", "mla"), ("sliding", "chunked")] if shape != "KV self" else [("full", "mla", "sliding", "chunked")]
    lines, cells, swa_cells = [], 0, 0
    iswa = len(caches) > 1 and any(g.kind in ("sliding", "chunked") for g in c.groups)
    for kinds in caches:  # the SWA cache second
        groups = [g for g in c.groups if g.kind in kinds]
        if groups:
            k = sum(g.n_layers * g.tokens * g.k_bytes_per_token for g in groups)
            v = sum(g.n_layers * g.tokens * g.v_bytes_per_token for g in groups)
            tokens, layers = groups[0].tokens, sum(g.n_layers for g in groups)
        elif iswa and kinds[0] == "full":  # every layer slides: llama.cpp's base cache holds 0 layers
            k = v = layers = 0
            tokens = eng.cells_per_stream(c.seq_len) * streams
        else:
            continue
        n = tokens // streams
        if kinds[0] == "sliding":
            swa_cells = tokens
        else:
            cells = tokens
        sizes = f"K ({k_name}): {_mib(k)} MiB, V ({v_name}): {_mib(v)} MiB"
        where = {"KV self": None, "size": f"{n:6d} cells, {layers:3d} layers",
                 "size seqs": f"{n:6d} cells, {layers:3d} layers, {eng.n_parallel:2d} seqs",
                 "size streams": f"{n:6d} cells, {layers:3d} layers, {eng.n_parallel:2d}/{streams} seqs"}[shape]
        lines.append(f"{prefix}: KV self size  = {_mib(k + v)} MiB, {sizes}" if where is None else
                     f"{prefix}: size = {_mib(k + v)} MiB ({where}), {sizes}")
    if c.state is not None:
        r, s_ = (t[3] for t in c.state.tensors)
        slots = max(1, eng.n_parallel)
        seqs = {"seqs": f"{slots:2d} seqs", "rs_seq": f"{slots:2d} seqs  0 rs_seq",
                "rs_seq_p": f"{slots:2d} seqs  0 rs_seq"}[eng.recurrent_log]
        p_state = f", P (f32): {_mib(0)} MiB" if eng.recurrent_log == "rs_seq_p" else ""
        lines.append(f"llama_memory_recurrent: size = {_mib(c.state_bytes)} MiB ({slots:6d} cells, "
                     f"{len(c.layer_kinds):3d} layers, {seqs}), R (f32): {_mib(c.state.n_layers * r)} MiB, "
                     f"S (f32): {_mib(c.state.n_layers * s_)} MiB{p_state}")
    return {"cells": cells, "swa_cells": swa_cells, "n_parallel": eng.n_parallel, "kv_unified": eng.kv_unified,
            "swa_full": eng.swa_full, "n_ubatch": eng.n_ubatch, "flash_attn": eng.flash_attn, "log": lines}


RULE_FIELDS = frozenset(f.name for f in dataclass_fields(LlamaCpp) if f.metadata.get("rule"))
KVDTypeLike = object  # kvcalc.dtypes.KVDType; kept loose to avoid an import cycle at type level
