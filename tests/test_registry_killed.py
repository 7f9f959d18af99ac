"""Registry writes killed mid-push (real processes, real signals, a real bare origin held open by a
slow pre-receive hook): the rerun finishes the push instead of saying "nothing to do", and when
another clone wrote meanwhile the rerun says which local tag to delete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitmlops import registry
from gitmlops.errors import EXIT_EXTERNAL
from gitmlops.registry.actions import counter_ref
from tests.conftest import git
from tests.registry_fixtures import model_repo, model_template

__all__ = ["model_repo", "model_template"]

PROMOTE = ["registry", "promote", "model", "v0.1.0", "--stage", "dev", "--push", "--json"]
REGISTER = ["registry", "register", "model", "--version", "v0.2.0", "--push", "--json"]


def _kill_during_push(repo: Path, args: list[str], sig: signal.Signals) -> Path:
    """Run ``gitmlops ARGS`` and kill it (whole process group) while origin's pre-receive hook runs."""
    origin = repo.parent / "origin.git"
    marker = origin / "push-started"
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\nsleep 60\n")
    hook.chmod(0o755)
    argv = [sys.executable, "-m", "gitmlops", "-C", str(repo), *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, process_group=0)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, sig)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    hook.unlink()
    marker.unlink()
    return origin


def _gitmlops(repo: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitmlops", "-C", str(repo), *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
@pytest.mark.parametrize(("args", "tag"), [(PROMOTE, "model#dev#1"), (REGISTER, "model@v0.2.0")],
                         ids=["promote", "register"])
def test_rerun_finishes_a_killed_push(model_repo: Path, sig: signal.Signals, args: list[str], tag: str) -> None:
    registry.register(model_repo, "model", push=True)
    if args is REGISTER:  # a new commit to register
        git(model_repo, "commit", "-q", "--allow-empty", "-m", "next")
        git(model_repo, "push", "-q", "origin", "main")
    origin = _kill_during_push(model_repo, args, sig)
    assert tag not in git(origin, "tag", "--list").split()  # origin never got it
    assert tag in git(model_repo, "tag", "--list").split()  # the clone has it

    rerun = _gitmlops(model_repo, args)
    assert rerun.returncode == 0, rerun.stderr
    written = json.loads(rerun.stdout)
    assert written["tag"] == tag and written["pushed"] is True
    assert tag in git(origin, "tag", "--list").split()
    if "#" in tag:  # a counted event moves origin's counter ref with it
        assert git(origin, "rev-parse", counter_ref("model")) == git(origin, "rev-parse", f"refs/tags/{tag}")
    # and now it really is nothing to do
    again = _gitmlops(model_repo, args)
    assert again.returncode == 2, again.stderr
    assert "already" in again.stderr


def test_rerun_after_another_clone_wrote_names_the_tag_to_delete(model_repo: Path, tmp_path: Path) -> None:
    registry.register(model_repo, "model", push=True)
    origin = _kill_during_push(model_repo, PROMOTE, signal.SIGKILL)
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    registry.promote(other, "model", "v0.1.0", "staging", push=True)  # takes counter 1 on origin
    origin_tags = git(origin, "tag", "--list")

    rerun = _gitmlops(model_repo, PROMOTE)
    assert rerun.returncode == EXIT_EXTERNAL, rerun.stderr
    assert "model#dev#1" in rerun.stderr and "exist only in this clone" in rerun.stderr
    assert "git tag -d model#dev#1" in rerun.stderr
    assert git(origin, "tag", "--list") == origin_tags  # origin untouched by the refused rerun
    # following the hint recovers: the promote then takes the next counter
    git(model_repo, "tag", "-d", "model#dev#1")
    final = _gitmlops(model_repo, PROMOTE)
    assert final.returncode == 0, final.stderr
    assert json.loads(final.stdout)["tag"] == "model#dev#2"
    assert "model#dev#2" in git(origin, "tag", "--list").split()
