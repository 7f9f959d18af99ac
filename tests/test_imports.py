"""The import rules of gitmlops/: no import cycles between its modules, counting the imports inside
functions too (a function-level import hides a cycle from Python, not from the reader); and only the
adapters (gitmlops/adapters/) import DVC or GitPython or start the ``git`` program.

Imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_names(top: Path, package: str) -> dict[str, Path]:
    """``{dotted module name: file}`` of every module under ``top/package``."""
    found = {}
    for path in sorted((top / package).rglob("*.py")):
        parts = list(path.relative_to(top).with_suffix("").parts)
        if "templates" in parts:  # files `init` copies into a project, not modules of the package
            continue
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_only(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
            if name == "TYPE_CHECKING":
                skipped.update(id(sub) for stmt in node.body for sub in ast.walk(stmt))
    return skipped


def import_graph(top: Path, package: str) -> dict[str, set[str]]:
    """Which modules of ``package`` each module imports, at any depth of its code.

    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module, else ``pkg``.
    """
    modules = module_names(top, package)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        skipped = _type_checking_only(tree)
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        edges: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names if alias.name in modules)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - node.level + 1]
                    source = ".".join([*base, node.module] if node.module else base)
                else:
                    source = node.module or ""
                for alias in node.names:
                    full = f"{source}.{alias.name}"
                    if full in modules:
                        edges.add(full)
                    elif source in modules:
                        edges.add(source)
        edges.discard(name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_gitmlops_has_no_import_cycles() -> None:
    graph = import_graph(ROOT, "gitmlops")
    # the graph sees function-level imports (so the test can fail): collect imports sections inside code
    assert "gitmlops.report.sections" in graph["gitmlops.report.collect"]
    assert "gitmlops.stages.dask_train" in graph["gitmlops.stages.train"]
    assert cycles(graph) == [], "import cycles (move the shared part into a module both import)"


ENGINES = ("dvc", "git")  # DVC's package, and GitPython's (not a dependency; kept out all the same)


def engine_uses(top: Path, package: str) -> list[str]:
    """``module: what`` for each import of DVC or GitPython and each ``["git", ...]`` command line
    outside ``package.adapters``."""
    found = []
    for name, path in module_names(top, package).items():
        if name.startswith(f"{package}.adapters"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [f"{name}: import {a.name}" for a in node.names if a.name.split(".")[0] in ENGINES]
            elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] in ENGINES:
                found.append(f"{name}: from {node.module} import")
            elif isinstance(node, ast.Call):
                for arg in node.args:
                    if (isinstance(arg, (ast.List, ast.Tuple)) and arg.elts and isinstance(arg.elts[0], ast.Constant)
                            and arg.elts[0].value == "git"):
                        found.append(f"{name}: runs git (line {node.lineno})")
    return found


def test_only_the_adapters_run_git_or_import_dvc() -> None:
    assert engine_uses(ROOT, "gitmlops") == [], "go through gitmlops.adapters (git_repo, dvc_repo)"


def test_the_engine_check_finds_a_direct_call(tmp_path: Path) -> None:
    pkg = tmp_path / "demo_pkg"
    (pkg / "adapters").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "adapters" / "__init__.py").write_text("import subprocess\nsubprocess.run(['git', 'status'])\n")
    (pkg / "a.py").write_text("def f():\n    import subprocess\n    subprocess.run(['git', 'init', '-q'])\n")
    (pkg / "b.py").write_text("from dvc.repo import Repo\nimport git\n")
    (pkg / "c.py").write_text("import subprocess\nsubprocess.run(['gitmlops', 'git'])\n")
    assert engine_uses(tmp_path, "demo_pkg") == [
        "demo_pkg.a: runs git (line 3)", "demo_pkg.b: from dvc.repo import", "demo_pkg.b: import git",
    ]


def test_the_checker_finds_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    pkg = tmp_path / "demo_pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from demo_pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .. import a\n    return a\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from demo_pkg import a\n")
    (pkg / "d.py").write_text("import demo_pkg.c\n")
    graph = import_graph(tmp_path, "demo_pkg")
    assert graph["demo_pkg.c"] == set() and graph["demo_pkg.d"] == {"demo_pkg.c"}
    assert cycles(graph) == [["demo_pkg.a", "demo_pkg.sub.b"]]


def test_mypy_sees_the_lazily_exported_functions(tmp_path: Path) -> None:
    """`registry` and `lineage` import their functions on first use (__getattr__); type checkers
    still see their real signatures (TYPE_CHECKING imports), not Any."""
    from mypy import api

    code = (
        "from gitmlops import lineage, registry\n"
        "reveal_type(registry.promote)\nreveal_type(lineage.verify)\n"
        "registry.register(1, 2, bump=3)\n"
    )
    snippet = tmp_path / "uses_lazy_exports.py"
    snippet.write_text(code)
    stdout, _, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), "--no-error-summary",
                                 "--cache-dir", str(ROOT / ".mypy_cache"), str(snippet)])
    assert stdout.count('Revealed type is "def (repo:') == 2, stdout
    assert 'Argument 2 to "register" has incompatible type "int"' in stdout, stdout
    assert status == 1
