"""Racing `promote --push` from several clones against one bare remote: each counter value is used
exactly once, nothing is lost, and a writer that cannot win fails clearly without leaving a tag."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gitmlops import registry
from gitmlops.adapters.git_repo import GitRepo
from gitmlops.errors import ExternalError
from gitmlops.registry.actions import counter_ref
from gitmlops.registry.tags import parse_tag
from tests.conftest import git
from tests.registry_fixtures import model_repo, model_template

__all__ = ["model_repo", "model_template"]

WRITERS = 6
STAGES = ["dev", "staging", "prod"]


def test_parallel_promotions_use_each_counter_once(model_repo: Path, tmp_path: Path) -> None:
    registry.register(model_repo, "model", push=True)
    origin = model_repo.parent / "origin.git"
    clones = []
    for i in range(WRITERS):
        clone = tmp_path / f"clone{i}"
        git(tmp_path, "clone", "-q", str(origin), str(clone))
        clones.append(clone)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gitmlops", "-C", str(clone), "registry", "promote", "model", "v0.1.0",
             "--stage", STAGES[i % len(STAGES)], "--force", "--push", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i, clone in enumerate(clones)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    results = [json.loads(out) for out, _ in outputs]

    remote_tags = git(origin, "tag", "--list").split()
    counters = sorted(t.counter for t in map(parse_tag, remote_tags) if t and t.counter is not None)
    assert counters == list(range(1, WRITERS + 1))  # every value exactly once, none lost
    assert sorted(r["counter"] for r in results) == counters
    assert all(r["tag"] in remote_tags for r in results)
    # the compare-and-swap ref ends at the last event
    last = next(r for r in results if r["counter"] == WRITERS)
    assert git(origin, "rev-parse", counter_ref("model")) == git(origin, "rev-parse", f"refs/tags/{last['tag']}")
    assert any(r["attempts"] > 1 for r in results) or WRITERS == 1  # someone lost a race and retried
    # every clone agrees with the remote once it has fetched
    git(clones[0], "fetch", "-q", "origin", "refs/tags/*:refs/tags/*")
    shown = registry.show(clones[0]).artifacts["model"]
    assert shown.counter == WRITERS


def test_a_writer_that_keeps_losing_fails_clearly(model_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry.register(model_repo, "model", push=True)
    origin = model_repo.parent / "origin.git"
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    registry.promote(other, "model", "v0.1.0", "dev", push=True)  # the remote moves on to counter 1
    # This writer never sees the remote's new state (an error path: fetch is stubbed out), so each
    # attempt computes counter 1 again and the remote's compare-and-swap refuses it.
    monkeypatch.setattr(GitRepo, "fetch_refs", lambda self, remote, refspecs: None)
    before = set(git(model_repo, "tag", "--list").split())
    with pytest.raises(ExternalError, match="gave up after 3 attempts"):
        registry.promote(model_repo, "model", "v0.1.0", "prod", push=True, attempts=3)
    assert set(git(model_repo, "tag", "--list").split()) == before
    assert "model#prod#1" not in git(origin, "tag", "--list").split()


def test_parallel_local_promotions_in_one_clone_use_each_counter_once(model_repo: Path) -> None:
    registry.register(model_repo, "model")
    writers = 6
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gitmlops", "-C", str(model_repo), "registry", "promote", "model", "v0.1.0",
             "--stage", STAGES[i % len(STAGES)], "--force", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(writers)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    tags = git(model_repo, "tag", "--list").split()
    counters = sorted(t.counter for t in map(parse_tag, tags) if t and t.counter is not None)
    assert counters == list(range(1, writers + 1))
    assert sorted(json.loads(out)["counter"] for out, _ in outputs) == counters
