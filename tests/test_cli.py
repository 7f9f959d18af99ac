"""The CLI root: fast help, help for every command, one error-to-exit-code map."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from gitmlops.cli import COMMANDS, cli
from gitmlops.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE
from tests.conftest import invoke

HEAVY = ["dvc", "hydra", "xgboost", "whylogs", "litserve", "pandas", "numpy", "git", "omegaconf"]


def test_help_imports_nothing_heavy() -> None:
    """`--help` of the root and of every command stays instant: no engine is imported for it."""
    code = (
        "import json, sys\n"
        "import click\n"
        "from gitmlops.cli import cli, run\n"
        "paths, ctx = [[]], click.Context(cli)\n"
        "def walk(group, prefix):\n"
        "    for name in group.list_commands(ctx):\n"
        "        sub = group.get_command(ctx, name)\n"
        "        paths.append([*prefix, name])\n"
        "        if isinstance(sub, click.Group):\n"
        "            walk(sub, [*prefix, name])\n"
        "walk(cli, [])\n"
        "rcs = {' '.join(p): run([*p, '--help']) for p in paths}\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(json.dumps({'failed': [p for p, rc in rcs.items() if rc], 'heavy': heavy, 'n': len(rcs)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["n"] > 30 and result["failed"] == [] and result["heavy"] == []


def _all_commands() -> list[list[str]]:
    found: list[list[str]] = []
    ctx = click.Context(cli)

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            found.append([*prefix, name])
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])

    walk(cli, [])
    return found


def test_every_command_has_help() -> None:
    commands = _all_commands()
    assert ["init"] in commands and ["run"] in commands and ["data", "add"] in commands
    for path in commands:
        result = invoke(None, *path, "--help")
        assert result.exit_code == 0, (path, result.output)
        body = result.output.split("Options:")[0]
        assert len(body.strip().splitlines()) >= 2, f"{' '.join(path)} has no help text"


def test_root_help_lists_commands_without_importing_them() -> None:
    result = invoke(None, "--help")
    assert result.exit_code == 0
    for name in ("init", "data", "run", "pipeline", "exp"):
        assert name in result.output
    assert "Exit codes" in result.output
    assert set(COMMANDS) >= {"init", "data", "run", "pipeline", "exp"}


def test_version() -> None:
    result = invoke(None, "--version")
    assert result.exit_code == 0
    assert "gitmlops" in result.output


def test_not_a_git_repo(tmp_path: Path) -> None:
    result = invoke(tmp_path, "pipeline", "show")
    assert result.exit_code == EXIT_USAGE
    assert "not a git repository" in result.output
    assert "hint:" in result.output


def test_unknown_command_is_usage_error() -> None:
    result = invoke(None, "no-such-command")
    assert result.exit_code == EXIT_USAGE


def test_unexpected_exception_is_internal_error(monkeypatch: pytest.MonkeyPatch, git_repo: Path) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr("gitmlops.pipeline.show", boom)
    result = invoke(git_repo, "pipeline", "show")
    assert result.exit_code == EXIT_INTERNAL
    assert "unexpected RuntimeError: kaboom" in result.output
    assert "--traceback" in result.output


def test_keyboard_interrupt_exit_code(monkeypatch: pytest.MonkeyPatch, git_repo: Path) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("gitmlops.pipeline.show", interrupted)
    result = invoke(git_repo, "pipeline", "show")
    assert result.exit_code == EXIT_INTERRUPTED


def test_git_mlops_console_script_is_declared() -> None:
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert 'git-mlops = "gitmlops.cli:main"' in text
    assert 'gitmlops = "gitmlops.cli:main"' in text
