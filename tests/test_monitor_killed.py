"""`gitmlops monitor profile` killed while it files a profile (a real process, a real SIGKILL at a
named step): git never sees a temporary file, readers never see a `.bin` without its `.json`, and
the next monitor command finishes (or discards) the interrupted pair."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitmlops.monitor import layout
from tests.conftest import git, invoke
from tests.test_monitor_cli import write_csv


def _kill_at(repo: Path, point: str) -> None:
    marker = repo.parent / "crash-marker"
    env = dict(os.environ, GITMLOPS_CRASH_POINT=point, GITMLOPS_CRASH_MARKER=str(marker))
    argv = [sys.executable, "-m", "gitmlops", "-C", str(repo), "monitor", "profile", "ref.csv", "--name", "train",
            "--jobs", "1"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def _staged_by_git(repo: Path) -> list[str]:
    """What the monitor workflow's `git add -A -- monitoring` would commit."""
    git(repo, "add", "-A", "--", "monitoring")
    return git(repo, "diff", "--cached", "--name-only").splitlines()


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


@pytest.fixture
def repo(git_repo: Path) -> Path:
    write_csv(git_repo / "ref.csv", rows=500)
    return git_repo


def test_kill_between_the_renames_is_finished_by_the_next_command(repo: Path) -> None:
    _kill_at(repo, "profile-between-renames")
    folder = repo / "monitoring" / "train"
    (summary,) = _visible(folder)
    assert summary.endswith(".json")  # the summary is in place, the .bin is not: no reader takes it for a profile
    staged = _staged_by_git(repo)
    assert staged == [f"monitoring/train/{summary}"]  # no temporary or staging file reaches git
    git(repo, "reset", "-q")

    shown = invoke(repo, "monitor", "show", "train", "--json")  # any reader finishes the pair
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["profile"]["rows"] == 500
    stem = summary.removesuffix(".json")
    assert _visible(folder) == [f"{stem}.bin", f"{stem}.json"]
    assert not any(p.name.startswith(".") for p in folder.iterdir())
    assert sorted(_staged_by_git(repo)) == [f"monitoring/train/{stem}.bin", f"monitoring/train/{stem}.json"]


def test_kill_before_the_pair_is_complete_leaves_nothing(repo: Path) -> None:
    _kill_at(repo, "profile-staged")
    folder = repo / "monitoring" / "train"
    assert _visible(folder) == []
    assert _staged_by_git(repo) == []  # the staging folder ignores itself
    assert layout.profiles_of(folder) == []  # and the reader discards the unfinished write
    assert list(folder.iterdir()) == []

    again = invoke(repo, "monitor", "profile", "ref.csv", "--name", "train", "--json")
    assert again.exit_code == 0, again.output
    (filed,) = json.loads(again.output)["profiles"]
    assert _visible(folder) == sorted([Path(filed["path"]).name, Path(filed["summary"]).name])


def test_collect_skips_a_servers_staging_folder(repo: Path) -> None:
    import pandas as pd

    from gitmlops.monitor import profile_dataframe, write_profile

    inbox = repo / "serving" / "profiles"
    write_profile(profile_dataframe(pd.read_csv(repo / "ref.csv")), inbox / "20260101T000000Z.bin")
    busy = inbox / ".incoming-busy"  # a server writing its next profile at this moment
    busy.mkdir()
    (busy / "20260101T000100Z.bin").write_bytes(b"half written")
    result = invoke(repo, "monitor", "collect", "serving/profiles", "--name", "requests", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["merged"] == 1
