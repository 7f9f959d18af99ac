"""gitmlops uses only LitServe's public API: no private or undocumented name of litserve appears."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import litserve
import litserve.api
import litserve.server

PACKAGE = Path(__file__).resolve().parents[1] / "gitmlops"
#: Public-looking but undocumented internals the old server reached into.
UNDOCUMENTED = {"litapi_request_queues", "litapi_connector", "response_queue_id", "workers_setup_status",
                "response_buffer", "LitLoop", "transport_config", "lifespan"}


def private_names() -> set[str]:
    """Single-underscore names defined by litserve's classes and modules."""
    names: set[str] = set()
    for owner in (litserve.LitServer, litserve.LitAPI, litserve.server, litserve.api):
        names |= {n for n, _ in inspect.getmembers(owner) if n.startswith("_") and not n.startswith("__")}
    names |= set(re.findall(r"self\.(_[a-z]\w*)", Path(litserve.server.__file__).read_text()))
    return names


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_private_litserve_name_is_referenced() -> None:
    forbidden = private_names() | UNDOCUMENTED
    assert "_register_middleware" in forbidden  # the scan knows what it looks for
    hits = []
    for path in sources():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("litserve"):
                hits += [f"{path}: from {node.module} import {a.name}" for a in node.names
                         if a.name.startswith("_") or a.name in UNDOCUMENTED]
                if node.module not in ("litserve",):
                    hits.append(f"{path}: imports from litserve submodule {node.module}")
            elif isinstance(node, ast.FunctionDef) and node.name in forbidden:
                hits.append(f"{path}:{node.lineno}: overrides {node.name}")
            if name is not None and name in forbidden:
                hits.append(f"{path}:{getattr(node, 'lineno', 0)}: .{name}")
    assert hits == []


def test_litserve_is_only_used_through_the_package_namespace() -> None:
    for path in sources():
        for line in path.read_text().splitlines():
            if re.match(r"\s*(from|import) litserve\.", line):
                raise AssertionError(f"{path}: {line.strip()}")
