"""Parameter counts from the architecture, for the weights side of capacity planning.

Per layer: attention (q, k and v at their real KV width, o; MLA's low-rank projections), the
MLP (gated: gate, up and down, 3 x hidden x intermediate; plain: up and down, 2 x), or the MoE
experts with their router and shared experts; norms. Plus the embedding, the LM head unless it
is tied to the embedding, and the final norm. Biases where the family has them (Qwen-2's q/k/v,
gpt-oss). Layers without attention (Mamba layers of Jamba, Nemotron-H) need fields the schema
does not carry: such models have no count, and `fit` asks for --weights-bytes instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from .model import HYBRID, NONE, RECURRENT, Model

# Families whose weights kvcalc's count would get wrong: refused by name.
UNCOUNTED = {"llama4_text": "dense and expert layers interleaved, a shared expert, intermediate_size_mlp",
             "gemma3n_text": "per-layer embeddings, AltUp and LAuReL blocks"}
PLAIN_MLP = {"falcon", "gpt2", "gpt_neox", "gpt_bigcode", "nemotron_h"}  # up + down, no gate
LAYER_NORM = {"falcon", "gpt2", "gpt_neox", "gpt_bigcode"}  # LayerNorm: weight and bias
FOUR_NORMS = {"gemma2", "gemma3", "gemma3_text"}  # pre and post norms around attention and MLP
QK_NORM = {"qwen3", "qwen3_moe", "gemma3", "gemma3_text"}  # per-head RMSNorm of q and k
QKV_BIAS = {"qwen2", "qwen2_moe"}


@dataclass(frozen=True)
class ParamCount:
    """Parameters of one model, by where they live."""

    embedding: int
    head: int  # LM head (0 when tied to the embedding)
    final_norm: int
    layers: tuple[int, ...]  # one entry per layer
    active_layers: tuple[int, ...]  # per layer, counting only the experts one token uses
    # The weight matrices of each layer (what a quantization method quantizes): attention's
    # projections, the dense MLP's (or shared experts'), the routed experts'. Biases, norms and
    # routers are in `layers` only.
    attn_linear: tuple[int, ...] = ()
    mlp_linear: tuple[int, ...] = ()
    expert_linear: tuple[int, ...] = ()

    @property
    def total(self) -> int:
        return self.embedding + self.head + self.final_norm + sum(self.layers)

    @property
    def active(self) -> int:
        """Parameters one token touches (MoE: routed experts only; dense: the total)."""
        return self.embedding + self.head + self.final_norm + sum(self.active_layers)


def _attention(m: Model) -> int:
    """Attention's parameters: its weight matrices, then norms, biases and sinks."""
    h = m.hidden_size
    n = _attn_linear(m)
    if m.mla is not None:  # the norms of the q and kv latents
        return n + (m.mla.q_lora_rank or 0) + m.mla.kv_lora_rank
    q_width, kv_width = m.n_heads * m.head_dim, m.n_kv_heads * m.head_dim
    if m.family in QKV_BIAS:
        n += q_width + 2 * kv_width
    if m.family == "gpt_oss":  # biases on q, k, v and o, and one attention sink per head
        n += q_width + 2 * kv_width + h + m.n_heads
    if m.family in QK_NORM:
        n += 2 * m.head_dim
    return n


def _attn_linear(m: Model) -> int:
    """Attention's weight matrices alone (what a quantization method quantizes)."""
    h = m.hidden_size
    if m.mla is not None:
        a = m.mla
        qk = a.qk_nope_head_dim + a.qk_rope_head_dim
        # q_a_proj and q_b_proj (or one q_proj); kv_a_proj (latent + rope key); kv_b_proj (per-head k_nope and v); o_proj
        q = h * a.q_lora_rank + a.q_lora_rank * m.n_heads * qk if a.q_lora_rank else h * m.n_heads * qk
        kv = h * (a.kv_lora_rank + a.qk_rope_head_dim) + a.kv_lora_rank * m.n_heads * (a.qk_nope_head_dim + a.v_head_dim)
        return q + kv + m.n_heads * a.v_head_dim * h
    q_width, kv_width = m.n_heads * m.head_dim, m.n_kv_heads * m.head_dim
    return 2 * h * q_width + 2 * h * kv_width  # q, o; k, v


def _mlp_linear(m: Model, intermediate: int) -> int:
    return (2 if m.family in PLAIN_MLP else 3) * m.hidden_size * intermediate


def _mlp(m: Model, intermediate: int) -> int:
    n = _mlp_linear(m, intermediate)
    if m.family == "gpt_oss":  # biases of gate_up and down
        n += 2 * intermediate + m.hidden_size
    return n


def _moe(m: Model) -> tuple[int, int]:
    """(all parameters, those one token uses) of one MoE layer's experts, router and shared experts."""
    moe = m.moe
    assert moe is not None
    expert = _mlp(m, moe.expert_intermediate_size)
    router = m.hidden_size * moe.n_experts
    if m.family == "gpt_oss":
        router += moe.n_experts  # router bias
    if m.family == "deepseek_v3":
        router += moe.n_experts  # e_score_correction_bias
    shared = 0
    if moe.n_shared_experts:
        shared = _mlp(m, _shared_width(m))
        if m.family == "qwen2_moe":
            shared += m.hidden_size  # shared_expert_gate
    total = moe.n_experts * expert + router + shared
    return total, moe.n_experts_per_tok * expert + router + shared


def _shared_width(m: Model) -> int:
    """The intermediate width of a MoE layer's shared experts, taken together."""
    moe = m.moe
    assert moe is not None
    return moe.shared_expert_intermediate_size or moe.n_shared_experts * moe.expert_intermediate_size


def _norms(m: Model) -> int:
    per = 2 * m.hidden_size if m.family in LAYER_NORM else m.hidden_size
    if m.family in FOUR_NORMS:
        return 4 * per
    if m.family == "falcon" and m.n_kv_heads == 1:  # Falcon-7B: one norm for parallel attention + MLP
        return per
    return 2 * per


def count_params(model: Model) -> ParamCount:
    """Every parameter of `model`, from its architecture."""
    if {NONE, RECURRENT, HYBRID} & set(model.layer_kinds):
        n = sum(model.layer_kinds.count(k) for k in (NONE, RECURRENT, HYBRID))
        raise InputError(
            f"{model.name}: kvcalc does not count the parameters of its {n} layers that are not plain attention "
            f"(recurrent, MLP-only or shared-KV); pass --weights-bytes"
        )
    if model.family in UNCOUNTED:
        raise InputError(f"{model.name}: kvcalc does not count {model.family}'s parameters ({UNCOUNTED[model.family]}); "
                         f"pass --weights-bytes")
    attn = _attention(model)
    norms = _norms(model)
    layers, active, mlp_lin, expert_lin = [], [], [], []
    for i in range(model.n_layers):
        if model.moe is not None and model.moe.is_expert_layer(i):
            total, used = _moe(model)
            moe = model.moe
            mlp_lin.append(_mlp_linear(model, _shared_width(model)) if moe.n_shared_experts else 0)
            expert_lin.append(moe.n_experts * _mlp_linear(model, moe.expert_intermediate_size))
        else:
            total = used = _mlp(model, model.intermediate_size)
            mlp_lin.append(_mlp_linear(model, model.intermediate_size))
            expert_lin.append(0)
        layers.append(attn + norms + total)
        active.append(attn + norms + used)
    if model.vocab_size is None:
        raise InputError(f"{model.name}: vocab_size is not in its config, and the weights need it: give --weights-bytes")
    embedding = model.vocab_size * model.hidden_size
    final_norm = 2 * model.hidden_size if model.family in LAYER_NORM else model.hidden_size
    return ParamCount(
        embedding=embedding,
        head=0 if model.tie_embeddings else embedding,
        final_norm=final_norm,
        layers=tuple(layers),
        active_layers=tuple(active),
        attn_linear=(_attn_linear(model),) * model.n_layers,
        mlp_linear=tuple(mlp_lin),
        expert_linear=tuple(expert_lin),
    )
