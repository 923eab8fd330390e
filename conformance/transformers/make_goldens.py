"""Record what one transformers release allocates for every conformance case, as goldens that the
main suite can check kvcalc against without transformers installed.

For every case of cases.py (imported as it is) this builds the tiny random-weight model, runs the
same PREFILL-token prefill and one decode step for BATCH sequences as test_transformers.py, and
counts every tensor the returned cache holds: K, V, recurrent state, the storage behind them, and
any other tensor the cache keeps (reported apart, never added to K/V/state/storage).

Run it in a venv that holds the transformers release to record (torch first, pinned):

    python3 -m venv .venv-tf457
    .venv-tf457/bin/pip install torch==2.13.0
    .venv-tf457/bin/pip install 'transformers==4.57.*' pytest -e .
    .venv-tf457/bin/python conformance/transformers/make_goldens.py \\
        --out conformance/transformers/goldens-4.57.json

Without --out it writes conformance/transformers/goldens-<transformers version>.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import shlex
import sys
import time
import traceback
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import transformers  # noqa: E402

from conformance.transformers import cases as cases_mod  # noqa: E402
from conformance.transformers.cases import BATCH, FIXTURES, PREFILL, WINDOW, _flatten, cases  # noqa: E402

try:  # the suite's own counter (it counts cache.layers); cross-checked against the walk below
    from conformance.transformers.test_transformers import count as suite_count  # noqa: E402
    SUITE_COUNT_ERROR: Optional[str] = None
except Exception as exc:  # e.g. kvcalc renamed what the suite imports from it
    suite_count = None
    SUITE_COUNT_ERROR = f"{type(exc).__name__}: {exc}"

from kvcalc.models.hf import from_hf_dict  # noqa: E402  the dtype rule of test_transformers.py

TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}

# Attribute names of the tensors a cache keeps, by kind, over the cache classes of transformers
# 4.57 (DynamicLayer / DynamicSlidingWindowLayer .keys/.values; HybridMambaAttentionDynamicCache
# .key_cache/.value_cache/.conv_states/.ssm_states lists) and 5.x (LinearAttentionLayer
# .conv_states/.recurrent_states dicts).
KINDS = {"keys": "k", "key_cache": "k", "values": "v", "value_cache": "v",
         "conv_states": "state", "ssm_states": "state", "recurrent_states": "state"}

COUNTING = (
    "Walks the returned cache object: its attributes, recursively through lists, tuples, dicts and "
    "transformers-defined objects (cache layers), skipping configs and modules, and takes every "
    "torch.Tensor found. A tensor is K if it sits in an attribute named keys/key_cache, V if "
    "values/value_cache, state if conv_states/ssm_states/recurrent_states, else 'other'. k and v: "
    "numel*element_size of the non-empty K/V tensors; state: numel*element_size of every state "
    "tensor; storage: untyped_storage().nbytes() of each distinct storage (by data_ptr) behind "
    "those K/V/state tensors, each counted once (a sliding layer's kept view counts the whole "
    "concatenation it sits on). This is test_transformers.count's rule, extended to caches without "
    ".layers (4.57's HybridMambaAttentionDynamicCache). 'other' tensors (e.g. 5.x's "
    "DynamicSlidingWindowLayer._sliding_window_tensor) are listed in each row's 'other' and "
    "'layout', and are in none of k/v/state/storage. Where the cache has .layers, "
    "test_transformers.count (imported) is run too and its result stored as 'suite_count' "
    "when it differs from the walk, or its error if it fails."
)


def _kind(attr: str) -> str:
    return KINDS.get(attr, "other")


def walk(obj: Any, owner: str = "", attr: str = "", path: str = "", seen: Optional[set] = None
         ) -> Iterator[tuple[str, str, str, torch.Tensor]]:
    """(path, owner class, attribute, tensor) for every tensor reachable from a cache object."""
    if seen is None:
        seen = set()
    if isinstance(obj, torch.Tensor):
        yield path, owner, attr, obj
        return
    if id(obj) in seen:
        return
    if isinstance(obj, (list, tuple)):
        seen.add(id(obj))
        for i, x in enumerate(obj):
            yield from walk(x, owner, attr, f"{path}[{i}]", seen)
    elif isinstance(obj, dict):
        seen.add(id(obj))
        for k, x in obj.items():
            yield from walk(x, owner, attr, f"{path}[{k!r}]", seen)
    elif (hasattr(obj, "__dict__") and type(obj).__module__.startswith("transformers")
          and not isinstance(obj, (transformers.PretrainedConfig, torch.nn.Module))):
        seen.add(id(obj))
        for name, x in vars(obj).items():
            yield from walk(x, type(obj).__name__, name, f"{path}.{name}" if path else name, seen)


def count_walk(cache: Any) -> tuple[dict[str, int], dict[str, int], list[dict[str, Any]]]:
    """(k/v/state/storage bytes, other tensors' bytes by owner.attr, layout summary)."""
    out = {"k": 0, "v": 0, "state": 0, "storage": 0}
    other: dict[str, int] = OrderedDict()
    layout: dict[tuple, dict[str, Any]] = OrderedDict()
    seen_storage: set[int] = set()
    for _path, owner, attr, t in walk(cache):
        kind = _kind(attr)
        nbytes = t.numel() * t.element_size()
        storage = t.untyped_storage()
        key = (owner, attr, kind, tuple(t.shape), str(t.dtype).replace("torch.", ""), storage.nbytes())
        entry = layout.setdefault(key, {"what": f"{owner}.{attr}", "kind": kind, "shape": list(t.shape),
                                        "dtype": key[4], "bytes": nbytes, "storage_bytes": storage.nbytes(),
                                        "n": 0})
        entry["n"] += 1
        if kind == "other":
            other[f"{owner}.{attr}"] = other.get(f"{owner}.{attr}", 0) + nbytes
            continue
        if kind in ("k", "v") and not t.numel():
            continue
        out[kind] += nbytes
        if storage.data_ptr() not in seen_storage:
            seen_storage.add(storage.data_ptr())
            out["storage"] += storage.nbytes()
    return out, dict(other), list(layout.values())


def measure(cache: Any) -> dict[str, Any]:
    counts, other, layout = count_walk(cache)
    res: dict[str, Any] = {"cache": type(cache).__name__, **counts, "other": other, "layout": layout}
    if hasattr(cache, "layers"):
        res["layer_classes"] = sorted({type(layer).__name__ for layer in cache.layers})
        if suite_count is not None:
            try:
                suite = suite_count(cache)
                if suite != counts:
                    res["suite_count"] = suite
            except Exception as exc:
                res["suite_count"] = f"{type(exc).__name__}: {exc}"
    return res


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage().strip()[:400]
        if msg not in self.messages:
            self.messages.append(msg)


def overrides(case: cases_mod.Case) -> dict[str, Any]:
    """What shrink() changed in the (flattened) published config: key -> [published, case]."""
    published = _flatten(json.loads((FIXTURES / f"{case.name}.json").read_text()))
    diff: dict[str, Any] = {}
    for key in sorted(set(published) | set(case.config)):
        before, after = published.get(key, "<absent>"), case.config.get(key, "<absent>")
        if before != after:
            diff[key] = [before, after]
    return diff


def _error(stage: str, exc: BaseException) -> dict[str, str]:
    tb = traceback.extract_tb(exc.__traceback__)
    where = next((f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(tb)
                  if "transformers" in f.filename or "torch" in f.filename), None)
    return {"stage": stage, "type": type(exc).__name__, "message": str(exc).strip()[:600], "where": where or ""}


# A refusal that transformers itself says how to get past, and the override that does it: the
# case stays refused, and the row records the model run with that one override as its "variant".
# (4.x Jamba's published config asks for the CUDA Mamba kernels; the slow path fills the same
# HybridMambaAttentionDynamicCache tensors that generate() allocates either way.)
VARIANTS = (("Fast Mamba kernels are not available", {"use_mamba_kernels": False}),)


def run_case(case: cases_mod.Case) -> dict[str, Any]:
    row = _run(case)
    if row["status"] == "refused":
        for needle, override in VARIANTS:
            if needle in row["error"]["message"]:
                alt = _run(cases_mod.Case(case.name, {**case.config, **override}))
                row["variant"] = {"override": override,
                                  "why": f"the case is refused ({needle}); the same run with this override",
                                  **{k: v for k, v in alt.items()
                                     if k not in ("id", "fixture", "model_type", "overrides", "config")}}
                break
    return row


def _run(case: cases_mod.Case) -> dict[str, Any]:
    row: dict[str, Any] = {"id": case.name, "fixture": f"tests/fixtures/hf/{case.name}.json",
                           "model_type": case.config.get("model_type"), "overrides": overrides(case),
                           "config": case.config}
    handler = _Warnings()
    logging.getLogger("transformers").addHandler(handler)
    t0 = time.perf_counter()
    stage = "kvcalc dtype"
    try:
        dtype = from_hf_dict(case.config, case.name).dtype  # as test_transformers.py picks it
        row.update(dtype=dtype, batch=BATCH, prefill=PREFILL)
        torch.manual_seed(0)
        stage = "config"
        config = transformers.AutoConfig.for_model(**case.config)
        stage = "build"
        net = transformers.AutoModelForCausalLM.from_config(config, dtype=TORCH_DTYPES[dtype]).eval()
        row["model_class"] = type(net).__name__
        ids = torch.randint(0, 256, (BATCH, PREFILL + 1))
        with torch.no_grad():
            stage = "prefill"
            out = net(input_ids=ids[:, :PREFILL], use_cache=True)
            row["cache_source"] = "forward"
            if out.past_key_values is None:
                # The model's forward makes no cache of its own (4.x Jamba): take the one generate()
                # would hand it, from prepare_inputs_for_generation, and run the same prefill again.
                stage = "prefill (cache from prepare_inputs_for_generation)"
                inputs = net.prepare_inputs_for_generation(ids[:, :PREFILL], past_key_values=None, use_cache=True,
                                                           cache_position=torch.arange(PREFILL))
                cache = inputs.get("past_key_values")
                if cache is None:
                    raise RuntimeError("forward returned no cache and prepare_inputs_for_generation made none")
                row["cache_source"] = (f"prepare_inputs_for_generation ({type(cache).__name__}): forward with "
                                       f"use_cache=True and no cache passed returned past_key_values=None")
                out = net(input_ids=ids[:, :PREFILL], past_key_values=cache, use_cache=True)
            row["after_prefill"] = measure(out.past_key_values)
            stage = "decode"
            out = net(input_ids=ids[:, PREFILL:], past_key_values=out.past_key_values, use_cache=True)
            row["after_decode"] = measure(out.past_key_values)
        row["status"] = "counted"
    except Exception as exc:
        row["status"] = "refused"
        row["error"] = _error(stage, exc)
    finally:
        logging.getLogger("transformers").removeHandler(handler)
    if handler.messages:
        row["warnings"] = handler.messages
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None,
                    help="output file (default conformance/transformers/goldens-<transformers version>.json)")
    ap.add_argument("-k", dest="only", default=None, help="only the cases whose id contains this")
    args = ap.parse_args(argv)
    out = args.out or HERE / f"goldens-{transformers.__version__}.json"
    selected = [c for c in cases() if not args.only or args.only in c.name]
    t0 = time.perf_counter()
    rows = []
    for case in selected:
        row = run_case(case)
        rows.append(row)
        state = (f"k={row['after_decode']['k']} v={row['after_decode']['v']} state={row['after_decode']['state']}"
                 if row["status"] == "counted" else f"{row['error']['type']}: {row['error']['message'][:100]}")
        if "variant" in row:
            alt = row["variant"]
            state += (f" | variant {alt['override']}: " + (f"k={alt['after_decode']['k']} v={alt['after_decode']['v']} "
                      f"state={alt['after_decode']['state']}" if alt["status"] == "counted" else alt["error"]["type"]))
        print(f"{row['seconds']:7.2f}s {row['status']:8s} {case.name}: {state}", file=sys.stderr, flush=True)
    header = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name] + sys.argv),
        "venv": sys.prefix,
        "cases": {"module": "conformance/transformers/cases.py", "WINDOW": WINDOW, "PREFILL": PREFILL,
                  "BATCH": BATCH},
        "run": ("torch.manual_seed(0); net = AutoModelForCausalLM.from_config(AutoConfig.for_model(**case.config), "
                "dtype=<dtype>).eval(); ids = randint(0, 256, (BATCH, PREFILL + 1)); under no_grad: "
                "net(ids[:, :PREFILL], use_cache=True) -> after_prefill; net(ids[:, PREFILL:], past_key_values=<that "
                "cache>, use_cache=True) -> after_decode (as test_transformers.py)"),
        "dtype": "kvcalc.models.hf.from_hf_dict(case.config).dtype, as test_transformers.py picks it",
        "counting": COUNTING,
        "suite_count": "imported from test_transformers.py" if suite_count else f"not importable: {SUITE_COUNT_ERROR}",
        "seconds": round(time.perf_counter() - t0, 1),
        "rows": {"counted": sum(r["status"] == "counted" for r in rows),
                 "refused": sum(r["status"] == "refused" for r in rows),
                 "refused, variant counted": [r["id"] for r in rows
                                              if r.get("variant", {}).get("status") == "counted"]},
        "variants": ("a refused row whose error transformers itself says how to get past is run again with that "
                     "one config override, recorded as the row's 'variant' (status, counts, error); the row's own "
                     "status stays 'refused'"),
    }
    out.write_text(json.dumps({"header": header, "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}: {header['rows']} in {header['seconds']}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
