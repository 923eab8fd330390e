"""The house (issue #25): folders by concern, no import circle, no import up the floors
(bench/imports.py draws the graph), and the generators apart from what they generate."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports_module():
    spec = importlib.util.spec_from_file_location("kvcalc_imports", ROOT / "bench" / "imports.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_no_circles_and_no_import_up_the_floors():
    imports = _imports_module()
    edges = imports.graph()
    assert len(edges) > 40
    assert imports.circles(edges) == []
    assert imports.upward(edges) == []


def test_the_floors_hold_every_module():
    imports = _imports_module()
    for module in imports.graph():
        imports.floor(module)  # a module outside the floors' folders would raise here


def test_nothing_at_run_time_imports_the_generators():
    imports = _imports_module()
    edges = imports.graph()
    assert not [a for a, targets in edges.items() for b in targets
                if b.startswith("kvcalc.generators") and not a.startswith("kvcalc.generators")]
