"""Experiments that can be kept, and a registry that only tags honest pipelines (issue 12, point 6).

Through the CLI on the trained example project, with real DVC experiments.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitmlops.errors import EXIT_USAGE
from tests.conftest import git, invoke


def tags(repo: Path) -> list[str]:
    return git(repo, "tag", "--list").split()


def set_line(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, path)
    path.write_text(text.replace(old, new, 1))


@pytest.mark.slow
def test_register_refuses_a_lock_that_disagrees_with_params(trained_repo: Path) -> None:
    set_line(trained_repo / "conf" / "train" / "default.yaml", "max_depth: 4", "max_depth: 6")
    assert invoke(trained_repo, "pipeline", "sync").exit_code == 0
    git(trained_repo, "commit", "-qam", "deeper trees, not trained")
    before = git(trained_repo, "status", "--porcelain")

    refused = invoke(trained_repo, "registry", "register", "model")
    assert refused.exit_code == EXIT_USAGE, refused.output
    assert "train.max_depth=4, but params.yaml says 6" in refused.output
    assert "--force" in refused.output and "gitmlops run" in refused.output
    assert tags(trained_repo) == [] and git(trained_repo, "status", "--porcelain") == before

    forced = invoke(trained_repo, "registry", "register", "model", "--force", "--json")
    assert forced.exit_code == 0, forced.output
    recorded = json.loads(forced.output)["metadata"]["forced"]
    assert any("train.max_depth=4" in p for p in recorded)
    shown = json.loads(invoke(trained_repo, "registry", "show", "model", "--json").output)
    assert shown["versions"][0]["forced"] == recorded
    table = invoke(trained_repo, "registry", "show", "model").output
    assert "forced" in table.splitlines()[0] and "yes" in table.splitlines()[-1]


@pytest.mark.slow
def test_register_refuses_a_stale_pipeline_until_it_is_rerun(trained_repo: Path) -> None:
    data = trained_repo / "data" / "churn.csv"
    lines = data.read_text().splitlines(keepends=True)
    data.write_text("".join(lines[: len(lines) // 2]))  # half the rows: new data, model not retrained
    assert invoke(trained_repo, "data", "add", "data/churn.csv").exit_code == 0
    git(trained_repo, "commit", "-qam", "new data")

    refused = invoke(trained_repo, "registry", "register", "model")
    assert refused.exit_code == EXIT_USAGE, refused.output
    assert "stage 'prepare' is stale: its input data/churn.csv changed since it ran" in refused.output
    assert tags(trained_repo) == []

    assert invoke(trained_repo, "run").exit_code == 0
    git(trained_repo, "add", "-A")
    git(trained_repo, "commit", "-qm", "retrained")
    assert invoke(trained_repo, "data", "push").exit_code == 0
    registered = invoke(trained_repo, "registry", "register", "model", "--json")
    assert registered.exit_code == 0, registered.output
    assert "forced" not in json.loads(registered.output)["metadata"]
