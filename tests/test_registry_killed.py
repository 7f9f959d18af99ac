"""A `registry promote --push` killed mid-push (real process, real signal, real bare origin held open
by a slow pre-receive hook): the rerun finishes the push instead of saying "nothing to do"."""

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
from gitmlops.registry.actions import counter_ref
from tests.conftest import git
from tests.registry_fixtures import model_repo, model_template

__all__ = ["model_repo", "model_template"]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_rerun_finishes_a_killed_push(model_repo: Path, sig: signal.Signals) -> None:
    registry.register(model_repo, "model", push=True)
    origin = model_repo.parent / "origin.git"
    marker = origin / "push-started"
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\nsleep 60\n")
    hook.chmod(0o755)
    argv = [sys.executable, "-m", "gitmlops", "-C", str(model_repo), "registry", "promote", "model", "v0.1.0",
            "--stage", "dev", "--push", "--json"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, process_group=0)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, sig)
    proc.communicate(timeout=60)
    assert "model#dev#1" not in git(origin, "tag", "--list").split()  # origin never got it
    hook.unlink()

    rerun = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    written = json.loads(rerun.stdout)
    assert written["tag"] == "model#dev#1" and written["pushed"] is True
    assert "model#dev#1" in git(origin, "tag", "--list").split()
    assert git(origin, "rev-parse", counter_ref("model")) == git(origin, "rev-parse", "refs/tags/model#dev#1")
    # and now it really is nothing to do
    again = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "already the version in stage 'dev'" in again.stderr
