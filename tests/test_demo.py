"""`gitmlops demo`: the whole loop, end to end, in a fresh repo (trains, serves, profiles, verifies)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    env = dict(os.environ)
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        env.pop(key, None)  # a fresh machine may have no git identity: the demo must cope
    home = tmp_path / "home"
    home.mkdir()
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local" / "share"))
    target = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "gitmlops", "demo", "--dir", str(target), "--json"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout)
    assert result["model"] == "model@v0.1.0"
    assert result["prediction"]["model"] == "model@v0.1.0"
    assert len(result["prediction"]["predictions"]) == 1
    assert result["drift"]["normal"] == "no_drift"
    assert "monthly_charges" in result["drift"]["drifted"]
    assert result["verified"] is True
    assert result["metrics"]["auc"] > 0.5
    for path in result["files"].values():
        assert Path(path).is_file()
    tags = subprocess.run(["git", "tag"], cwd=target, capture_output=True, text=True).stdout.split()
    assert tags == ["model#prod#1", "model@v0.1.0"]
    assert "### Drift" in (target / "reports" / "pr-report.md").read_text()


def test_demo_refuses_a_non_empty_dir(tmp_path: Path) -> None:
    from tests.conftest import invoke

    (tmp_path / "x").write_text("keep me\n")
    result = invoke(None, "demo", "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert "not empty" in result.output
    assert (tmp_path / "x").read_text() == "keep me\n"
