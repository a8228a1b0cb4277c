"""Import rules between the four packages, read from the source with `ast` (imports inside functions count).

The layering (docs: ARCHITECTURE.md, "The picture"): `scenarios` is the domain and imports none of the others;
`simulation` and `optimizer` both build on it and never import each other; `command` composes them and nothing
imports it. And no two of the project's modules import each other, directly or round a longer loop.

A module is a `.py` file under a package, found recursively (sub-packages such as `optimizer/buses/` included);
`pkg/__init__.py` is the module `pkg`. An import is an edge to the module it loads: `import a.b` and `from a.b
import c` load `a.b` (or `a.b.c` when that is a module); `from a import name` loads `a`, its `__init__`. Relative
imports are resolved against the importing module's package. Parent packages run on the way are not counted (that
would make every package a cycle with its own `__init__`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("scenarios", "simulation", "optimizer", "command")


@dataclass(frozen=True)
class Import:
    """One import statement of a project module, resolved to the project module it loads."""

    source: str  # the importing module
    target: str  # the project module imported
    file: str  # the importing file, relative to the project root
    line: int
    in_function: bool

    def __str__(self) -> str:
        where = " (inside a function)" if self.in_function else ""
        return f"{self.file}:{self.line}: {self.source} imports {self.target}{where}"


def project_modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Every module of the packages, by dotted name, found by walking their folders recursively."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _nearest(name: str, modules: dict[str, Path]) -> str | None:
    """The project module `name` loads: itself, or its nearest enclosing module (None if not the project's)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _function_lines(tree: ast.AST) -> set[int]:
    """The line numbers of statements inside any function body."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import | ast.ImportFrom):
                    inside.add(sub.lineno)
    return inside


def _type_only_lines(tree: ast.AST) -> set[int]:
    """The line numbers of imports under `if TYPE_CHECKING:`: read by type checkers only, never run."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        test = node.test if isinstance(node, ast.If) else None
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            lines |= {sub.lineno for stmt in node.body for sub in ast.walk(stmt)
                      if isinstance(sub, ast.Import | ast.ImportFrom)}  # fmt: skip
    return lines


def imports_of(name: str, modules: dict[str, Path], root: Path) -> list[Import]:
    """The project modules a module imports, anywhere it runs (top level, functions, conditionals); imports for
    type checkers only (`if TYPE_CHECKING:`) are not dependencies and are left out."""
    path = modules[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    in_function = _function_lines(tree)
    type_only = _type_only_lines(tree)
    package = name if _is_package(name, modules) else name.rpartition(".")[0]
    file = path.relative_to(root).as_posix()
    found: list[Import] = []

    def add(target: str | None, node: ast.stmt) -> None:
        imp = Import(name, target or "", file, node.lineno, node.lineno in in_function)
        if target is not None and target != name and imp not in found:  # `from a import b, c`: one import of a
            found.append(imp)

    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in type_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(_nearest(alias.name, modules), node)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                stem = ".".join([*base, *([node.module] if node.module else [])])
            else:
                stem = node.module or ""
            for alias in node.names:
                # `from a import b` loads the module a.b if there is one, else a (whose __init__ defines b).
                submodule = f"{stem}.{alias.name}" if stem else alias.name
                add(submodule if submodule in modules else _nearest(stem, modules), node)
    return found


def all_imports(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> list[Import]:
    modules = project_modules(root, packages)
    return [imp for name in sorted(modules) for imp in imports_of(name, modules, root)]


def _package(module: str) -> str:
    return module.partition(".")[0]


def layer_violations(imports: list[Import]) -> list[str]:
    """Every import that breaks the layering, with its file and line."""
    forbidden = {
        "scenarios": {"simulation", "optimizer", "command"},
        "simulation": {"optimizer", "command"},
        "optimizer": {"simulation", "command"},
        "command": set(),
    }
    return [str(i) for i in imports if _package(i.target) in forbidden.get(_package(i.source), set())]


def _from_smallest(cycle: list[str]) -> list[str]:
    i = cycle.index(min(cycle))
    return cycle[i:] + cycle[:i]


def import_cycles(imports: list[Import]) -> list[str]:
    """Each group of modules that import one another round a loop, with the imports that close it."""
    graph = nx.DiGraph()
    for imp in imports:
        graph.add_edge(imp.source, imp.target)
        graph.edges[imp.source, imp.target].setdefault("at", []).append(imp)
    out = []
    for group in sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1):
        sub = graph.subgraph(group)
        loops = sorted(" -> ".join([*c, c[0]]) for c in map(_from_smallest, nx.simple_cycles(sub, length_bound=4)))
        edges = [str(imp) for u, v in sorted(sub.edges) for imp in sub.edges[u, v]["at"]]
        out.append(f"cycle among {', '.join(group)}: " + "; ".join(loops[:10])
                   + ("" if len(loops) <= 10 else f" (and {len(loops) - 10} more)")
                   + "\n    " + "\n    ".join(edges))  # fmt: skip
    return out


IMPORTS = all_imports()


def _report(violations: list[str]) -> str:
    return "\n" + "\n".join(violations)


def test_the_walk_finds_every_module_of_the_four_packages():
    """Every `.py` file under the four packages, however deep, is read, and each package's imports are found."""
    modules = project_modules(ROOT)
    files = {p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "__pycache__" not in p.parts}
    assert set(modules.values()) == files
    assert set(PACKAGES) <= set(modules)
    assert {_package(i.source) for i in IMPORTS} == set(PACKAGES)


def test_relative_and_nested_imports_resolve_to_the_module_they_load(tmp_path):
    """In a sub-package, `from . import x`, `from ..y import z`, `import a.b` and imports inside functions all
    resolve to the project module loaded, and names from a package resolve to its `__init__`."""
    files = {
        "optimizer/__init__.py": "from optimizer.result import Result\n",
        "optimizer/result.py": "import scenarios.plan\n",
        "optimizer/buses/__init__.py": "from . import model\nfrom .model import build\n",
        "optimizer/buses/model.py": (
            "from ..result import Result\nfrom scenarios import Plan\nimport numpy\n"
            "def f():\n    from simulation.core import run\n"
        ),
        "scenarios/__init__.py": "from .plan import Plan\n",
        "scenarios/plan.py": "",
        "simulation/__init__.py": "",
        "simulation/core.py": "",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    found = {(i.source, i.target, i.line, i.in_function) for i in all_imports(tmp_path, PACKAGES[:3])}
    assert found == {
        ("optimizer", "optimizer.result", 1, False),
        ("optimizer.result", "scenarios.plan", 1, False),
        ("optimizer.buses", "optimizer.buses.model", 1, False),
        ("optimizer.buses", "optimizer.buses.model", 2, False),
        ("optimizer.buses.model", "optimizer.result", 1, False),
        ("optimizer.buses.model", "scenarios", 2, False),
        ("optimizer.buses.model", "simulation.core", 5, True),
        ("scenarios", "scenarios.plan", 1, False),
    }
    assert layer_violations(all_imports(tmp_path, PACKAGES[:3])) == [
        "optimizer/buses/model.py:5: optimizer.buses.model imports simulation.core (inside a function)"
    ]


def test_the_checks_report_a_cycle_and_a_layer_break_they_are_shown(tmp_path):
    """A two-module loop through a function-level import is reported as a cycle, and a domain module importing
    the command layer as a violation, each with file and line."""
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "command").mkdir()
    (tmp_path / "scenarios/__init__.py").write_text("")
    (tmp_path / "scenarios/a.py").write_text("from scenarios.b import x\n")
    (tmp_path / "scenarios/b.py").write_text("def f():\n    from scenarios.a import y\n    import command.cli\n")
    (tmp_path / "command/__init__.py").write_text("")
    (tmp_path / "command/cli.py").write_text("")
    imports = all_imports(tmp_path, ("scenarios", "command"))
    (cycle,) = import_cycles(imports)
    assert cycle.startswith("cycle among scenarios.a, scenarios.b: scenarios.a -> scenarios.b -> scenarios.a")
    assert "scenarios/b.py:2: scenarios.b imports scenarios.a (inside a function)" in cycle
    assert layer_violations(imports) == ["scenarios/b.py:3: scenarios.b imports command.cli (inside a function)"]


def _crossing(source: str, targets: set[str]) -> list[str]:
    return [str(i) for i in IMPORTS if _package(i.source) == source and _package(i.target) in targets]


def test_scenarios_imports_none_of_simulation_optimizer_or_command():
    """The domain package imports neither engine nor the command layer, not even inside a function."""
    found = _crossing("scenarios", {"simulation", "optimizer", "command"})
    assert not found, _report(found)


@pytest.mark.parametrize(("source", "target"), [("simulation", "optimizer"), ("optimizer", "simulation")])
def test_simulation_and_optimizer_never_import_each_other(source, target):
    """The simulation and the optimiser meet only through `scenarios`: neither imports the other anywhere."""
    found = _crossing(source, {target})
    assert not found, _report(found)


def test_nothing_outside_command_imports_command():
    """Only `command` itself imports `command`."""
    found = [str(i) for i in IMPORTS if _package(i.target) == "command" and _package(i.source) != "command"]
    assert not found, _report(found)


def test_no_import_cycles_between_the_projects_modules():
    """No project module reaches itself through the imports of others (function-level imports included)."""
    found = import_cycles(IMPORTS)
    assert not found, _report(found)


def test_the_console_reaches_the_engines_only_through_command():
    """The console's pages and views never import a simulation or an optimiser: they call `command/` (runs, the
    loop, the kind registry), which composes the engines."""
    found = [str(i) for i in IMPORTS if i.source.startswith("command.console")
             and _package(i.target) in {"simulation", "optimizer"}]  # fmt: skip
    assert not found, _report(found)
