"""Registry test repos: a small DVC project with a declared model artifact, built once per session.

The template has a bare git remote ("origin") and a DVC remote next to it, so tests can push both.
Copies share the DVC remote (content-addressed, so sharing is harmless) but get their own bare git
remote.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gitmlops.adapters.dvc_repo import DvcRepo
from tests.conftest import git, init_git

DVC_YAML = """\
artifacts:
  model:
    path: models/model.bin
    type: model
    desc: a test model
"""
PARAMS = """\
paths:
  metrics: metrics.json
  reference_profile: models/reference_profile.bin
registry:
  stages: [dev, staging, prod]
  deploy_stage: prod
max_depth: 4
"""


def write_model(repo: Path, content: bytes, push: bool = True, message: str = "model") -> str:
    """Write models/model.bin, track it with DVC, commit, push its data; returns the new commit."""
    (repo / "models").mkdir(exist_ok=True)
    (repo / "models" / "model.bin").write_bytes(content)
    (repo / "metrics.json").write_text(json.dumps({"auc": round(len(content) / 1000, 3)}))
    with DvcRepo(repo) as dvc:
        dvc.add(["models/model.bin"])
        if push:
            dvc.push()
    git(repo, "add", "models/model.bin.dvc", "models/.gitignore", "metrics.json")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def build_model_repo(base: Path) -> Path:
    """A git + DVC repo with artifact `model` declared in dvc.yaml, committed and pushed."""
    repo = init_git(base / "repo")
    remote = base / "dvc-remote"
    remote.mkdir()
    with DvcRepo.init(repo) as dvc:
        dvc.add_remote("local", str(remote))
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "params.yaml").write_text(PARAMS)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "set up")
    write_model(repo, b"model one\n" * 10, message="model one")
    return repo


def with_origin(repo: Path, base: Path) -> Path:
    """Give ``repo`` a bare remote `origin` holding its branch; returns the bare repo's path."""
    bare = base / "origin.git"
    git(base, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    return bare


@pytest.fixture(scope="session")
def model_template(tmp_path_factory: pytest.TempPathFactory, hermetic_env: None) -> Path:
    """The registry template repo (built once per session)."""
    return build_model_repo(tmp_path_factory.mktemp("registry-template"))


@pytest.fixture
def model_repo(tmp_path: Path, model_template: Path) -> Path:
    """A fresh copy of the registry template with its own bare `origin`."""
    repo = tmp_path / "repo"
    shutil.copytree(model_template, repo, symlinks=True)
    with_origin(repo, tmp_path)
    return repo
