"""The formula engine: exact integer bytes of a KV cache. Pure: no I/O, no rich, no torch.

Per layer and per cached token, a K/V layer holds K and V of n_kv_heads x head_dim elements
each; an MLA layer (DeepSeek-V2/V3) holds one latent of kv_lora_rank + qk_rope_head_dim
elements; a Mamba layer holds a fixed state per sequence; other layers hold nothing. How many
tokens a layer holds, what a token costs and what state a sequence keeps is the runtime
profile's answer (``kvcalc.engines``: exact, hf, vllm); this module only sums them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models.model import CHUNKED, FULL, HYBRID, MLA_KIND, NONE, RECURRENT, SLIDING, Model
from ..dtypes import DTYPES, KVDType, resolve
from ..engines import DEFAULT_BLOCK_SIZE, Engine, get_engine
from ..engines.exact import cdiv
from ..errors import InputError


@dataclass(frozen=True)
class LayerGroup:
    """All layers of one kind, and what each holds per sequence.

    Per layer, K is [tokens, k_heads, k_dim] and V is [tokens, v_heads, v_dim] elements per
    sequence (an MLA latent is reported as K with v_heads = 0)."""

    kind: str  # full | sliding | mla | none
    n_layers: int
    tokens: int  # tokens held per sequence in one layer (window and block rounding applied)
    storage_tokens: int  # tokens of storage behind them between decode steps
    peak_tokens: int  # tokens allocated at the end of one prefill of seq_len tokens
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
class StateGroup:
    """The recurrent (Mamba) layers and the state each keeps per sequence, whatever seq_len."""

    n_layers: int
    tensors: tuple[tuple[str, tuple[int, ...], str, int], ...]  # (name, shape, dtype, bytes) per sequence
    label: str = "Mamba"  # what the layers are, in words (model.STATE_NAMES)

    @property
    def bytes_per_layer(self) -> int:
        return sum(t[3] for t in self.tensors)

    @property
    def bytes_per_sequence(self) -> int:
        return self.n_layers * self.bytes_per_layer


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
    state: StateGroup | None = None
    engine_version: str | None = None  # the runtime release asked for
    rules_version: str | None = None  # the release whose rules applied (the era at or below it)
    v_dtype: str | None = None  # V's format where it differs from K's (llama.cpp's -ctv)

    @property
    def state_bytes(self) -> int:
        """Recurrent state of the whole batch (Mamba layers), independent of seq_len."""
        return self.batch_size * self.state.bytes_per_sequence if self.state else 0

    @property
    def cache_bytes(self) -> int:
        """K/V plus recurrent state: kv_cache_bytes + state_bytes."""
        return self.total_bytes + self.state_bytes

    @property
    def storage_bytes(self) -> int:
        """Storage behind the cache tensors between decode steps, state included."""
        return self.batch_size * sum(g.n_layers * g.storage_tokens * g.bytes_per_token for g in self.groups) + self.state_bytes

    @property
    def peak_bytes(self) -> int:
        """Cache storage allocated at the end of one prefill of seq_len tokens, state included."""
        return self.batch_size * sum(g.n_layers * g.peak_tokens * g.bytes_per_token for g in self.groups) + self.state_bytes

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
    """Every group count a model of n query heads can have, largest (MHA) first: O(sqrt(n))."""
    small, large = [], []
    d = 1
    while d * d <= n:
        if n % d == 0:
            small.append(d)
            if d * d != n:
                large.append(n // d)
        d += 1
    return large + small[::-1]


def kv_cache(
    model: Model,
    seq_len: int,
    batch_size: int = 1,
    kv_dtype: str | KVDType = "auto",
    engine: str | Engine = "exact",
    block_size: int = DEFAULT_BLOCK_SIZE,
    n_kv_heads: int | None = None,
    layout: str = "model",
    v_dtype: str | KVDType | None = None,
) -> KVCache:
    """The KV cache of `model` holding `seq_len` tokens for each of `batch_size` sequences,
    as the runtime profile `engine` allocates it (a name, or an engines.Engine with options).

    n_kv_heads rebuilds every attention layer with that many KV heads (MHA = n_heads,
    MQA = 1); None keeps the model as published. v_dtype gives V its own format (default: kv_dtype's)."""
    _check_positive(seq_len, "seq_len")
    _check_positive(batch_size, "batch_size")
    _check_positive(block_size, "block_size")
    eng = get_engine(engine, block_size).for_model(model)
    if n_kv_heads is not None:
        check_kv_heads(model, n_kv_heads)
    dtype = kv_dtype if isinstance(kv_dtype, KVDType) else resolve(kv_dtype, eng.serving_dtype(model))
    vtype = dtype if v_dtype is None else v_dtype if isinstance(v_dtype, KVDType) else resolve(v_dtype, eng.serving_dtype(model))
    eng.admit(model)
    eng.check(model, dtype, vtype)
    eng = eng.for_dtype(model, dtype, n_kv_heads=n_kv_heads)

    kinds = eng.layer_kinds(model)
    groups = []
    for kind in (SLIDING, CHUNKED, FULL, MLA_KIND, NONE, RECURRENT):
        count = kinds.count(kind) + (kinds.count(HYBRID) if kind == FULL else 0)  # H: a full layer's K/V too
        if not count:
            continue
        window = model.attention_chunk_size if kind == CHUNKED else model.sliding_window
        shape = eng.shape(model, kind, n_kv_heads)
        k_data, k_scale = dtype.vector_bytes(shape.k_dim) if shape.k_heads else (0, 0)
        v_data, v_scale = vtype.vector_bytes(shape.v_dim) if shape.v_heads else (0, 0)
        groups.append(
            LayerGroup(
                kind=shape.kind,
                n_layers=count,
                tokens=eng.tokens(kind, seq_len, window),
                storage_tokens=eng.storage_tokens(kind, seq_len, window),
                peak_tokens=eng.peak_tokens(kind, seq_len, window),
                k_heads=shape.k_heads,
                k_dim=shape.k_dim,
                v_heads=shape.v_heads,
                v_dim=shape.v_dim,
                k_bytes_per_token=shape.k_heads * (k_data + k_scale),
                v_bytes_per_token=shape.v_heads * (v_data + v_scale),
                scale_bytes_per_token=shape.k_heads * k_scale + shape.v_heads * v_scale,
            )
        )
    return KVCache(
        model=model.name,
        layout=layout,
        engine=eng.name,
        kv_dtype=dtype.name,
        seq_len=seq_len,
        batch_size=batch_size,
        n_kv_heads=n_kv_heads if n_kv_heads is not None else model.n_kv_heads,
        block_size=eng.block_size or block_size,
        layer_kinds=kinds,
        groups=tuple(groups),
        state=state_group(model, eng),
        engine_version=eng.version,
        rules_version=eng.rules_version,
        v_dtype=vtype.name if vtype.name != dtype.name else None,
    )


def state_group(model: Model, engine: Engine) -> StateGroup | None:
    """The recurrent layers' state per sequence under `engine` (None without them). A tensor of
    the model's own dtype takes the serving dtype: the runtime's activations."""
    count = model.layer_kinds.count(RECURRENT) + model.layer_kinds.count(HYBRID)
    tensors = engine.state(model)
    if not count or not tensors:
        return None
    rows = []
    for t in tensors:
        dtype = DTYPES[t.dtype or engine.serving_dtype(model)]
        rows.append((t.name, t.shape, dtype.name, t.elements * dtype.bits // 8))
    from ..models.model import STATE_NAMES

    return StateGroup(count, tuple(rows), STATE_NAMES[model.ssm.kind] if model.ssm else "Mamba")


def gqa_heads(model: Model) -> int | None:
    """The KV-head count of the GQA row: the model's own when it is GQA, else the divisor of
    n_heads whose group is nearest 8 query heads (None when n_heads is prime)."""
    inner = [d for d in divisors(model.n_heads) if 1 < d < model.n_heads]
    if model.n_kv_heads in inner:
        return model.n_kv_heads
    if not inner:
        return None
    return min(inner, key=lambda d: (abs(model.n_heads // d - 8), -d))


def attention_kind(model: Model) -> str:
    """The model's own attention as published: MLA, MHA, MQA or GQA."""
    if model.mla:
        return "MLA"
    if model.n_kv_heads == model.n_heads:
        return "MHA"
    return "MQA" if model.n_kv_heads == 1 else "GQA"


def layout_kind(model: Model, n_kv_heads: int | None = None) -> str:
    """What a row's layout is, for scripts: MHA, GQA, MQA or MLA; the model as published is
    'hybrid' where recurrent (Mamba) layers stand beside its attention. n_kv_heads: a rebuild."""
    if n_kv_heads is not None:
        return "MHA" if n_kv_heads == model.n_heads else "MQA" if n_kv_heads == 1 else "GQA"
    return "hybrid" if {RECURRENT, HYBRID} & set(model.layer_kinds) else attention_kind(model)


def layout_name(model: Model, n_kv_heads: int) -> str:
    """MHA, MQA or GQA-<n> for `model` rebuilt with n_kv_heads KV heads."""
    if n_kv_heads == model.n_heads:
        return "MHA"
    return "MQA" if n_kv_heads == 1 else f"GQA-{n_kv_heads}"


def published_label(model: Model) -> str:
    """The label of the model's own row in every command and format: its layout and KV heads,
    'GQA-8 (published)', 'MLA (published)'; its rebuilds are MHA, GQA-<n> and MQA (layout_name)."""
    kind = attention_kind(model)
    return f"{f'GQA-{model.n_kv_heads}' if kind == 'GQA' else kind} (published)"


def variant_heads(model: Model) -> list[tuple[str, int]]:
    """(layout, n_kv_heads) of the MHA / GQA / MQA rebuilds of a model."""
    rows = [("MHA", model.n_heads)]
    g = gqa_heads(model)
    if g is not None:
        rows.append((layout_name(model, g), g))
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
