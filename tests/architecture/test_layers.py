"""The shape of the package: one-way data flow, pure analysis layers, notebooks that only narrate.

Read from the source text (``ast``), so every import counts, including imports inside functions.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import regionstats

PACKAGE = Path(regionstats.__file__).parent
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PURE_LAYERS = ("regions", "indicators", "analysis")
#: Public modules a notebook may import beside the package's own public names.
PUBLIC_MODULES = {"regionstats", "regionstats.figures", "regionstats.maps", "regionstats.checks"}
#: Calls and names that read files or touch configuration.
FILE_READS = {
    "open", "read_csv", "read_excel", "read_parquet", "read_file", "read_text", "read_bytes",
    "read_json", "files", "as_file", "snapshot_dir", "snapshot_file",
}  # fmt: skip


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every regionstats module ``path`` imports (top level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("regionstats")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("regionstats"):
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _exists(candidate) else base)
    return {m for m in found if m != me}


def _exists(module: str) -> bool:
    rel = Path(*module.split("."))
    root = PACKAGE.parent
    return (root / rel).with_suffix(".py").is_file() or (root / rel / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_no_import_circle_among_modules() -> None:
    """No cycle among the package's modules (the package root, a facade of re-exports, aside)."""
    graph = {m: {d for d in deps if d != "regionstats"} for m, deps in _graph().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
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
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == [], f"import circles: {cycles}"


@pytest.mark.parametrize("layer", PURE_LAYERS)
def test_pure_layers_read_no_files_and_import_no_sources(layer: str) -> None:
    problems = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for dep in _imports(path):
            if dep == "regionstats.sources.ssb_quirks":
                continue  # code tables only (11713 industry codes); no I/O
            if dep.startswith(("regionstats.sources", "regionstats.config", "regionstats.report")):
                problems.append(f"{path.name} imports {dep}")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = None
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
            if name in FILE_READS:
                problems.append(f"{path.name}:{node.lineno} calls {name}()")
    assert problems == []


def _notebook_cells() -> list[tuple[str, int, str]]:
    cells = []
    for nb_path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] == "code":
                cells.append((nb_path.name, i, "".join(cell["source"])))
    return cells


def test_there_are_notebooks() -> None:
    assert len({name for name, _, _ in _notebook_cells()}) >= 5


def test_notebooks_import_only_public_names_and_define_nothing() -> None:
    assert _notebook_problems(_notebook_cells()) == []


def _notebook_problems(cells: list[tuple[str, int, str]]) -> list[str]:
    public = set(regionstats.__all__)
    problems = []
    for name, i, source in cells:
        tree = ast.parse(source)
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                problems.append(f"{name} cell {i}: defines {type(node).__name__}")
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("regionstats"):
                        if a.name not in PUBLIC_MODULES:
                            problems.append(f"{name} cell {i}: import {a.name}")
                        aliases[a.asname or a.name] = a.name
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("regionstats"):
                for a in node.names:
                    if node.module == "regionstats":
                        ok = a.name in public or f"regionstats.{a.name}" in PUBLIC_MODULES
                    else:
                        ok = node.module in PUBLIC_MODULES and not a.name.startswith("_")
                    if not ok:
                        problems.append(f"{name} cell {i}: from {node.module} import {a.name}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and aliases.get(node.value.id) == "regionstats"
                and node.attr not in public
            ):
                problems.append(f"{name} cell {i}: regionstats.{node.attr} is not public")
    return problems


def test_the_notebook_check_can_fail() -> None:
    """Private imports, private attributes and definitions are all flagged."""
    bad = [
        ("x", 1, "from regionstats.sources.employment_files import read_13470_telemark"),
        ("x", 2, "import regionstats as rs\nrs.sources.regions_files"),
        ("x", 3, "def f():\n    pass"),
        ("x", 4, "import regionstats as rs\nrs.load_inputs"),
    ]
    problems = _notebook_problems(bad)
    assert [p.split(":")[0] for p in problems] == ["x cell 1", "x cell 2", "x cell 3"]
