"""End to end on the trained example project: register, promote, resolve and fetch the real model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import git, invoke


@pytest.mark.slow
def test_trained_model_round_trip(trained_repo: Path, tmp_path: Path) -> None:
    registered = invoke(trained_repo, "registry", "register", "model", "--json")
    assert registered.exit_code == 0, registered.output
    meta = json.loads(registered.output)["metadata"]
    model = trained_repo / "models" / "model.ubj"
    assert meta["artifact"]["md5"] == hashlib.md5(model.read_bytes()).hexdigest()
    assert meta["artifact"]["source"] == "dvc.lock"
    assert meta["deps"] and all(md5 for md5 in meta["deps"].values())  # the data behind the model
    assert meta["metrics"] and meta["params_hash"]
    assert meta["reference_profile"] == "models/reference_profile.bin"
    assert meta["commit"] == git(trained_repo, "rev-parse", "HEAD")

    promoted = invoke(trained_repo, "registry", "promote", "model", "v0.1.0", "--stage", "prod")
    assert promoted.exit_code == 0, promoted.output
    resolved = json.loads(invoke(trained_repo, "registry", "resolve", "model#prod", "--json").output)
    assert (resolved["version"], resolved["path"]) == ("v0.1.0", "models/model.ubj")
    out = tmp_path / "model.ubj"
    fetched = invoke(trained_repo, "registry", "get", "model#prod", "-o", str(out))
    assert fetched.exit_code == 0, fetched.output
    assert out.read_bytes() == model.read_bytes()
