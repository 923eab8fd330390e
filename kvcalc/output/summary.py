"""Model-level reports: the list of shipped models, one model's config, config.json import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from ..models.model import LAYER_KINDS, Model
from ..core.formulas import attention_kind, kv_cache
from .report import Column, Report, check_choice

LIST_COLUMNS = [
    Column("model", "Model"),
    Column("n_layers", "Layers", "int"),
    Column("n_heads", "Heads", "int"),
    Column("n_kv_heads", "KV", "int"),
    Column("head_dim", "dim", "int", optional=True),
    Column("q_heads_per_kv_head", "Q / KV", "int", optional=True),
    Column("attention", "Attention"),
    Column("kv_dtype", "dtype", optional=True),
    Column("bytes_per_token", "Bytes / token", "int"),
]


def layout_summary(model: Model) -> str:
    """'GQA', 'MLA', 'MQA', 'MHA', with windows and attention-free layers: 'GQA, 29 sliding (1024) + 5 full'."""
    kind = attention_kind(model)
    kinds = model.layer_kinds
    if set(kinds) <= {"F", "M"}:
        return kind
    parts = []
    for letter in ("S", "F", "M", "R", "N"):
        n = kinds.count(letter)
        if n:
            label = LAYER_KINDS[letter] + (f" ({model.sliding_window})" if letter == "S" else "")
            parts.append(f"{n} {label}")
    return f"{kind}, " + " + ".join(parts)


def models_report(models: Iterable[Model], kv_dtype: str = "auto") -> Report:
    rows = []
    for m in models:
        c = kv_cache(m, 1, kv_dtype=kv_dtype)
        rows.append(
            {
                "model": m.name,
                "family": m.family,
                "n_layers": m.n_layers,
                "n_heads": m.n_heads,
                "n_kv_heads": m.n_kv_heads,
                "head_dim": m.head_dim,
                "q_heads_per_kv_head": m.group_size,
                "attention": layout_summary(m),
                "kv_dtype": c.kv_dtype,
                "bytes_per_token": c.bytes_per_token,
                "hf_id": m.hf_id,
            }
        )
    shown = [dict(r, n_kv_heads="latent" if r["attention"].startswith("MLA") else r["n_kv_heads"]) for r in rows]
    return Report("Shipped models (bytes per token: all layers, K + V)", LIST_COLUMNS, shown, {"models": rows})


def to_yaml(model: Model, header: str = "") -> str:
    """The config as YAML of kvcalc's schema, fields in schema order, empty ones left out."""
    import yaml

    body = yaml.safe_dump(model.to_dict(), sort_keys=False, default_flow_style=False, width=100, allow_unicode=True)
    return header + body


def _flat(doc: dict, prefix: str = "") -> list[tuple[str, object]]:
    """(field, value) pairs of a nested config, blocks as mla.kv_lora_rank."""
    out: list[tuple[str, object]] = []
    for k, v in doc.items():
        if isinstance(v, dict):
            out += _flat(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", ",".join(map(str, v)) if isinstance(v, list) else v))
    return out


def show_text(model: Model, fmt: str = "yaml") -> str:
    fmt = check_choice(fmt, ("yaml", "json", "csv", "markdown"), "--format")
    doc = model.to_dict()
    doc["layer_kinds"] = model.layer_kinds
    if fmt == "json":
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "csv":  # one field a row
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerows([("field", "value"), *_flat(doc)])
        return buf.getvalue()
    if fmt == "markdown":
        return "| field | value |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in _flat(doc))
    header = f"# {model.name}: {layout_summary(model)}; layer kinds: {model.layer_kinds}\n"
    return to_yaml(model, header)


def import_yaml(path: Path, name: str | None = None) -> str:
    """A YAML config of kvcalc's schema from a Hugging Face config.json, a GGUF file, or a
    Hugging Face repo id (from the local HF cache or the Hub, as MODEL is)."""
    from ..models.hub import looks_like_repo

    if not Path(path).exists() and looks_like_repo(str(path)):
        from ..models.hub import load_repo

        model = load_repo(str(path))
        origin = model.source.url if model.source else str(path)
    elif Path(path).suffix == ".gguf":
        from ..models.gguf import load_gguf

        model, origin = load_gguf(path), path.name
    else:
        from ..models.hf import load_hf_config

        model, origin = load_hf_config(path), path.name
    if name:
        from ..models.config import validate

        model = validate({**model.to_dict(), "name": name}, str(path))
    return to_yaml(model, f"# Imported by kvcalc from {origin}; check the source and add aliases before shipping.\n")


ENGINE_COLUMNS = [
    Column("runtime", "Runtime"),
    Column("since", "From"),
    Column("changes", "Rules"),
    Column("source", "Source"),
]


def engines_report() -> Report:
    """Every runtime's releases and eras (kvcalc.engines.releases), one row an era, with sources."""
    from ..engines import runtimes

    rows, docs, notes = [], [], []
    for rt in runtimes():
        eras = [{"since": e.since, "changes": e.changes, "source": e.source, "rules": dict(e.rules)} for e in rt.eras]
        docs.append({"engine": rt.name, "runtime": rt.title, "versions": rt.kind, "oldest": rt.oldest,
                     "newest": rt.newest, "checked": list(rt.checked), "eras": eras})
        rows += [{"runtime": rt.name, **{k: e[k] for k in ("since", "changes", "source")}} for e in eras]
        notes.append(f"{rt.name}: {rt.oldest} to {rt.newest}; checked against {', '.join(rt.checked)} "
                     f"({'build numbers, as llama-server --version prints them' if rt.kind == 'build' else 'releases'})")
    notes.append("--engine NAME@VERSION takes the rules of the newest era at or below VERSION; no version: the newest "
                 "checked; newer than that: its rules and a warning; older than the oldest: refused")
    return Report("Runtime engines: the rules of each release", ENGINE_COLUMNS, rows,
                  {"exact": "what the model needs (no releases)", "runtimes": docs}, notes)


def engines_markdown() -> str:
    """The eras of every runtime as markdown tables (docs/models-and-engines.md keeps a copy, tested)."""
    from ..engines import runtimes

    out = []
    for rt in runtimes():
        if rt.name == "llama-cpp-python":  # a map of releases to builds, not eras of its own
            builds = ", ".join(f"{e.since} = b{e.rules['build']}" for e in rt.eras)
            out.append(f"**llama-cpp-python** (`--engine llama-cpp-python@VERSION`: the llama.cpp build it vendors, "
                       f"with the C API's defaults; checked against {', '.join(rt.checked)}): {builds}.\n")
            continue
        out.append(f"**{rt.title}** (`--engine {rt.name}@VERSION`; checked against {', '.join(rt.checked)}):\n")
        out.append("| from | what changed | source |\n|---|---|---|")
        out += [f"| {e.since} | {e.changes} | {e.source} |" for e in rt.eras]
        out.append("")
    return "\n".join(out)
