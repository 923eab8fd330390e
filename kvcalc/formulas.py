"""The formula engine: exact integer bytes of a KV cache. Pure: no I/O, no rich, no torch.

Per layer and per cached token, a K/V layer holds K and V of n_kv_heads x head_dim elements
each; an MLA layer (DeepSeek-V2/V3) holds one latent of kv_lora_rank + qk_rope_head_dim
elements; a layer without attention holds nothing. How many tokens a layer holds depends on
the runtime profile (``engine``):

- ``exact``: what the model needs: every token for full and MLA layers, the last
  min(seq, window) tokens for sliding-window layers.
- ``hf``: transformers' caches: K and V of [B, H_kv, S, D] per layer, sliding layers capped at
  the window, MLA stored decompressed per head (K of qk_nope + qk_rope, V of v_head_dim, for
  all n_heads).
- ``vllm``: paged blocks of block_size tokens: cdiv(seq, block) blocks per full or MLA layer
  (MLA as its latent); a sliding layer needs at most cdiv(window - 1, block) + 1 blocks, since
  the last `window` tokens can straddle one block more than they fill.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import FULL, LAYER_KINDS, MLA_KIND, NONE, SLIDING, Model
from .dtypes import KVDType, resolve
from .errors import InputError

ENGINES = ("exact", "hf", "vllm")
DEFAULT_BLOCK_SIZE = 16


def cdiv(a: int, b: int) -> int:
    """Ceiling division of non-negative integers."""
    return -(-a // b)


@dataclass(frozen=True)
class LayerGroup:
    """All layers of one kind, and what each holds per sequence.

    Per layer, K is [tokens, k_heads, k_dim] and V is [tokens, v_heads, v_dim] elements per
    sequence (an MLA latent is reported as K with v_heads = 0)."""

    kind: str  # full | sliding | mla | none
    n_layers: int
    tokens: int  # tokens held per sequence in one layer (window and block rounding applied)
    k_heads: int
    k_dim: int
    v_heads: int
    v_dim: int
    k_bytes_per_token: int  # one layer, one token: data + scales
    v_bytes_per_token: int
    scale_bytes_per_token: int  # the part of k + v bytes that is scales

    @property
    def bytes_per_token(self) -> int:
        """K + V bytes of one token in one layer of this kind."""
        return self.k_bytes_per_token + self.v_bytes_per_token

    @property
    def bytes_per_sequence(self) -> int:
        """n_layers x tokens x bytes per token."""
        return self.n_layers * self.tokens * self.bytes_per_token


@dataclass(frozen=True)
class KVCache:
    """The KV cache of one model layout for a batch: exact bytes, K and V apart."""

    model: str
    layout: str  # model | MHA | GQA | MQA
    engine: str
    kv_dtype: str
    seq_len: int
    batch_size: int
    n_kv_heads: int
    block_size: int
    layer_kinds: str  # one letter per layer, as Model.layer_kinds
    groups: tuple[LayerGroup, ...]

    @property
    def bytes_per_token(self) -> int:
        """K + V bytes of one token over all layers, while every layer still holds it."""
        return sum(g.n_layers * g.bytes_per_token for g in self.groups)

    @property
    def k_bytes(self) -> int:
        """K bytes of the whole batch."""
        return self.batch_size * sum(g.n_layers * g.tokens * g.k_bytes_per_token for g in self.groups)

    @property
    def v_bytes(self) -> int:
        """V bytes of the whole batch."""
        return self.batch_size * sum(g.n_layers * g.tokens * g.v_bytes_per_token for g in self.groups)

    @property
    def scale_bytes(self) -> int:
        """The part of the cache that is quantisation scales (0 for fp/bf16, fp8, int8)."""
        return self.batch_size * sum(g.n_layers * g.tokens * g.scale_bytes_per_token for g in self.groups)

    @property
    def bytes_per_sequence(self) -> int:
        return sum(g.bytes_per_sequence for g in self.groups)

    @property
    def total_bytes(self) -> int:
        """batch x bytes per sequence = k_bytes + v_bytes."""
        return self.batch_size * self.bytes_per_sequence

    @property
    def data_bytes(self) -> int:
        return self.total_bytes - self.scale_bytes


def _check_positive(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InputError(f"{what}: must be a whole number > 0, got {value!r}")
    return value


def check_kv_heads(model: Model, n_kv_heads: int) -> int:
    """n_kv_heads if it divides n_heads (each KV head serves a whole group of query heads)."""
    _check_positive(n_kv_heads, "n_kv_heads")
    if model.n_heads % n_kv_heads:
        raise InputError(
            f"{model.name}: {n_kv_heads} KV heads do not divide {model.n_heads} query heads "
            f"(choose from: {', '.join(map(str, divisors(model.n_heads)))})"
        )
    return n_kv_heads


def divisors(n: int) -> list[int]:
    """Every group count a model of n query heads can have, largest (MHA) first."""
    return [d for d in range(n, 0, -1) if n % d == 0]


def _tokens_held(kind: str, seq_len: int, window: int | None, engine: str, block: int) -> int:
    if kind == NONE:
        return 0
    if kind == SLIDING:
        assert window is not None  # guaranteed by Model's validator
        if engine == "vllm":
            return min(cdiv(seq_len, block), cdiv(window - 1, block) + 1) * block
        return min(seq_len, window)
    return cdiv(seq_len, block) * block if engine == "vllm" else seq_len


def _shape(model: Model, kind: str, engine: str, n_kv_heads: int | None) -> tuple[str, int, int, int, int]:
    """(reported kind, k_heads, k_dim, v_heads, v_dim) of one layer's cache per token."""
    if kind == NONE:
        return "none", 0, 0, 0, 0
    if kind == MLA_KIND:
        mla = model.mla
        assert mla is not None  # guaranteed by Model's validator
        qk_dim = mla.qk_nope_head_dim + mla.qk_rope_head_dim
        if n_kv_heads is not None:  # rebuilt as per-head attention with MLA's head dims
            return "full", n_kv_heads, qk_dim, n_kv_heads, mla.v_head_dim
        if engine == "hf":  # decompressed: K and V per head, all query heads
            return "mla", model.n_heads, qk_dim, model.n_heads, mla.v_head_dim
        return "mla", 1, mla.latent_dim, 0, 0
    heads = n_kv_heads if n_kv_heads is not None else model.n_kv_heads
    return LAYER_KINDS[kind], heads, model.head_dim, heads, model.head_dim


def kv_cache(
    model: Model,
    seq_len: int,
    batch_size: int = 1,
    kv_dtype: str | KVDType = "auto",
    engine: str = "exact",
    block_size: int = DEFAULT_BLOCK_SIZE,
    n_kv_heads: int | None = None,
    layout: str = "model",
) -> KVCache:
    """The KV cache of `model` holding `seq_len` tokens for each of `batch_size` sequences.

    n_kv_heads rebuilds every attention layer with that many KV heads (MHA = n_heads,
    MQA = 1); None keeps the model as published."""
    _check_positive(seq_len, "seq_len")
    _check_positive(batch_size, "batch_size")
    _check_positive(block_size, "block_size")
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r} (choose from: {', '.join(ENGINES)})")
    if n_kv_heads is not None:
        check_kv_heads(model, n_kv_heads)
    dtype = kv_dtype if isinstance(kv_dtype, KVDType) else resolve(kv_dtype, model.dtype)

    kinds = model.layer_kinds
    groups = []
    for kind in (SLIDING, FULL, MLA_KIND, NONE):
        count = kinds.count(kind)
        if not count:
            continue
        label, kh, kd, vh, vd = _shape(model, kind, engine, n_kv_heads)
        k_data, k_scale = dtype.vector_bytes(kd) if kh else (0, 0)
        v_data, v_scale = dtype.vector_bytes(vd) if vh else (0, 0)
        groups.append(
            LayerGroup(
                kind=label,
                n_layers=count,
                tokens=_tokens_held(kind, seq_len, model.sliding_window, engine, block_size),
                k_heads=kh,
                k_dim=kd,
                v_heads=vh,
                v_dim=vd,
                k_bytes_per_token=kh * (k_data + k_scale),
                v_bytes_per_token=vh * (v_data + v_scale),
                scale_bytes_per_token=kh * k_scale + vh * v_scale,
            )
        )
    return KVCache(
        model=model.name,
        layout=layout,
        engine=engine,
        kv_dtype=dtype.name,
        seq_len=seq_len,
        batch_size=batch_size,
        n_kv_heads=n_kv_heads if n_kv_heads is not None else model.n_kv_heads,
        block_size=block_size,
        layer_kinds=kinds,
        groups=tuple(groups),
    )


def gqa_heads(model: Model) -> int | None:
    """The KV-head count of the GQA row: the model's own when it is GQA, else the divisor of
    n_heads whose group is nearest 8 query heads (None when n_heads is prime)."""
    inner = [d for d in divisors(model.n_heads) if 1 < d < model.n_heads]
    if model.n_kv_heads in inner:
        return model.n_kv_heads
    if not inner:
        return None
    return min(inner, key=lambda d: (abs(model.n_heads // d - 8), -d))


def layout_name(model: Model, n_kv_heads: int) -> str:
    """MHA, MQA or GQA-<n> for `model` rebuilt with n_kv_heads KV heads."""
    if n_kv_heads == model.n_heads:
        return "MHA"
    return "MQA" if n_kv_heads == 1 else f"GQA-{n_kv_heads}"


def variant_heads(model: Model) -> list[tuple[str, int]]:
    """(layout, n_kv_heads) of the MHA / GQA / MQA rebuilds of a model."""
    rows = [("MHA", model.n_heads)]
    g = gqa_heads(model)
    if g is not None:
        rows.append(("GQA", g))
    rows.append(("MQA", 1))
    return rows


def variants(model: Model, seq_len: int, batch_size: int = 1, **kw) -> list[KVCache]:
    """The model as published, then its MHA / GQA / MQA rebuilds, same dtype and engine."""
    rows = [kv_cache(model, seq_len, batch_size, **kw)]
    for layout, heads in variant_heads(model):
        rows.append(kv_cache(model, seq_len, batch_size, n_kv_heads=heads, layout=layout, **kw))
    return rows


def kv_bytes_per_token(model: Model, kv_dtype: str = "auto") -> int:
    """K+V bytes cached per token, all layers (2 x n_layers x n_kv_heads x head_dim x bytes
    per element for a plain GQA model)."""
    return kv_cache(model, 1, kv_dtype=kv_dtype).bytes_per_token
