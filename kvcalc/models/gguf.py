"""GGUF in: a Model (and the weights' real size) from a .gguf file's metadata, never its tensor data.

The ``gguf`` package of the llama.cpp project reads the header; it imports numpy, so it is an
optional extra (``pip install 'kvcalc[gguf]'``) imported only here. Keys are read as llama.cpp's
loader reads them (src/llama-model.cpp, src/models/<arch>.cpp): ``{arch}.block_count``,
``{arch}.attention.head_count[_kv]`` (a number, or one per layer: 0 is a layer without attention),
``key_length`` / ``value_length``, ``sliding_window`` and its pattern, the MLA ranks and the SSM dims.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from ..errors import ConfigError

# GGUF general.architecture -> kvcalc family (the HF model_type the mappers use).
ARCHS = {
    "llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "qwen3moe": "qwen3_moe", "gemma2": "gemma2",
    "gemma3": "gemma3_text", "phi3": "phi3", "falcon": "falcon", "deepseek2": "deepseek_v3", "gpt-oss": "gpt_oss",
    "jamba": "jamba", "nemotron_h": "nemotron_h", "mistral3": "mistral",
    "llama4": "llama4_text", "gemma3n": "gemma3n_text", "lfm2": "lfm2", "mamba": "mamba", "mamba2": "mamba2",
    "granitehybrid": "granitemoehybrid", "falcon-h1": "falcon_h1", "qwen3next": "qwen3_next",
    "cohere2": "cohere2", "command-r": "cohere", "olmo2": "olmo2", "starcoder2": "starcoder2",
}
# llama.cpp's default sliding-window patterns (every n-th layer full) and windows, per architecture
# (llama_model_<arch>::load_arch_hparams, load_swa_pattern). llama4's layers are chunked, of a chunk
# of 8192 whatever the file says, unless its sliding_window key is 0 (src/models/llama4.cpp).
LLAMA4_CHUNK = 8192
# lfm2 with a window: every attention layer slides (pattern 0).
SWA_PATTERN = {"gemma2": 2, "gemma3": 6, "gpt-oss": 2, "llama4": 4, "gemma3n": 5, "cohere2": 4, "olmo2": 4, "lfm2": 0}
SWA_DEFAULT = {"gemma2": 4096, "llama4": LLAMA4_CHUNK, "olmo2": 0, "lfm2": 0}
# Architectures whose recurrent layers are those with no KV heads (nemotron_h: and no MLP either).
RECURRENT_WHERE_NO_KV = ("jamba", "granitehybrid", "lfm2", "nemotron_h")
# gemma3n: only the first 20 layers own a cache (llama_hparams::n_layer_kv_from_start, hard-coded).
GEMMA3N_KV_LAYERS = 20


MISSING = object()  # what a metadata lookup returns for a key that is not there


class _Meta:
    """GGUF metadata by key: `lookup(key)` gives a value or MISSING (a file's fields, or the keys a
    llama.cpp log printed)."""

    def __init__(self, lookup: Callable[[str], Any], origin: str):
        self.lookup, self.origin = lookup, origin
        self.arch = self.get("general.architecture")

    def get(self, key: str, default: Any = ConfigError) -> Any:
        value = self.lookup(key)
        if value is MISSING:
            if default is ConfigError:
                raise ConfigError(f"{self.origin}: GGUF key {key} is missing (needed to size the cache)")
            return default
        return value

    def arch_key(self, key: str, default: Any = ConfigError) -> Any:
        return self.get(f"{self.arch}.{key}", default)

    def per_layer(self, key: str, n_layers: int, default: Any = ConfigError) -> list[int]:
        value = self.arch_key(key, default)
        if isinstance(value, list):
            if len(value) != n_layers:
                raise ConfigError(f"{self.origin}: GGUF key {self.arch}.{key} has {len(value)} values for {n_layers} layers")
            return [int(v) for v in value]
        return [int(value)] * n_layers


def _reader(path: Path) -> Any:
    try:
        from gguf import GGUFReader
    except ImportError:
        raise ConfigError("reading .gguf files needs the gguf package: pip install 'kvcalc[gguf]'") from None
    try:
        return GGUFReader(path, "r")
    except (ValueError, OSError, IndexError, KeyError) as err:
        raise ConfigError(f"{path}: not a readable GGUF file (truncated or corrupt: its header or tensor table "
                          f"does not parse)") from None


def _swa_layers(m: _Meta, n_layers: int) -> tuple[list[bool], int | None]:
    """Which layers llama.cpp runs with a sliding window, and the window."""
    if m.arch not in SWA_PATTERN:
        return [False] * n_layers, None
    window = m.arch_key("attention.sliding_window", SWA_DEFAULT.get(m.arch, 0))
    if not window:
        return [False] * n_layers, None
    if m.arch == "llama4":
        window = LLAMA4_CHUNK
    pattern = m.arch_key("attention.sliding_window_pattern", SWA_PATTERN[m.arch])
    if isinstance(pattern, list):  # one flag a layer
        return [bool(p) for p in pattern][:n_layers], int(window)
    n = int(pattern)  # llama_hparams::set_swa_pattern: 0 means every layer slides
    return [n == 0 or i % n < n - 1 for i in range(n_layers)], int(window)


def from_gguf(path: str | Path) -> tuple["Model", int]:  # noqa: F821
    """(the model, the weights' bytes from the tensor table) of a GGUF file."""
    from .files import note_input

    path = Path(path)
    note_input(path)
    reader = _reader(path)

    def lookup(key: str) -> Any:
        field = reader.fields.get(key)
        return MISSING if field is None else field.contents()

    model = model_from_metadata(lookup, str(path), path.stem, lambda: _embedding_rows(reader),
                                {"url": path.resolve().as_uri(), "revision": "local file"}, allow_unmapped=True)
    return model, sum(int(t.n_bytes) for t in reader.tensors)


def model_from_metadata(lookup: Callable[[str], Any], origin: str, stem: str,
                        embedding_rows: Optional[Callable[[], int]] = None,
                        source: Optional[dict[str, str]] = None, allow_unmapped: bool = False) -> "Model":  # noqa: F821
    """The model llama.cpp builds from GGUF metadata (`lookup(key)`: a value or MISSING), named
    general.name (else `stem`). An architecture kvcalc does not map is refused, or with
    allow_unmapped read by its common keys and marked unmapped (commands then refuse it unless
    told to assume standard attention)."""
    from .config import validate

    m = _Meta(lookup, origin)
    family = ARCHS.get(m.arch)
    if m.arch == "minicpm3":
        raise ConfigError(f"{origin}: GGUF architecture 'minicpm3': llama.cpp caches its K of key_length and V of "
                          f"value_length per head, two head sizes, which kvcalc's schema does not hold")
    if family is None and not allow_unmapped:
        raise ConfigError(f"{origin}: GGUF architecture {m.arch!r} has no kvcalc mapping (known: {', '.join(ARCHS)})")
    from .model import MAX_LAYERS

    n_layers = int(m.arch_key("block_count"))
    if not 0 < n_layers <= MAX_LAYERS:
        raise ConfigError(f"{origin}: GGUF key {m.arch}.block_count is {n_layers:,} (at most {MAX_LAYERS:,})")
    pure = m.arch in ("mamba", "mamba2")  # no attention at all
    heads = m.per_layer("attention.head_count", n_layers, 0 if pure else ConfigError)
    kv = m.per_layer("attention.head_count_kv", n_layers, max(heads))
    n_heads = max(heads)
    hidden = int(m.arch_key("embedding_length"))
    key_len = int(m.arch_key("attention.key_length", hidden // n_heads if n_heads else 0))
    ff = m.per_layer("feed_forward_length", n_layers, 0)
    swa, window = _swa_layers(m, n_layers)
    mla = None
    if m.arch == "deepseek2":
        rank = int(m.arch_key("attention.kv_lora_rank"))
        rope = int(m.arch_key("rope.dimension_count"))
        per_head = m.arch_key("attention.key_length_mla", None) is None  # converted before llama.cpp's MLA (#12801)
        if per_head:  # key_length / value_length are then the per-head K and V sizes, as llama.cpp caches them
            k_mla, v_mla = key_len, int(m.arch_key("attention.value_length", key_len))
        else:
            k_mla, v_mla = int(m.arch_key("attention.key_length_mla")), int(m.arch_key("attention.value_length_mla"))
        mla = {"kv_lora_rank": rank, "qk_rope_head_dim": rope, "qk_nope_head_dim": k_mla - rope, "v_head_dim": v_mla}
        if per_head:
            mla["gguf_per_head"] = True
        q_rank = m.arch_key("attention.q_lora_rank", None)
        if q_rank:
            mla["q_lora_rank"] = int(q_rank)
        key_len = k_mla
        kv = [n_heads if h else 0 for h in kv]  # llama.cpp's 1 KV head is the latent; kvcalc keeps n_heads
    ssm = _ssm(m, hidden)
    recurrent = _recurrent_layers(m, n_layers, kv, ff)
    letters = []
    for i in range(n_layers):
        if m.arch == "falcon-h1":
            letters.append("H")  # attention and Mamba-2 side by side in every layer
        elif recurrent[i]:
            letters.append("R")
        elif kv[i] == 0 or (m.arch == "gemma3n" and i >= GEMMA3N_KV_LAYERS):
            letters.append("N")  # an MLP layer, or gemma3n's layers that reuse an earlier layer's KV
        else:
            letters.append("M" if mla else ("C" if m.arch == "llama4" else "S") if swa[i] else "F")
    attn = [h for h, letter in zip(kv, letters) if letter not in "RN"]
    if not attn and not pure:
        raise ConfigError(f"{origin}: GGUF {m.arch} model has no attention layer; kvcalc needs at least one")
    if len(set(attn)) > 1:
        raise ConfigError(f"{origin}: {m.arch}.attention.head_count_kv varies between attention layers "
                          f"({sorted(set(attn))}); kvcalc's schema has one KV-head count")
    if pure:  # one nominal head of the width, never cached (as kvcalc reads a Mamba config.json)
        n_heads, attn, key_len = 1, [1], hidden
    vocab = int(m.arch_key("vocab_size", 0))
    if not vocab:
        tokens = m.get("tokenizer.ggml.tokens", None)
        vocab = len(tokens) if isinstance(tokens, list) else embedding_rows() if embedding_rows else 0
    name = str(m.get("general.name", stem)).strip().lower().replace(" ", "-") or stem.lower()
    pattern = "".join(letters)
    data: dict[str, Any] = {
        "name": name,
        "family": family,
        "n_layers": n_layers,
        "n_heads": n_heads,
        "n_kv_heads": attn[0],
        "head_dim": key_len,
        "hidden_size": hidden,
        "intermediate_size": max(ff) or 4 * hidden,
        "vocab_size": vocab or 1,
        "dtype": "fp16",
        "max_context": int(m.arch_key("context_length")),
        "source": {**(source or {"url": "about:log", "revision": "printed"}), "note": f"GGUF metadata ({m.arch})"},
        "notes": "from a GGUF file: dtype is llama.cpp's default cache type (f16)",
    }
    if family is None:
        data.update(family="custom", unmapped=f"GGUF architecture {m.arch!r} (known: {', '.join(ARCHS)})")
    if set(pattern) != {"M" if mla else "F"}:
        data["layer_pattern"] = pattern
    if "S" in pattern:
        data["sliding_window"] = window
    if "C" in pattern:
        data["attention_chunk_size"] = window
    if mla:
        data["mla"] = mla
    if ssm and ("R" in pattern or "H" in pattern):
        data["ssm"] = ssm
    moe = _moe(m)
    if moe:
        data["moe"] = moe
    return validate(data, origin)


def _moe(m: _Meta) -> Optional[dict[str, Any]]:
    """The routed experts, as llama.cpp's loader reads them (expert_count, expert_used_count,
    expert_feed_forward_length, expert_shared_count, leading_dense_block_count): the weights and
    compute buffers of `fit --engine llama.cpp` need them, the cache does not."""
    n = int(m.arch_key("expert_count", 0) or 0)
    used = int(m.arch_key("expert_used_count", 0) or 0)
    ff = int(m.arch_key("expert_feed_forward_length", 0) or 0)
    if n < 2 or not used or not ff:
        return None
    out: dict[str, Any] = {"n_experts": n, "n_experts_per_tok": used, "expert_intermediate_size": ff}
    shared = int(m.arch_key("expert_shared_count", 0) or 0)
    if shared:
        out["n_shared_experts"] = shared
    dense = int(m.arch_key("leading_dense_block_count", 0) or 0)
    if dense:
        out["first_dense_layers"] = dense
    return out


def _ssm(m: _Meta, hidden: int) -> Optional[dict[str, Any]]:
    """The recurrent layers' state dims as llama.cpp's loader reads them (ssm.group_count only
    where the architecture reads it: not for mamba or jamba)."""
    if m.arch == "lfm2":  # a short convolution over n_embd channels
        return {"kind": "short_conv", "d_inner": hidden, "d_conv": int(m.arch_key("shortconv.l_cache"))}
    if m.arch not in ("jamba", "mamba", "mamba2", "granitehybrid", "falcon-h1", "nemotron_h", "qwen3next"):
        return None
    dims = {"d_inner": int(m.arch_key("ssm.inner_size")), "d_state": int(m.arch_key("ssm.state_size")),
            "d_conv": int(m.arch_key("ssm.conv_kernel"))}
    if m.arch in ("jamba", "mamba"):
        return {"kind": "mamba", **dims}
    # qwen3next: d_inner = value heads x head_v, d_state = head_k, groups = key heads (the gated DeltaNet)
    return {"kind": "gated_delta" if m.arch == "qwen3next" else "mamba2", **dims,
            "n_groups": int(m.arch_key("ssm.group_count"))}


def _recurrent_layers(m: _Meta, n_layers: int, kv: list[int], ff: list[int]) -> list[bool]:
    """Which layers llama.cpp runs as recurrent (src/llama-model.cpp, the hybrid layer filters)."""
    if m.arch in ("mamba", "mamba2"):
        return [True] * n_layers
    if m.arch in RECURRENT_WHERE_NO_KV:
        return [kv[i] == 0 and (m.arch != "nemotron_h" or ff[i] == 0) for i in range(n_layers)]
    if m.arch == "qwen3next":
        flags = m.arch_key("attention.recurrent_layers", None)
        if isinstance(flags, list):
            if len(flags) != n_layers:
                raise ConfigError(f"{m.origin}: GGUF key qwen3next.attention.recurrent_layers has {len(flags)} values "
                                  f"for {n_layers} layers")
            return [bool(f) for f in flags]
        interval = int(m.arch_key("full_attention_interval", 4))
        return [(i + 1) % interval != 0 for i in range(n_layers)]
    return [False] * n_layers


def _embedding_rows(reader: Any) -> int:
    for t in reader.tensors:
        if t.name == "token_embd.weight":
            return int(t.shape[-1]) if len(t.shape) > 1 else 0
    return 0


def load_gguf(path: str | Path) -> "Model":  # noqa: F821
    return from_gguf(path)[0]
