"""Mutation check: single-token edits to the sizing rules (formulas, engines, dtypes, capacity, the
config.json and GGUF mappers); each must make the test suite fail. Prints every mutation with
caught / SURVIVED, and exits 1 if any survived.

    python bench/mutations.py [--only SUBSTRING] [--timeout 600]

It edits the working tree one file at a time and always restores it; run it on a clean tree.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (file, text, replacement, what the rule is)
MUTATIONS = [
    ("kvcalc/core/formulas.py", "k_bytes_per_token=shape.k_heads * (k_data + k_scale)", "k_bytes_per_token=shape.k_heads * k_data", "K scales counted"),
    ("kvcalc/core/formulas.py", "return self.n_layers * self.tokens * self.bytes_per_token", "return self.tokens * self.bytes_per_token", "layers multiply"),
    ("kvcalc/core/formulas.py", "return self.batch_size * self.state.bytes_per_sequence if self.state else 0", "return self.state.bytes_per_sequence if self.state else 0", "state per sequence"),
    ("kvcalc/core/formulas.py", "for kind in (SLIDING, CHUNKED, FULL, MLA_KIND, NONE, RECURRENT):", "for kind in (CHUNKED, FULL, MLA_KIND, NONE, RECURRENT):", "sliding layers summed"),
    ("kvcalc/core/formulas.py", "rows.append((t.name, t.shape, dtype.name, t.elements * dtype.bits // 8))", "rows.append((t.name, t.shape, dtype.name, t.elements * 2))", "state dtype width"),
    ("kvcalc/core/formulas.py", "v_data, v_scale = vtype.vector_bytes(shape.v_dim)", "v_data, v_scale = dtype.vector_bytes(shape.v_dim)", "V's own type"),
    ("kvcalc/engines/exact.py", "            return min(seq_len, window)\n", "            return seq_len\n", "exact: sliding window cap"),
    ("kvcalc/engines/exact.py", 'return Shape("mla", 1, model.mla.latent_dim, 0, 0)', 'return Shape("mla", 1, model.mla.kv_lora_rank, 0, 0)', "exact: MLA latent dims"),
    ("kvcalc/engines/exact.py", 'StateTensor("conv", (s.conv_channels, s.d_conv - 1), None)', 'StateTensor("conv", (s.conv_channels, s.d_conv), None)', "exact: conv window"),
    ("kvcalc/engines/exact.py", 'StateTensor("ssm", (s.d_inner, s.d_state), "fp32")', 'StateTensor("ssm", (s.d_inner, s.d_state), None)', "exact: SSM state in fp32"),
    ("kvcalc/engines/transformers.py", "return min(seq_len, window - 1)", "return min(seq_len, window)", "hf: window - 1"),
    ("kvcalc/engines/transformers.py", "        if kind in (SLIDING, CHUNKED):  # the view sits on the whole prefill until the next step\n            return seq_len", "        if kind in (SLIDING, CHUNKED):  # the view sits on the whole prefill until the next step\n            return min(seq_len, window)", "hf: prefill peak"),
    ("kvcalc/engines/transformers.py", "return model.family == \"falcon\" and 1 < model.n_kv_heads < model.n_heads", "return False", "hf: Falcon expansion"),
    ("kvcalc/engines/transformers.py", 'return Shape("mla", 1, mla.kv_lora_rank, 1, mla.qk_rope_head_dim)', 'return Shape("mla", model.n_heads, mla.kv_lora_rank, 1, mla.qk_rope_head_dim)', "hf: MLA latent"),
    ("kvcalc/engines/transformers.py", 'StateTensor("conv", (s.conv_channels, s.d_conv), None)', 'StateTensor("conv", (s.conv_channels, s.d_conv - 1), None)', "hf: conv window"),
    ("kvcalc/engines/vllm.py", "return cdiv(min(window - 1 + self.in_flight_tokens, max_len), self.block_size) + 1", "return cdiv(min(window + self.in_flight_tokens, max_len), self.block_size) + 1", "vllm: window - 1"),
    ("kvcalc/engines/vllm.py", "return cdiv(min(window - 1 + self.in_flight_tokens, max_len), self.block_size) + 1", "return cdiv(min(window - 1 + self.in_flight_tokens, max_len), self.block_size)", "vllm: + 1 block"),
    ("kvcalc/engines/vllm.py", "return cdiv(min(window - 1 + self.in_flight_tokens, max_len), self.block_size) + 1", "return cdiv(min(window - 1, max_len), self.block_size) + 1", "vllm: tokens in flight"),
    ("kvcalc/engines/vllm.py", "return self.blocks_per_request + self.null_block <= self.num_blocks", "return self.blocks_per_request <= self.num_blocks", "vllm: null block"),
    ("kvcalc/engines/vllm.py", "if max(sizes) < min(sizes) * engine.grouping_ratio:", "if max(sizes) < min(sizes) * 1:", "vllm: group size heuristic"),
    ("kvcalc/engines/vllm.py", 'return self.fp32_dtype if model.dtype == "fp32" else model.dtype', "return model.dtype", "vllm: fp32 served in bf16"),
    ("kvcalc/engines/vllm.py", "DEFAULT_CONCURRENT_BATCHES = 2", "DEFAULT_CONCURRENT_BATCHES = 1", "vllm: async scheduling"),
    ("kvcalc/engines/vllm.py", "k_heads = shape.k_heads if latent else max(1, shape.k_heads // tp)", "k_heads = shape.k_heads if latent else shape.k_heads // tp or 2", "vllm: TP replication"),
    ("kvcalc/engines/vllm.py", "            layers = len(range(i, n, k))", "            layers = group_size", "vllm: layers[i::k] groups"),
    ("kvcalc/engines/llamacpp.py", "CELL_PAD = 256", "CELL_PAD = 128", "llama.cpp: cell padding"),
    ("kvcalc/engines/llamacpp.py", "want = window * seqs + self.n_ubatch", "want = window * seqs", "llama.cpp: SWA + n_ubatch"),
    ("kvcalc/engines/llamacpp.py", "want = window * seqs + self.n_ubatch", "want = window + self.n_ubatch", "llama.cpp: SWA x slots when unified"),
    ("kvcalc/engines/llamacpp.py", "per = pad(n_ctx // streams)", "per = n_ctx // streams", "llama.cpp: per-stream padding"),
    ("kvcalc/engines/llamacpp.py", 'SWA_FAMILIES = ("gemma2", "gemma3_text", "gpt_oss",', 'SWA_FAMILIES = ("gemma2", "gpt_oss",', "llama.cpp: gemma3 SWA"),
    ("kvcalc/engines/llamacpp.py", "slots = max(1, self.n_parallel)  # one state a sequence slot", "slots = 1", "llama.cpp: state per slot"),
    ("kvcalc/engines/exact.py", 'return Shape("mla", 1, model.mla.latent_dim, 0, 0)', 'return Shape("mla", 1, model.mla.latent_dim, 1, model.mla.kv_lora_rank)', "exact and llama.cpp: MLA latent without V"),
    ("kvcalc/dtypes.py", 'KVDType("fp8_e4m3", 8,', 'KVDType("fp8_e4m3", 16,', "dtype: fp8_e4m3 bits"),
    ("kvcalc/dtypes.py", 'KVDType("q8_0", 8, scale_bytes=2, group_size=32', 'KVDType("q8_0", 8, scale_bytes=0, group_size=32', "dtype: q8_0 scales"),
    ("kvcalc/dtypes.py", '"int4", 4, scale_bytes=4, group_size=64,', '"int4", 4, scale_bytes=4, group_size=32,', "dtype: int4 group"),
    ("kvcalc/dtypes.py", '"nvfp4", 4, scale_bytes=1, group_size=16,', '"nvfp4", 4, scale_bytes=2, group_size=16,', "dtype: nvfp4 scale"),
    ("kvcalc/dtypes.py", 'KVDType("q5_1", 5, scale_bytes=4, group_size=32', 'KVDType("q5_1", 5, scale_bytes=2, group_size=32', "dtype: q5_1 scale and min"),
    ("kvcalc/planning/capacity.py", "    return max(1, n_kv_heads // tp)", "    return n_kv_heads // tp", "capacity: KV head replication"),
    ("kvcalc/planning/capacity.py", "n += params.final_norm + (params.head or (params.embedding if setup.pp > 1 else 0))", "n += params.final_norm + params.head", "capacity: tied head on the last stage"),
    ("kvcalc/planning/capacity.py", "return math.floor(self.gpu.memory_bytes * self.gpu_memory_utilization)", "return self.gpu.memory_bytes", "capacity: utilization"),
    ("kvcalc/planning/capacity.py", "        size = base + (i < extra)", "        size = base + (i >= extra)", "capacity: stage sizes"),
    ("kvcalc/planning/capacity.py", "    return [stage_cache(model, s, setup, seq_len, 1, n_kv_heads).cache_bytes for s in w.stages]", "    return [stage_cache(model, s, setup, seq_len, 1, n_kv_heads).total_bytes for s in w.stages]", "capacity: state per sequence"),
    ("kvcalc/models/hf.py", 'return "SF", r.int("sliding_window")', 'return "FS", r.int("sliding_window")', "hf mapper: gemma-2 pattern"),
    ("kvcalc/models/hf.py", 'return ("S" * (period - 1) + "F")[:n_layers], r.int("sliding_window")', 'return ("S" * period + "F")[:n_layers], r.int("sliding_window")', "hf mapper: gemma-3 pattern"),
    ("kvcalc/models/hf.py", 'NEMOTRON_LETTERS = {"M": "R", "*": "F", "-": "N", "E": "N"}', 'NEMOTRON_LETTERS = {"M": "N", "*": "F", "-": "N", "E": "N"}', "hf mapper: Nemotron Mamba layers"),
    ("kvcalc/models/hf.py", 'return {"kind": "mamba", "d_inner": r.int("mamba_expand") * hidden', 'return {"kind": "mamba", "d_inner": hidden', "hf mapper: Jamba d_inner"),
    ("kvcalc/models/hf.py", 'return r.int("num_kv_heads", "n_head_kv", default=n_heads)', "return 1", "hf mapper: Falcon new decoder KV heads"),
    ("kvcalc/models/hf.py", "first = r.int(\"max_window_layers\", default=n_layers)", "first = 0", "hf mapper: Qwen max_window_layers"),
    ("kvcalc/models/gguf.py", "return [n == 0 or i % n < n - 1 for i in range(n_layers)], int(window)", "return [n == 0 or i % n < n for i in range(n_layers)], int(window)", "gguf: SWA pattern"),
    ("kvcalc/models/gguf.py", '"qk_nope_head_dim": k_mla - rope', '"qk_nope_head_dim": k_mla', "gguf: MLA nope dims"),
    ("kvcalc/models/gguf.py", "return [kv[i] == 0 and (m.arch != \"nemotron_h\" or ff[i] == 0) for i in range(n_layers)]", "return [False] * n_layers", "gguf: Mamba layers"),
    ("kvcalc/models/gguf.py", 'return model, sum(int(t.n_bytes) for t in reader.tensors)', 'return model, sum(int(t.n_elements) for t in reader.tensors)', "gguf: weights from the tensor table"),
    ("kvcalc/models/quantization.py", '"mxfp4": {"weight_bits": 4, "group_size": 32, "scale_bits": 8}', '"mxfp4": {"weight_bits": 4, "group_size": 32, "scale_bits": 0}', "quant: mxfp4 scales"),
    ("kvcalc/models/quantization.py", 'block = {"weight_bits": bits, "group_size": group, "scale_bits": 16 + bits if group else 0}', 'block = {"weight_bits": bits, "group_size": group, "scale_bits": 16 if group else 0}', "quant: awq/gptq zero points"),
    ("kvcalc/models/quantization.py", 'if "attn" in n or "attention" in n:', 'if "attention" in n:', "quant: attention left unquantized"),
    ("kvcalc/models/model.py", "groups = n // self.group_size if self.group_size else 0", "groups = 0", "quant: group scales counted"),
    ("kvcalc/planning/capacity.py", "outside = -(-(params.embedding + params.head + params.final_norm) * bits // 8)", "outside = -(-(params.embedding + params.final_norm) * bits // 8)", "weights: LM head counted"),
    ("kvcalc/planning/capacity.py", "if d_batch and d_seq and fits is not False:", "if d_batch and d_seq:", "fit: decode bound only for what fits"),
    ("kvcalc/models/rules.py", "    if n_heads % n_kv_heads:\n", "    if False:\n", "schema: KV heads divide"),
    ("kvcalc/models/hf.py", "max_context = max(max_context, min(int(original * factor), MAX_INT))", "max_context = max_context", "hf: rope scaling context"),
    ("kvcalc/core/formulas.py", 'return f"{f\'GQA-{model.n_kv_heads}\' if kind == \'GQA\' else kind} (published)"', 'return f"{kind} (published)"', "labels: published row names its KV heads"),
    # every architecture (issue #20)
    ("kvcalc/engines/transformers.py", 'return (StateTensor("kv", (s.d_inner, s.d_state), None),)', 'return (StateTensor("kv", (s.d_inner, s.d_state), "fp32"),)', "hf: MiniMax's lightning state in the model dtype"),
    ("kvcalc/engines/transformers.py", 'return (StateTensor("conv", (s.d_inner, s.d_conv), None),)', 'return (StateTensor("conv", (s.d_inner, s.d_conv - 1), None),)', "hf: LFM2's whole conv window"),
    ("kvcalc/models/hf.py", 'return "".join("C" if x else "F" for x in flags)', 'return "".join("F" if x else "C" for x in flags)', "hf mapper: Llama 4's NoPE layers global"),
    ("kvcalc/models/hf.py", 'return "".join("R" if (i + 1) % interval else "F" for i in range(n_layers))', 'return "".join("F" if (i + 1) % interval else "R" for i in range(n_layers))', "hf mapper: Qwen3-Next interval"),
    ("kvcalc/models/hf.py", 'pattern = pattern[:len(pattern) - shared] + "N" * shared', 'pattern = pattern', "hf mapper: Gemma 3n shared KV"),
    ("kvcalc/models/hf.py", '    if f == "falcon_h1":  # every layer runs attention and Mamba-2 side by side\n        return "H" * n_layers', '    if f == "falcon_h1":  # every layer runs attention and Mamba-2 side by side\n        return "R" * n_layers', "hf mapper: Falcon-H1 parallel attention"),
    ("kvcalc/models/hf.py", '"d_inner": v_heads * r.int("linear_value_head_dim")', '"d_inner": r.int("linear_value_head_dim")', "hf mapper: gated DeltaNet value heads"),
    ("kvcalc/models/hf.py", 'head_dim = 2 * hidden // n_heads', 'head_dim = hidden // n_heads', "hf mapper: Zamba2's attention on 2 x hidden"),
    ("kvcalc/engines/vllm_hybrid.py", "return 3 if model.ssm.kind == \"mamba2\" else 2", "return 2", "vllm: Mamba-2's checkpoint block"),
    ("kvcalc/engines/vllm_hybrid.py", "return max(block_size, block_size * cdiv(state_page, block_size * attention_token_bytes))", "return block_size", "vllm: hybrid block grows"),
    ("kvcalc/engines/vllm_hybrid.py", 'ssm_dtype = "fp32" if model.family == "nemotron_h" else None', "ssm_dtype = None", "vllm: Nemotron-H SSM in fp32"),
    ("kvcalc/engines/vllm_hybrid.py", "        groups = tp  # extra_groups_for_head_shards", "        pass  # extra_groups_for_head_shards", "vllm: groups replicated over tp"),
    ("kvcalc/engines/vllm.py", "return cdiv(min(chunk + self.in_flight_tokens, max_len), self.block_size)", "return cdiv(min(chunk, max_len), self.block_size)", "vllm: chunk + tokens in flight"),
    ("kvcalc/engines/llamacpp.py", "LLAMA4_CHUNK = 8192", "LLAMA4_CHUNK = 4096", "llama.cpp: llama4's fixed chunk"),
    ("kvcalc/engines/llamacpp.py", "GEMMA3N_KV_LAYERS = 20", "GEMMA3N_KV_LAYERS = 30", "llama.cpp: gemma3n's 20 cached layers"),
    ("kvcalc/models/gguf.py", 'return {"kind": "short_conv", "d_inner": hidden, "d_conv": int(m.arch_key("shortconv.l_cache"))}', 'return {"kind": "short_conv", "d_inner": hidden, "d_conv": int(m.arch_key("shortconv.l_cache")) + 1}', "gguf: lfm2's conv window"),
    ("kvcalc/models/gguf.py", 'if m.arch in ("jamba", "mamba"):\n        return {"kind": "mamba", **dims}', 'if m.arch in ("jamba",):\n        return {"kind": "mamba", **dims}', "gguf: mamba ignores group_count"),
    ("kvcalc/models/gguf.py", '            letters.append("H")  # attention and Mamba-2 side by side in every layer', '            letters.append("F")', "gguf: falcon-h1 state"),
    # the eras of each release (issue #23)
    ("kvcalc/engines/releases.py", "if self.key(e.since) > at:", "if self.key(e.since) >= at:", "releases: an era starts at its own release"),
    ("kvcalc/engines/vllm.py", 'if self.sliding_reserve == "batched":\n            return self.max_num_batched_tokens', "if False:\n            return self.max_num_batched_tokens", "vllm eras: batched reserve before 0.26"),
    ("kvcalc/engines/vllm.py", "return self.blocks_per_request + self.null_block <= self.num_blocks", "return self.blocks_per_request + 1 <= self.num_blocks", "vllm eras: null block from 0.29"),
    ("kvcalc/engines/vllm.py", 'if self.tokens_rule == "blocks":', "if False:", "vllm eras: tokens rule before 0.20.1"),
    ("kvcalc/engines/vllm.py", "return kinds if self.hybrid or FULL not in kinds else kinds.replace(SLIDING, FULL)", "return kinds", "vllm eras: no hybrid manager before 0.9.1"),
    ("kvcalc/engines/llamacpp.py", 'return 32 if self.flash_attn == "off" else CELL_PAD', "return CELL_PAD", "llama.cpp eras: pad 32 without flash attention"),
    ("kvcalc/engines/llamacpp.py", 'return Shape("mla", 1, mla.latent_dim, 1, mla.kv_lora_rank)', 'return Shape("mla", 1, mla.latent_dim, 0, 0)', "llama.cpp eras: MLA V row before b7832"),
    ("kvcalc/engines/llamacpp.py", "streams = 1 if self.whole_ctx else self.streams()", "streams = self.streams()", "llama.cpp eras: hybrid cells whole before b8025"),
    ("kvcalc/engines/llamacpp.py", "if (self.fa_needs_equal_heads and unequal) or (self.fa_off_mla and not per_head):", "if False:", "llama.cpp eras: flash attention forced off"),
    ("kvcalc/engines/transformers.py", 'if self.mla_cache == "per_head":', "if False:", "hf eras: MLA per head in 4.x"),
    ("kvcalc/models/rules.py", 'if text == "int" and f.default == 0:', 'if text == "int":', "rules: only integers defaulting to 0 may be 0"),
    # SGLang's token pool (issue #22)
    ("kvcalc/engines/sglang.py", 'return self.block_size if self.extra_rows == "page" else 1', "return 1", "sglang: a page of padding rows"),
    ("kvcalc/engines/sglang.py", "cell = n_full * per_layer + ratio * n_swa * per_layer", "cell = (n_full + n_swa) * per_layer", "sglang: SWA pool priced at the ratio"),
    ("kvcalc/engines/sglang.py", "    heads = max(1, model.n_kv_heads // tp)", "    heads = model.n_kv_heads // tp or 2", "sglang: KV heads replicated past tp"),
    ("kvcalc/engines/sglang.py", 'SWA_HYBRIDS = ("gpt_oss",)', 'SWA_HYBRIDS = ("gpt_oss", "gemma3_text", "gemma2")', "sglang: gemma kept in one pool"),
    ("kvcalc/engines/sglang.py", "reserved = 512 + max(chunked, 2048) * 1.5 + max_bs * 2", "reserved = 512 + max(chunked, 2048) * 1.5", "sglang: CUDA graph reserve"),
    ("kvcalc/engines/sglang.py", "4096) + self.slots_plus_one", "4096) + 1", "sglang eras: request slots + 1 before 0.4.7"),
    ("kvcalc/engines/sglang.py", "        return n // page * page", "        return n", "sglang: pool floored to pages"),
    ("kvcalc/engines/sglang.py", 'return "bf16" if model.family.startswith("gemma") else "fp16"', 'return "fp16"', "sglang: fp32 Gemma served in bf16"),
    ("kvcalc/engines/sglang.py", "    if engine.swa_labels and part.pool:", "    if part.pool:", "sglang eras: labelled SWA lines from 0.5.17"),
    # check-log (issue #19)
    ("kvcalc/logs/vllm.py", "return sum(page for _, _, page in specs), eng.block_size", "return sum(page for _, _, page in specs) // 2, eng.block_size", "check-log: V0 block of every layer's K and V"),
    ("kvcalc/logs/vllm.py", "        return [smallest] + sorted({b for b in self.budgets if b != smallest})", "        return [smallest]", "check-log: each vLLM worker's own budget"),
    ("kvcalc/logs/llamacpp.py", '"V": mib(v), "cells": cells,', '"V": mib(k), "cells": cells,', "check-log: llama.cpp V figure"),
    ("kvcalc/logs/llamacpp.py", "        whole = sum(counts) == layers", "        whole = True", "check-log: devices' layers add up"),
    ("kvcalc/logs/reader.py", '    if "\\x1b" in text:\n        text = _ANSI.sub("", text)', "    pass", "check-log: ANSI codes removed"),
    ("kvcalc/logs/reader.py", "        text = _PREFIX.sub(\"\", text, count=1)", "        pass", "check-log: worker prefixes removed"),
    ("kvcalc/logs/record.py", "    half = 0.5 * 10 ** -decimals", "    half = 0.05 * 10 ** -decimals", "check-log: printed rounding"),
    ("kvcalc/models/hf.py", "    if family not in MAPPED:", "    if False:", "unmapped: an unknown model_type refused"),
    ("kvcalc/models/hf.py", "        if extra:\n            unmapped =", "        if False:\n            unmapped =", "unmapped: a cache key not read"),
    ("kvcalc/models/gguf.py", "return [n == 0 or i % n < n - 1 for i in range(n_layers)], int(window)", "return [n > 0 and i % n < n - 1 for i in range(n_layers)], int(window)", "gguf: pattern 0 slides every layer"),
    ("kvcalc/planning/vllm_budget.py", "return (38 if rows >= 128 else 50) * n", "return (34 if rows >= 128 else 50) * n", "vllm budget: sort bytes per logit"),
    ("kvcalc/planning/vllm_budget.py", "return 14 * n + 4 * min(rows, sms) * vocab", "return 14 * n", "vllm budget: Triton sampler buffer"),
    ("kvcalc/planning/vllm_budget.py", "held = (prof.max_num_batched_tokens + 2 * rows) * model.hidden_size * dtype_bytes", "held = 0", "vllm budget: hidden states held"),
    ("kvcalc/planning/vllm_budget.py", "peak = max(fwd, smp) + KEPT", "peak = max(fwd, smp)", "vllm budget: kept allocations"),
    ("kvcalc/planning/vllm_budget.py", "    weights = weights_per_gpu + buffers", "    weights = weights_per_gpu", "vllm budget: rotary cache"),
    ("kvcalc/planning/vllm_budget.py", "non_torch = int(engine.non_torch_gib[tp > 1] * GIB)", "non_torch = int(engine.non_torch_gib[0] * GIB)", "vllm budget: non-torch under TP"),
    ("kvcalc/planning/vllm_budget.py", "requested = math.ceil(cuda_total * util)", "requested = math.ceil(gpu.memory_bytes * util)", "vllm budget: CUDA's total"),
    ("kvcalc/engines/vllm.py", "if gib >= 70 and not (self.large_gpu != \"70\" and \"a100\" in gpu_name.lower()):", "if gib >= 70:", "vllm budget: A100 small defaults"),
    ("kvcalc/engines/vllm.py", '{"non_torch_gib": (0.25, 2.07)}', '{"non_torch_gib": (0.13, 0.55)}', "vllm budget: 0.19 non-torch"),
]


def run_suite(timeout: int) -> bool:
    """True when the suite fails (the mutation is caught)."""
    # the hostile-input and output-file suites test handling, not sizing: left out for speed
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "tests",
           "--ignore=tests/test_hostile.py", "--ignore=tests/test_outfile.py", "--ignore=tests/test_hostile_files.py"]
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return True
    return done.returncode != 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()
    todo = [m for m in MUTATIONS if args.only in m[0] or args.only in m[3]]
    survivors = []
    for path, old, new, what in todo:
        file = ROOT / path
        text = file.read_text()
        if text.count(old) != 1:
            print(f"  STALE     {path}: {what} (its text is not found exactly once)")
            survivors.append(what)
            continue
        start = time.perf_counter()
        try:
            file.write_text(text.replace(old, new))
            caught = run_suite(args.timeout)
        finally:
            file.write_text(text)
        print(f"  {'caught  ' if caught else 'SURVIVED'}  {path}: {what} ({time.perf_counter() - start:.0f} s)", flush=True)
        if not caught:
            survivors.append(what)
    print(f"{len(todo)} mutations, {len(todo) - len(survivors)} caught, {len(survivors)} survived"
          + (f": {', '.join(survivors)}" if survivors else ""))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
