"""The git adapter's own rules: the project root, paths the user types, creating a repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitmlops.adapters.git_repo import GitRepo, git_version, init_repo, project_root, user_path
from gitmlops.errors import NotAGitRepoError
from tests.conftest import git


def test_project_root_climbs_to_the_work_tree_top(git_repo: Path) -> None:
    deep = git_repo / "models" / "churn"
    deep.mkdir(parents=True)
    assert project_root(deep) == git_repo.resolve()
    assert project_root(deep, require_git=False) == git_repo.resolve()
    assert GitRepo(deep).root == git_repo.resolve()
    assert project_root(GitRepo(deep)) == git_repo.resolve()


def test_outside_git_the_root_is_refused_or_the_folder_itself(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir()
    with pytest.raises(NotAGitRepoError):
        project_root(loose)
    assert project_root(loose, require_git=False) == loose.resolve()
    with pytest.raises(NotAGitRepoError):
        project_root(tmp_path / "missing", require_git=False)


def test_user_paths_start_at_the_given_folder(git_repo: Path) -> None:
    sub = git_repo / "models"
    sub.mkdir()
    assert user_path(sub, "a.csv") == sub / "a.csv"
    assert user_path(sub, "/abs/a.csv") == Path("/abs/a.csv")
    assert user_path(GitRepo(sub), "a.csv") == sub.resolve() / "a.csv"  # where it was opened, not its top


def test_init_repo_creates_a_repository_on_main(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "new")
    assert repo.root == (tmp_path / "new").resolve()
    assert git(repo.root, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert repo.head_commit() is None
    assert (git_version() or "").startswith("git version ")
