"""The registry still reads a clone that lacks some tagged commits (partial or damaged clones)."""

from __future__ import annotations

import json
from pathlib import Path

from gitmlops.adapters.git_repo import GitRepo
from tests.conftest import git, invoke
from tests.registry_fixtures import model_repo, model_template, write_model

__all__ = ["model_repo", "model_template"]


def test_tolerant_listing_matches_the_fast_one(model_repo: Path) -> None:
    assert invoke(model_repo, "registry", "register", "model").exit_code == 0
    assert invoke(model_repo, "registry", "promote", "model", "v0.1.0", "--stage", "prod").exit_code == 0
    repo = GitRepo(model_repo)
    fast = repo.annotated_tags(with_messages=True)
    tolerant = repo._annotated_tags_tolerant(True, ("refs/tags",))
    assert fast and tolerant == fast


def test_show_skips_tags_whose_commit_is_missing(model_repo: Path) -> None:
    first = git(model_repo, "rev-parse", "HEAD")
    assert invoke(model_repo, "registry", "register", "model").exit_code == 0
    write_model(model_repo, b"model two\n" * 10, message="model two")
    assert invoke(model_repo, "registry", "register", "model").exit_code == 0
    # Damage the clone: the first registered commit's object disappears.
    obj = model_repo / ".git" / "objects" / first[:2] / first[2:]
    assert obj.is_file()
    obj.unlink()
    result = invoke(model_repo, "registry", "show", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)["artifacts"][0]
    assert shown["latest"] == "v0.1.1" and shown["versions"] == 1
