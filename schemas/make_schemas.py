"""Write schemas/<command>.schema.json: the JSON Schema of each command's `--format json`,
inferred from the outputs of SAMPLES (every shipped model, every engine and mode) and then kept
as the contract: tests/test_schemas.py validates every sample against the committed files, so a
field renamed, retyped or dropped fails there; a field added must be added here on purpose
(objects allow no other properties).

    python schemas/make_schemas.py     # after adding a field, then review the diff
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HF = HERE.parent / "tests" / "fixtures" / "hf"
LOGS = HERE.parent / "tests" / "fixtures" / "logs"
MODELS = ["llama2-70b", "llama3-8b", "mistral-7b", "gemma-2-9b", "gemma-3-12b", "deepseek-v3", "jamba-v0.1",
          "nemotron-h-56b", "falcon-40b", "gpt-oss-20b", "qwen3-30b-a3b"]


def samples() -> dict[str, list[list[str]]]:
    """command -> argv lists whose JSON output it describes."""
    calc = [[m, "--seq", "4k", "-f", "json", "--engine", e] for m in MODELS for e in ("exact", "hf", "vllm")]
    calc += [[m, "--seq", "4k", "-f", "json", "--engine", "llama.cpp"] for m in ("llama3-8b", "gemma-2-9b", "deepseek-v3")]
    calc += [[str(HF / "Qwen3-32B.json"), "--seq", "32k", "-f", "json"]]
    calc += [[m, "--seq", "4k", "-f", "json", "--engine", "sglang"] for m in ("llama3-8b", "deepseek-v3", "gemma-2-9b")]
    calc += [[m, "--seq", "4k", "-f", "json", "--engine", e] for m, e in (
        ("gemma-2-9b", "vllm@0.10.1.1"), ("deepseek-v3", "hf@4.57.6"), ("deepseek-v3", "llama.cpp@b5331"),
        ("gemma-3-12b", "llama-cpp-python@0.3.16"), ("jamba-v0.1", "llama.cpp@b6170"))]
    return {
        "calc": calc,
        "measure": [["llama3-8b", "--seq", "64", "--measure", "--device", "cpu", "-f", "json"],
                    ["jamba-v0.1", "--seq", "64", "--measure", "--device", "cpu", "--engine", "hf", "-f", "json"],
                    ["measure", "--all", "--seq", "16", "-f", "json"]],
        "list": [["list", "-f", "json"], ["list", "-f", "json", "--kv-dtype", "fp8"]],
        "show": [["show", m, "-f", "json"] for m in MODELS],
        "compare": [["compare", *MODELS[:4], "--seq", "8k", "-f", "json"],
                    ["compare", "deepseek-v3", "--kv-heads", "all", "--seq", "4k", "-f", "json"],
                    ["compare", "llama2-70b", "--kv-heads", "64,8,1", "--seq", "4k", "--gpu", "h100-80gb", "--tp", "2", "-f", "json"],
                    ["compare", "llama3-8b", "qwen2-7b", "--seq", "4k", "--gpu", "a100-40gb", "-f", "json"]],
        "table": [["table", "llama3-8b", "deepseek-v3", "--seq", "1k,4k", "--batch", "1,8", "--tp", "1,2", "-f", "json"]],
        "fit": [["fit", "llama3.1-8b", "--gpu", "h100-80gb", "--engine", "sglang", "--seq", "16k", "-f", "json"]]
               + [["fit", m, "--gpu", "h100-80gb", "--gpus", "8", "--seq", "8k", "--batch", "16", "-f", "json",
                 *(["--weights-bytes", "100GB"] if m in ("jamba-v0.1", "nemotron-h-56b") else [])] for m in MODELS]
               + [["fit", "llama3-8b", "--gpu", "h100-80gb", "--batch", "4", "-f", "json", "--engine", "hf"],
                  ["fit", "llama3-8b", "--gpu", "a10g", "--seq", "1M", "-f", "json"], ["fit", str(HF / "gpt-oss-120b.json"), "--gpu", "h100-80gb", "--seq", "8k", "--batch", "4", "-f", "json"],
                  ["fit", "llama3.1-8b", "--gpu", "h100-80gb", "--engine", "vllm@0.11", "--gpu-memory-utilization", "0.9",
                   "--max-model-len", "16000", "-f", "json"],
                  ["fit", "qwen3-32b", "--gpu", "h100-80gb", "--max-model-len", "32000", "--engine", "vllm@0.11", "-f", "json"],
                  ["fit", "llama3-70b", "--gpu", "h100-80gb", "--seq", "8k", "--enforce-eager", "-f", "json"],
                  ["fit", "llama3-8b", "--gpu", "h100-80gb", "--seq", "8k", "--reserve", "2GiB", "-f", "json"]],
        "fit-kv-memory": [["fit", m, "--kv-memory", "4GiB", "-f", "json"] for m in ("llama2-70b", "gemma-2-9b", "deepseek-v3", "mistral-7b")]
                         + [["fit", "llama3-8b", "--kv-memory", "100MiB", "--max-model-len", "128k", "-f", "json"],
                            ["fit", "gemma-2-9b", "--kv-memory", "4GiB", "--engine", "vllm@0.10.1.1", "-f", "json"]],
        "fit-engines": [["fit", "llama3.1-8b", "--gpu", "h100-80gb", "--engine", "vllm,sglang", "--seq", "16k", "--batch", "8", "-f", "json"],
                        ["fit", "deepseek-v3", "--gpu", "h200", "--gpus", "8", "--engine", "vllm@0.10.1.1,sglang", "--seq", "32k", "-f", "json"]],
        "fit-local": [["fit", "llama3.1-8b", "--engine", "llama.cpp", "--weights-dtype", "q4_k_m", "--gpu", g, "-f", "json",
                       *extra] for g, extra in (("rtx-4090", ["--batch", "1"]), ("m2-max-64gb", []),
                                                ("rtx-3060-12gb", ["-c", "64k"]), ("rtx-4090", ["-c", "8k", "-ngl", "20"]))]
                     + [["fit", "qwen3-30b-a3b", "--engine", "llama.cpp", "--weights-dtype", "q4_k_m", "--gpu",
                         "rtx-3060-12gb", "-c", "32k", "-ngl", "all", "-f", "json"],
                        ["fit", "llama3.1-8b", "--engine", "ollama", "--gpu", "rtx-4090", "-f", "json"],
                        ["fit", "qwen3-30b-a3b", "--engine", "ollama@0.30.0", "--gpu", "m4-max-36gb", "-f", "json"]],
        "fit-token-pool": [["fit", "qwen3-235b-a22b", "--engine", "sglang", "--kv-memory", "16GiB", "--tp", "4", "-f", "json"],
                           ["fit", "deepseek-v3", "--engine", "sglang@0.4.6", "--kv-memory", "40GiB", "-f", "json"],
                           ["fit", str(HF / "gpt-oss-120b.json"), "--engine", "sglang", "--kv-memory", "40GiB", "-f", "json"],
                           ["fit", "nemotron-h-56b", "--engine", "sglang", "--kv-memory", "40GiB", "--tp", "4", "-f", "json"]],
        "check-log": [["check-log", str(LOGS / f), "-f", "json", *extra] for f, extra in (
            ("vllm-v1-qwen3-32b-tp4-yarn-0.10.0.log", []), ("vllm-v0-llama3.1-8b-tp2-0.6.4.log", ["--model", "llama3.1-8b"]),
            ("llama.cpp-deepseek-v3-0324-mla-4gpu-b5331.log", []), ("llama.cpp-gpt-oss-20b-iswa-t4-b7772.log", []),
            ("sglang-deepseek-r1-0528-w4a8-mla-ascend-tp16-dp4.log", ["--model", "deepseek-v3"]),
            ("sglang-qwen3-14b-tp2-cpuoffload.log", []))],
        "plan": [["plan", m, "--gpu", "h100-80gb", "--seq", "8k", "--batch", "8", "-f", "json"] for m in ("llama2-70b", "llama3-8b", "deepseek-v3")]
                + [["plan", "--n-heads", "32", "--n-layers", "32", "--head-dim", "128", "--gpu", "l4", "--seq", "4k", "--min-tokens-per-s", "30", "-f", "json"]],
        "gpus": [["gpus", "-f", "json"]],
        "engines": [["engines", "-f", "json"]],
        "chart": [["chart", m, "-f", "json"] for m in ("llama3-8b", "deepseek-v3")],
    }


def run(argv: list[str]) -> object:
    exe = Path(sys.executable).with_name("kvcalc")
    res = subprocess.run([str(exe), *argv], capture_output=True, text=True)
    if res.returncode not in (0, 1):
        raise SystemExit(f"kvcalc {' '.join(argv)}: exit {res.returncode}: {res.stderr.strip()}")
    return json.loads(res.stdout)


def _type(value: object) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null", list: "array",
            dict: "object"}[type(value)]


def infer(values: list[object]) -> dict:
    """The narrowest schema every value satisfies."""
    types = sorted({_type(v) for v in values})
    if "integer" in types and "number" in types:
        types.remove("integer")
    schema: dict = {"type": types[0] if len(types) == 1 else types}
    objects = [v for v in values if isinstance(v, dict)]
    if objects:
        keys = list(dict.fromkeys(k for o in objects for k in o))
        schema["properties"] = {k: infer([o[k] for o in objects if k in o]) for k in keys}
        schema["required"] = [k for k in keys if all(k in o for o in objects)]
        schema["additionalProperties"] = False
    arrays = [v for v in values if isinstance(v, list)]
    items = [x for a in arrays for x in a]
    if items:
        schema["items"] = infer(items)
    if "rules" in schema.get("properties", {}):  # engines: an era's rules, keyed by what changed
        schema["properties"]["rules"] = {"type": "object"}
    if "settings" in schema.get("properties", {}):  # check-log: what each log prints, keyed by the runtime's names
        schema["properties"]["settings"] = {"type": "object"}
    if {"series"} & set(schema.get("properties", {})):  # chart: one key a layout, named after the model
        schema["properties"]["series"] = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "integer"}}}
    return schema


def main() -> None:
    for command, argvs in samples().items():
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                  "title": f"kvcalc {command} --format json", **infer([run(a) for a in argvs])}
        if command not in ("list", "gpus", "engines", "check-log") and "properties" in schema:
            # --assume-standard-attention: what was assumed of a model kvcalc does not map
            schema["properties"]["assumed_standard_attention"] = {"type": "array", "items": {"type": "string"}}
        (HERE / f"{command}.schema.json").write_text(json.dumps(schema, indent=1) + "\n")
        print(f"wrote schemas/{command}.schema.json from {len(argvs)} outputs")


if __name__ == "__main__":
    main()
