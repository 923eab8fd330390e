"""The ``llama.cpp`` profile: llama.cpp's KV cache as llama_context allocates it (checked against
the llama.cpp vendored by llama-cpp-python 0.3.36, ggml-org/llama.cpp@0c1e57098, by
conformance/llamacpp; sources: src/llama-context.cpp, src/llama-kv-cache.cpp,
src/llama-kv-cache-iswa.cpp, src/llama-memory-recurrent.cpp, src/llama-hparams.cpp).

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
  of K).
- Recurrent (Mamba) layers: per sequence slot, R of (d_conv - 1) x conv channels and S of
  d_inner x d_state, in f32, whatever the context.
- Refused as llama.cpp refuses: a quantized V cache with flash attention off; different K and V
  types on MLA; a block type whose 32 does not divide the head size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..errors import InputError
from ..model import FULL, MLA_KIND, RECURRENT, SLIDING, SSM, Model
from .exact import Engine, StateTensor

LLAMA_CPP_VERSION = "0c1e57098 (llama-cpp-python 0.3.36)"
CELL_PAD = 256
SWA_FAMILIES = ("gemma2", "gemma3_text", "gpt_oss")  # llama.cpp's SWA architectures among kvcalc's
FLASH_ATTN = ("auto", "on", "off")


def ggml_name(name: str) -> str:
    """kvcalc's dtype name as ggml writes it (fp16 -> f16)."""
    return {"fp16": "f16", "fp32": "f32"}.get(name, name)


def pad(n: int, to: int = CELL_PAD) -> int:
    return -(-n // to) * to


@dataclass(frozen=True)
class LlamaCpp(Engine):
    name = "llama.cpp"
    runtime = "llama.cpp"
    version: Optional[str] = LLAMA_CPP_VERSION
    n_parallel: int = 4  # llama-server's -np auto: 4 slots in one unified buffer
    kv_unified: bool = True
    swa_full: bool = False
    n_ubatch: int = 512
    flash_attn: str = "auto"

    def serving_dtype(self, model: Model) -> str:
        """llama.cpp's default cache type (-ctk / -ctv) is f16, whatever the weights."""
        return "fp16"

    def dtype_rule(self, model: Model) -> str:
        return f"auto = f16: llama.cpp's default cache type (-ctk / -ctv f16), whatever the weights ({model.dtype})"

    def streams(self) -> int:
        return 1 if self.kv_unified else self.n_parallel

    def cells_per_stream(self, n_ctx: int) -> int:
        """n_ctx_seq: the context padded to 256, split per stream and padded again."""
        n_ctx = pad(n_ctx)
        if self.kv_unified:
            return n_ctx
        per = pad(n_ctx // self.n_parallel)
        if per == 0:
            raise InputError(f"llama.cpp: n_ctx {n_ctx} over --parallel {self.n_parallel} leaves 0 cells a sequence")
        return per

    def swa_cells_per_stream(self, n_ctx: int, window: int) -> int:
        base = self.cells_per_stream(n_ctx)
        if self.swa_full:
            return base
        return pad(min(base, window * (self.n_parallel if self.kv_unified else 1) + self.n_ubatch))

    def layer_kinds(self, model: Model) -> str:
        """llama.cpp runs sliding windows only for some architectures; other windows are full."""
        if model.family in SWA_FAMILIES:
            return model.layer_kinds
        return model.layer_kinds.replace(SLIDING, FULL)

    def tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        """Cells of all streams: `seq_len` is n_ctx (-c), shared by the --parallel sequences."""
        if kind == SLIDING:
            assert window is not None
            return self.swa_cells_per_stream(seq_len, window) * self.streams()
        if kind in (FULL, MLA_KIND):
            return self.cells_per_stream(seq_len) * self.streams()
        return super().tokens(kind, seq_len, window)

    def state_tensors(self, s: SSM) -> tuple[StateTensor, ...]:
        slots = max(1, self.n_parallel)  # one state a sequence slot
        return (StateTensor("r", (slots, (s.d_conv - 1) * s.conv_channels), "fp32"),
                StateTensor("s", (slots, s.d_inner * s.d_state), "fp32"))

    def check(self, model: Model, k_dtype: "KVDTypeLike", v_dtype: "KVDTypeLike") -> None:
        """What llama.cpp refuses when it creates the context."""
        if self.flash_attn not in FLASH_ATTN:
            raise InputError(f"unknown --flash-attn {self.flash_attn!r} (choose from: {', '.join(FLASH_ATTN)})")
        if self.n_parallel < 1 or self.n_ubatch < 1:
            raise InputError("--parallel and --ubatch must be whole numbers > 0")
        if model.mla is not None and k_dtype.name != v_dtype.name:
            raise InputError(f"llama.cpp: {model.name} (MLA) does not support different K ({ggml_name(k_dtype.name)}) "
                             f"and V ({ggml_name(v_dtype.name)}) cache types")
        if v_dtype.group_size and self.flash_attn == "off" and model.mla is None:
            raise InputError(f"llama.cpp: a quantized V cache ({v_dtype.name}) requires flash attention "
                             f"(--flash-attn on or auto)")
        kinds = self.layer_kinds(model)
        if RECURRENT in kinds or model.mla is not None:
            return
        for dt, which in ((k_dtype, "K"), (v_dtype, "V")):
            if dt.group_size and model.head_dim % dt.group_size:
                raise InputError(f"llama.cpp: {which} cache type {dt.name} with block size {dt.group_size} does not "
                                 f"divide the head size {model.head_dim}")


KVDTypeLike = object  # kvcalc.dtypes.KVDType; kept loose to avoid an import cycle at type level
