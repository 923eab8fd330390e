"""The ``exact`` profile: what the model itself needs, and the base class of every profile.

- full and MLA layers hold every token; a sliding layer the last min(seq, window);
- a K/V layer caches K and V of n_kv_heads x head_dim per token; an MLA layer one latent of
  kv_lora_rank + qk_rope_head_dim elements;
- a chunked layer (Llama 4) the tokens of one chunk at most: min(seq, attention_chunk_size);
- a recurrent layer keeps, per sequence, the last d_conv - 1 inputs of its convolution (in the
  model's dtype) and its state of d_inner x d_state (in fp32, the precision the scan or the
  delta rule accumulates in); a short convolution (LFM2) only the former, lightning attention
  (MiniMax) only the latter; an H layer both a full layer's K/V and that state.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Optional

from ..errors import InputError
from ..models.model import CHUNKED, FULL, HYBRID, LAYER_KINDS, MLA_KIND, NONE, RECURRENT, SLIDING, SSM, STATE_KINDS, Model

DEFAULT_BLOCK_SIZE = 16  # vLLM's --block-size on GPUs (FlashAttention)
# The command-line flag of each engine option, for messages.
OPTION_FLAGS = {"block_size": "--block-size", "max_num_batched_tokens": "--max-num-batched-tokens",
                "max_concurrent_batches": "--async-scheduling", "n_parallel": "--parallel",
                "kv_unified": "--kv-unified", "swa_full": "--swa-full", "n_ubatch": "--ubatch",
                "flash_attn": "--flash-attn"}
# Fields every engine has that are not options: set from the release.
_RELEASE_FIELDS = ("version", "rules_version", "warning")
RULE = {"rule": True}  # metadata of a field that holds a release's rule, not a user's option


def cdiv(a: int, b: int) -> int:
    """a / b rounded up (whole blocks, pages or cells)."""
    return -(-a // b)


def rule(default: Any) -> Any:
    """A field set from the release's era (kvcalc.engines.releases), never by an option."""
    return field(default=default, metadata=RULE)


@dataclass(frozen=True)
class Shape:
    """One layer's cache per token: K of k_heads x k_dim and V of v_heads x v_dim elements."""

    kind: str  # the label reported: full | sliding | mla | none | recurrent
    k_heads: int
    k_dim: int
    v_heads: int
    v_dim: int


@dataclass(frozen=True)
class StateTensor:
    """One recurrent-state tensor of one layer, per sequence: elements in a dtype. dtype None
    means the model's own dtype (the activations')."""

    name: str  # conv | ssm
    shape: tuple[int, ...]
    dtype: Optional[str]

    @property
    def elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True, eq=False)  # engines are compared by their fields nowhere; fewer generated methods at import
class Engine:
    """The exact engine. Runtime engines subclass it and override what their runtime does
    differently; every method is pure integer arithmetic. Commands ask an engine what it can do
    (the capability flags below) and never compare its name."""

    name: ClassVar[str] = "exact"
    runtime: ClassVar[str] = "what the model needs"
    is_exact: ClassVar[bool] = True  # the reference the runtimes are compared with
    plans_capacity: ClassVar[bool] = True  # fit / plan / compare --gpu size a serving cache by its rules
    sizes_pool: ClassVar[bool] = False  # fit --kv-memory sizes its pool (vLLM's blocks, SGLang's tokens)
    pool_unit: ClassVar[str] = "blocks"  # what its pool is counted in: blocks (vLLM) | tokens (SGLang)
    shares_context: ClassVar[bool] = False  # --seq is one context shared by --parallel slots (llama.cpp)
    measure_runtime: ClassVar[Optional[str]] = None  # the runtime --measure can allocate through
    # The layer letters and recurrent-state kinds this engine's rules cover (proven against its
    # runtime); a model with any other is refused by name (unmodelled), never sized by a guess.
    plans_locally: ClassVar[bool] = False  # `fit` places its weights layer by layer on a GPU and the host (llama.cpp)
    layer_letters: ClassVar[str] = "FSNMRCH"
    state_kinds: ClassVar[tuple[str, ...]] = STATE_KINDS
    version: Optional[str] = None  # the runtime release asked for (None: no releases, or the newest)
    rules_version: Optional[str] = None  # the release whose rules apply (the era at or below version)
    warning: Optional[str] = field(default=None, compare=False)  # said on stderr after the answer

    # ----- building: kvcalc.engines.get_engine ---------------------------------------------

    @classmethod
    def runtime_of(cls, name: str) -> Any:
        """The runtime's releases and eras (kvcalc.engines.releases.Runtime); None: no releases."""
        return None

    @classmethod
    def has_option(cls, option: str) -> bool:
        return any(f.name == option and not f.metadata.get("rule") for f in fields(cls)) and option not in _RELEASE_FIELDS

    @classmethod
    def build(cls, name: str, version: Optional[str], **options: Any) -> "Engine":
        """The engine of `name` at `version` (None: the newest) with `options`."""
        for option in options:
            if not cls.has_option(option):
                raise InputError(f"{OPTION_FLAGS.get(option, option)} is not an option of --engine {name}")
        runtime = cls.runtime_of(name)
        if runtime is None:
            if version:
                raise InputError(f"engine {name} has no releases: drop @{version}")
            return cls(**options)
        from .releases import resolve

        return cls.from_release(name, resolve(runtime, version), **options)

    @classmethod
    def from_release(cls, name: str, release: Any, **options: Any) -> "Engine":
        """The engine with `release`'s rules (kvcalc.engines.releases.Release), then `options`."""
        known = {f.name for f in fields(cls)}  # a rule may also be an option's default (async scheduling)
        rules = {k: v for k, v in release.rules.items() if k in known}
        return cls(version=release.version, rules_version=release.rules_version, warning=release.warning,
                   **{**rules, **options})

    # ----- what it is, in words --------------------------------------------------------------

    @property
    def label(self) -> str:
        """'vllm 0.10.1.1 (rules of 0.10.0)', 'hf 5.23.0', 'exact'."""
        if not self.version:
            return self.name
        runtime = type(self).runtime_of(self.name)
        older = runtime is not None and self.version != runtime.newest  # a release asked for: say whose rules
        rules = f" (rules of {self.rules_version})" if older and self.rules_version != self.version else ""
        return f"{self.name} {self.version}{rules}"

    @property
    def planning_block_size(self) -> int:
        """Tokens a planned cache is allocated in: a paged block, else one token."""
        return self.block_size or 1

    def cached_kv_heads(self, model: Model) -> int:
        """KV heads the runtime caches for the published model (more than n_kv_heads where it
        expands them to every query head)."""
        return model.n_kv_heads

    def for_model(self, model: Model) -> "Engine":
        """This engine as its runtime runs `model` (a runtime may force a setting off for it)."""
        return self

    def for_dtype(self, model: Model, dtype: Any, tp: int = 1, n_kv_heads: Optional[int] = None) -> "Engine":
        """This engine once the cache's dtype is known (vLLM sizes a hybrid's blocks by it)."""
        return self

    def notes(self, model: Model, cache: Any, exact: Any) -> list[str]:
        """Why this engine's cache differs from the exact one, rule by rule (none for exact)."""
        return []

    def document(self, cache: Any) -> Optional[dict[str, Any]]:
        """What this runtime itself prints about the cache (llama.cpp's log lines), or None."""
        return None

    @property
    def block_size(self) -> Optional[int]:
        """Tokens per allocation unit (a paged block), None when tokens are allocated singly."""
        return None

    def serving_dtype(self, model: Model) -> str:
        """The dtype the runtime runs the model in (what ``auto`` means): the config's own."""
        return model.dtype

    def dtype_rule(self, model: Model) -> str:
        """What auto meant for this model, in words."""
        return f"auto = {self.serving_dtype(model)}: the checkpoint's own dtype (config.json torch_dtype)"

    def layer_kinds(self, model: Model) -> str:
        """The kind of each layer as this runtime runs it (the model's own, by default)."""
        return model.layer_kinds

    def check(self, model: Model, k_dtype: object, v_dtype: object) -> None:
        """Refuse what the runtime refuses (nothing, by default)."""

    def unmodelled(self, model: Model) -> Optional[str]:
        """Why kvcalc cannot size `model` under this engine (a layer or state kind whose rules it
        lacks for this runtime), in one line; None when it can."""
        kinds = set(model.layer_kinds) - set(self.layer_letters)
        if kinds:
            kind = LAYER_KINDS[sorted(kinds)[0]]
            return (f"{model.name}: kvcalc does not model {self.runtime}'s cache for {kind} layers "
                    f"({model.family}){self._unmodelled_reason(kind)}")
        if model.ssm is not None and model.ssm.kind not in self.state_kinds:
            return (f"{model.name}: kvcalc does not model {self.runtime}'s state of {model.ssm.kind} layers "
                    f"({model.family}){self._unmodelled_reason(model.ssm.kind)}")
        return None

    def _unmodelled_reason(self, kind: str) -> str:
        """Why, where the engine knows (': ...'), else ''."""
        return ""

    def admit(self, model: Model) -> None:
        """Raise InputError naming what is not modelled (see unmodelled)."""
        why = self.unmodelled(model)
        if why:
            raise InputError(f"{why} (README: Families kvcalc refuses)")

    def tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        """Tokens one layer of `kind` holds for a sequence of seq_len tokens."""
        if kind in (NONE, RECURRENT):
            return 0
        if kind in (SLIDING, CHUNKED):  # window: the sliding window, or the chunk size
            assert window is not None  # guaranteed by Model's validator
            return min(seq_len, window)
        return seq_len

    def storage_tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        """Tokens of storage behind those tensors between decode steps (views can pin more)."""
        return self.tokens(kind, seq_len, window)

    def peak_tokens(self, kind: str, seq_len: int, window: Optional[int]) -> int:
        """Tokens allocated at the end of one prefill of seq_len tokens."""
        return self.storage_tokens(kind, seq_len, window)

    def shape(self, model: Model, kind: str, n_kv_heads: Optional[int]) -> Shape:
        """What one token costs in a layer of `kind`; n_kv_heads rebuilds the attention with
        that many KV heads (None: as published)."""
        if kind in (NONE, RECURRENT):
            return Shape(LAYER_KINDS[kind], 0, 0, 0, 0)
        if kind == MLA_KIND:
            mla = model.mla
            assert mla is not None  # guaranteed by Model's validator
            if n_kv_heads is not None:  # rebuilt as per-head attention with MLA's head dims
                return Shape("full", n_kv_heads, mla.qk_nope_head_dim + mla.qk_rope_head_dim, n_kv_heads, mla.v_head_dim)
            return self.mla_shape(model)
        heads = n_kv_heads if n_kv_heads is not None else model.n_kv_heads
        return Shape(LAYER_KINDS[kind], heads, model.head_dim, heads, model.head_dim)

    def mla_shape(self, model: Model) -> Shape:
        """The MLA latent as one K of kv_lora_rank + qk_rope_head_dim elements."""
        assert model.mla is not None
        return Shape("mla", 1, model.mla.latent_dim, 0, 0)

    def state(self, model: Model) -> tuple[StateTensor, ...]:
        """The recurrent state one Mamba layer keeps per sequence (empty without Mamba layers)."""
        return () if model.ssm is None else self.state_tensors(model.ssm)

    def state_tensors(self, s: SSM) -> tuple[StateTensor, ...]:
        """A recurrent layer's state tensors, per sequence."""
        return tuple(t for t in (StateTensor("conv", (s.conv_channels, s.d_conv - 1), None) if s.d_conv > 1 else None,
                                 StateTensor("ssm", (s.d_inner, s.d_state), "fp32") if s.d_state else None) if t)


__all__ = ["Engine", "Shape", "StateTensor", "FULL", "HYBRID"]
