"""A quick path past the strict schema for data that plainly satisfies it.

`kvcalc.models.config` (pydantic) is the strict schema; building its validator costs about a
quarter of a second at start-up. The config.json mapper (`kvcalc.models.hf`) already type-checks
what it reads, so for its output this module checks the same rules in plain Python and builds the
Model directly. The rules are not written here: the field tables come from the dataclasses, and
every other rule from kvcalc.models.rules, which the strict schema asks too. It is conservative:
anything it is unsure of returns None and goes through the schema, which then names the problem.
tests/test_trusted.py holds both paths to the same answer.
"""

from __future__ import annotations

from typing import Any, Optional

from .model import Model, from_dict
from .rules import BLOCKS, TOP, consistency_problem, fields_problem, name_problem, pattern_problem, ssm_problem


def trusted_model(data: Any) -> Optional[Model]:
    """The Model for data the schema would accept as it stands, else None."""
    if fields_problem(data, TOP):
        return None
    if any(key in data and fields_problem(data[key], table) for key, table in BLOCKS.items()):
        return None
    if any(type(a) is not str for a in data.get("aliases", ())):
        return None
    from ..dtypes import MODEL_DTYPES, TORCH_NAMES

    dtype = TORCH_NAMES.get(data["dtype"], data["dtype"])
    if name_problem(data["name"]) or dtype not in MODEL_DTYPES:
        return None
    pattern = data.get("layer_pattern")
    if pattern is not None and (" " in pattern or pattern_problem(pattern)):
        return None
    if consistency_problem(data["n_heads"], data["n_kv_heads"], data["n_layers"], pattern, "sliding_window" in data,
                           "mla" in data, "ssm" in data, "attention_chunk_size" in data):
        return None
    ssm = data.get("ssm")
    if ssm is not None and ssm_problem(ssm["kind"], ssm.get("n_groups", 0), ssm["d_inner"], ssm.get("n_heads"),
                                       ssm.get("d_state", 0), ssm.get("d_conv", 0)):
        return None
    return from_dict({**data, "dtype": dtype})
