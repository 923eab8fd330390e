"""The import graph of kvcalc: every import between its modules (at module level and inside
functions), the circles in it, and any import that runs up the floors of the house.

The floors, bottom first (a module may import its own floor and those below, never above):

    kvcalc (the package: __version__, and its API imported lazily)   errors, dtypes   models   engines
    core   output   planning, measure, logs   call   cli, generators   __main__

    python bench/imports.py            # prints the graph's size, circles and upward imports; exit 1 if any
    python bench/imports.py --dot      # the graph in Graphviz's dot language
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "kvcalc"
FLOORS = [("__init__",), ("errors", "dtypes"), ("models",), ("engines",), ("core",), ("output",), ("planning", "measure", "logs"),
          ("call",), ("cli", "generators"), ("__main__",)]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The kvcalc modules `path` imports, resolved to module names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for block in ast.walk(tree):  # `if TYPE_CHECKING:` imports are for type checkers, never run
        if isinstance(block, ast.If) and getattr(block.test, "id", None) == "TYPE_CHECKING":
            block.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("kvcalc"):
                continue
            for alias in node.names:  # `from . import commands` imports a module
                sub = f"{target}.{alias.name}"
                out.add(sub if (ROOT.parent / (sub.replace(".", "/") + ".py")).exists() else target)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("kvcalc")}
    return {m for m in out if m != name}


def floor(module: str) -> int:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else "__init__"
    if key == "__main__":
        key = "__main__"
    return next(i for i, names in enumerate(FLOORS) if key in names)


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        found = set()
        for target in imports(path):
            while target not in modules and "." in target:  # `from kvcalc.x import y`, y a name
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name:
                found.add(target)
        edges[name] = found
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def upward(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a, targets in edges.items() for b in targets
                  if floor(b) > floor(a))


def main() -> int:
    edges = graph()
    if "--dot" in sys.argv:
        print("digraph kvcalc {")
        for a, targets in sorted(edges.items()):
            for b in sorted(targets):
                print(f'  "{a}" -> "{b}";')
        print("}")
        return 0
    found_circles, found_up = circles(edges), upward(edges)
    print(f"{len(edges)} modules, {sum(len(t) for t in edges.values())} imports, {len(found_circles)} circles, "
          f"{len(found_up)} imports up the floors")
    for comp in found_circles:
        print("circle:", " <-> ".join(comp))
    for a, b in found_up:
        print(f"up: {a} -> {b}")
    return 1 if found_circles or found_up else 0


if __name__ == "__main__":
    sys.exit(main())
