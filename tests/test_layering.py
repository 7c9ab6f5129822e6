"""The package's layering, read from the source with `ast`: every import counts, also one inside a function
or under `TYPE_CHECKING` (each is a dependency of the module that holds it).

- `gtpo.run` stands under the engines and the applications: it imports nothing from gtpo.models, gtpo.demo,
  gtpo.trl, gtpo.verl, gtpo.eval or gtpo.report, and no RL engine (trl, verl).
- No two modules of the package import each other, directly or through others (no import cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import gtpo

PACKAGE = Path(gtpo.__file__).parent
ABOVE_RUN = ("gtpo.models", "gtpo.demo", "gtpo.trl", "gtpo.verl", "gtpo.eval", "gtpo.report", "trl", "verl")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported_names(path: Path, package: str = "") -> set[str]:
    """Every module name an import statement of `path` names (`from a import b` gives `a` and `a.b`); a
    relative import is resolved against `package`, the package that holds `path`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def import_graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports."""
    return {
        name: (imported_names(path, _package_of(name, path)) & MODULES.keys()) - {name}
        for name, path in MODULES.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph`: its strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_run_layer_imports_nothing_above_it():
    run_modules = {name: path for name, path in MODULES.items() if name == "gtpo.run" or name.startswith("gtpo.run.")}
    assert len(run_modules) >= 8
    offending = {
        name: sorted(m for m in imported_names(path, _package_of(name, path)) if any(m == top or m.startswith(top + ".") for top in ABOVE_RUN))
        for name, path in run_modules.items()
    }
    assert {name: found for name, found in offending.items() if found} == {}


def test_no_module_of_the_package_imports_itself_back():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_the_circles_it_guards_against():
    # the circle this test was written for: run.recipe -> models -> demo.warm_start -> trl.sft -> run.recipe
    graph = {"run.recipe": {"models"}, "models": {"demo.warm_start"}, "demo.warm_start": {"trl.sft"},
             "trl.sft": {"run.recipe", "run.io"}, "run.io": set(), "demo.pipeline": {"demo.summary"},
             "demo.summary": {"demo.pipeline"}}  # fmt: skip
    assert sorted(cycles(graph)) == [["demo.pipeline", "demo.summary"], ["demo.warm_start", "models", "run.recipe", "trl.sft"]]


def test_imports_inside_functions_and_type_checking_blocks_count(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from gtpo.demo.pipeline import X\n"
                      "def f():\n    import gtpo.trl.sft\n")  # fmt: skip
    assert {"gtpo.demo.pipeline", "gtpo.trl.sft"} <= imported_names(source)
    source.write_text("from . import loss\nfrom ..trl import sft\n")
    assert {"gtpo.core.loss", "gtpo.trl.sft"} <= imported_names(source, "gtpo.core")
