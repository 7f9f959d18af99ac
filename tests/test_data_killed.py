"""`gitmlops data push` killed with SIGKILL mid-transfer (a real process, a real local remote): every
object the remote holds is whole, the remote does not claim the folder, and a rerun sends the rest so
that a fresh clone pulls every file back."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import git, invoke

pytestmark = pytest.mark.slow

FILES = 300
OBJECT = re.compile(r"[0-9a-f]{32}(\.dir)?")


def _objects(remote: Path) -> list[Path]:
    """The remote's finished objects (DVC 3 layout: files/md5/xx/yyyy[.dir])."""
    root = remote / "files" / "md5"
    if not root.exists():
        return []
    return [p for p in root.glob("*/*") if OBJECT.fullmatch(p.parent.name + p.name)]


def _in_remote(repo: Path, path: str) -> bool:
    status = json.loads(invoke(repo, "data", "status", "--json").output)
    return bool(next(t for t in status["tracked"] if t["path"] == path)["in_remote"])


def test_a_killed_push_leaves_whole_objects_and_the_rerun_sends_the_rest(
    example_repo: Path, tmp_path: Path
) -> None:
    folder = example_repo / "data" / "many"
    folder.mkdir()
    for i in range(FILES):
        (folder / f"part-{i:03d}.bin").write_bytes(os.urandom(64 * 1024))
    assert invoke(example_repo, "data", "add", "data/many").exit_code == 0
    remote = tmp_path / "remote"
    assert invoke(example_repo, "remote", "add", str(remote), "--name", "team").exit_code == 0
    git(example_repo, "add", "-A")
    git(example_repo, "commit", "-q", "-m", "many files")

    proc = subprocess.Popen(
        [sys.executable, "-m", "gitmlops", "-C", str(example_repo), "data", "push", "-j", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=0,
    )
    deadline = time.monotonic() + 120
    while len(_objects(remote)) < 20:
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    sent = _objects(remote)
    assert 20 <= len(sent) < FILES + 2, len(sent)  # killed part-way (300 files, churn.csv, the .dir)

    # every object on the remote is whole: its content hashes to its name
    for obj in sent:
        assert hashlib.md5(obj.read_bytes()).hexdigest() == obj.parent.name + obj.name.removesuffix(".dir"), (
            obj
        )
    # the folder's listing goes last, so the remote does not claim a folder it only partly has
    assert not any(obj.name.endswith(".dir") for obj in sent)
    assert _in_remote(example_repo, "data/many") is False

    rerun = invoke(example_repo, "data", "push", "--json")
    assert rerun.exit_code == 0, rerun.output
    assert 0 < json.loads(rerun.output)["files"] <= FILES + 1 - len(sent) + 1
    assert _in_remote(example_repo, "data/many") is True

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(example_repo), str(clone))
    assert invoke(clone, "remote", "add", str(remote), "--name", "team").exit_code == 0
    pull = invoke(clone, "data", "pull", "data/many")
    assert pull.exit_code == 0, pull.output
    for i in range(FILES):
        name = f"part-{i:03d}.bin"
        assert (clone / "data" / "many" / name).read_bytes() == (folder / name).read_bytes()
