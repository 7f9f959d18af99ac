"""Docs that cannot drift: the CLI reference is regenerated and compared, the mkdocs site builds
strictly, every command is documented, and the ```console examples of the README and the tutorials
run in a temporary repo."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BIN = Path(sys.executable).parent


def test_cli_reference_is_current() -> None:
    from gitmlops.cli.reference import render

    current = (DOCS / "cli-reference.md").read_text()
    assert current == render(), "docs/cli-reference.md is stale: run `python -m gitmlops.cli.reference`"


def test_every_command_is_in_the_reference() -> None:
    from gitmlops.cli.reference import _commands

    text = (DOCS / "cli-reference.md").read_text()
    for path, command in _commands():
        title = " ".join(["gitmlops", *path])
        assert f"## `{title}`" in text
        if path:
            assert (command.help or command.short_help or "").strip(), f"{title} has no help text"


def test_mkdocs_builds_strict(tmp_path: Path) -> None:
    if shutil.which("mkdocs", path=str(BIN)) is None:
        pytest.fail("mkdocs is not installed: `pip install -e '.[test]'` installs it")
    proc = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").is_file()


def _console_commands(path: Path) -> list[str]:
    """The `$ command` lines of ```console blocks, in order (a trailing backslash continues)."""
    commands: list[str] = []
    for block in re.findall(r"```console\n(.*?)```", path.read_text(), flags=re.S):
        pending = ""
        for line in block.splitlines():
            if pending:
                pending += "\n" + line
            elif line.startswith("$ "):
                pending = line[2:]
            else:
                continue
            if pending.endswith("\\"):
                continue
            commands.append(pending)
            pending = ""
    return commands


EXAMPLE_FILES = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in DOCS.glob("tutorial-*.md")),
                 "docs/team.md", "docs/models.md"]


@pytest.mark.slow
@pytest.mark.parametrize("doc", EXAMPLE_FILES)
def test_console_examples_run(doc: str, tmp_path: Path) -> None:
    commands = _console_commands(ROOT / doc)
    if doc == "README.md":
        assert commands, "the README tour has no ```console examples"
    if not commands:
        pytest.skip(f"{doc} has no ```console examples")
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    script = "set -e\n" + "\n".join(commands) + "\n"
    proc = subprocess.run(["bash", "-c", script], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, f"{doc}: a ```console example failed\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def test_every_json_command_is_in_json_md() -> None:
    from gitmlops.cli.reference import _commands

    text = (DOCS / "json.md").read_text()
    for path, command in _commands():
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        if "--json" in options and path:
            assert path[-1] in text and path[0] in text, f"`gitmlops {' '.join(path)} --json` is not in docs/json.md"


def test_documented_environment_variables_exist() -> None:
    """Every ``GITMLOPS_*`` variable the docs name is read by the code, ./run or the tests."""
    pattern = re.compile(r"\bGITMLOPS_[A-Z][A-Z_]*[A-Z]\b")
    pages = [*DOCS.glob("*.md"), ROOT / "README.md", *ROOT.glob("CONTRIBUTING.md")]
    named = {name for page in pages for name in pattern.findall(page.read_text())}
    sources = [ROOT / "run", *(ROOT / "gitmlops").rglob("*.py"), *(ROOT / "gitmlops").rglob("*.yml"),
               *(ROOT / "tests").rglob("*.py")]
    used = {name for source in sources for name in pattern.findall(source.read_text())}
    assert named, "no GITMLOPS_ variable found in the docs: the pattern is broken"
    assert named <= used, f"the docs name environment variables nothing reads: {sorted(named - used)}"


def test_status_values_in_json_md_are_the_code_literals() -> None:
    """The table of status and verdict values in docs/json.md lists exactly each Literal's values."""
    import importlib
    import typing

    text = (DOCS / "json.md").read_text()
    rows = re.findall(r"^\| .+? \| (.+?) \| `(gitmlops\.[\w.]+)` \|$", text, re.MULTILINE)
    assert len(rows) >= 8, "the status table of docs/json.md is missing"
    for values, dotted in rows:
        module, name = dotted.rsplit(".", 1)
        literal = getattr(importlib.import_module(module), name)
        assert re.findall(r"`([^`]+)`", values) == list(typing.get_args(literal)), dotted


def test_contributing_maps_every_package() -> None:
    """CONTRIBUTING.md's module map names every package of gitmlops/, so a new one gets a line."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    packages = sorted(p.parent.name for p in (ROOT / "gitmlops").glob("*/__init__.py"))
    assert "adapters" in packages
    missing = [name for name in packages if f"`gitmlops/{name}/`" not in text and f"`{name}/`" not in text]
    assert not missing, f"CONTRIBUTING.md's module map does not name: {missing}"
