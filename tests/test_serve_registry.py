"""Serving registry references of a trained example repo: model#prod, model@vX.Y.Z, fetched via DVC."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import requests

from gitmlops.adapters.dvc_repo import DvcRepo
from tests.conftest import invoke
from tests.serve_fixtures import ServerProcess, free_port, gitmlops_argv

pytestmark = [pytest.mark.slow]


def artifact_name(repo: Path) -> str:
    result = invoke(repo, "registry", "show", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["artifacts"][0]["name"]


def promote_to_prod(repo: Path) -> str:
    """The example model registered as v1.0.0 and assigned to prod; returns its name."""
    from gitmlops.registry import register

    name = "model"
    register(repo, name, version="v1.0.0")
    result = invoke(repo, "registry", "promote", name, "v1.0.0", "--stage", "prod")
    assert result.exit_code == 0, result.output
    return name


def sample_record(repo: Path) -> dict[str, Any]:
    schema = json.loads((repo / "models" / "schema.json").read_text())
    values = {"int": 1, "float": 0.5, "bool": True}
    return {f["name"]: f["categories"][0] if f["type"] == "category" else values[f["type"]] for f in schema["features"]}


def test_serve_and_bundle_a_stage_reference(trained_repo: Path, tmp_path: Path) -> None:
    name = promote_to_prod(trained_repo)
    out = tmp_path / "bundle"
    result = invoke(trained_repo, "deploy", "bundle", f"{name}#prod", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["model"] == f"{name}@v1.0.0"
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["version"] == "v1.0.0" and meta["stage"] == "prod" and len(meta["commit"]) == 40
    assert meta["metrics"], "training metrics from metrics.json at the commit"
    assert (out / "schema.json").read_bytes() == (trained_repo / "models" / "schema.json").read_bytes()

    port = free_port()
    argv = gitmlops_argv("-C", str(trained_repo), "serve", f"{name}#prod", "--port", str(port))
    record = sample_record(trained_repo)
    with ServerProcess(argv, port, cwd=tmp_path).start() as server:
        answer = requests.post(server.url + "/predict", json={"records": [record, record]}, timeout=10)
        info = requests.get(server.url + "/info", timeout=5).json()["model"]
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == f"{name}@v1.0.0"
    assert len(answer.json()["predictions"]) == 2
    assert info["tag"] == f"{name}@v1.0.0" and info["version"] == "v1.0.0" and info["stage"] == "prod"
    assert info["md5"] == meta["md5"]


def test_artifact_missing_from_cache_and_remote(trained_repo: Path) -> None:
    name = promote_to_prod(trained_repo)
    with DvcRepo(trained_repo) as dvc:
        remote = Path(dvc.remotes()["local"]["url"])
        cache = Path(dvc.repo.cache.local.path)
    moved = trained_repo.parent / "remote-away"
    shutil.move(remote, moved)  # the remote is shared with the template: put it back afterwards
    try:
        shutil.rmtree(cache)
        result = invoke(trained_repo, "serve", f"{name}@v1.0.0", "--port", str(free_port()))
    finally:
        shutil.move(moved, remote)
    assert result.exit_code == 3  # the remote lacks it: an external failure, named
    assert "neither in the DVC cache nor in DVC remote 'local'" in result.output, result.output


def test_corrupt_cached_artifact_is_refused(trained_repo: Path) -> None:
    name = promote_to_prod(trained_repo)
    lock = (trained_repo / "dvc.lock").read_text()
    import yaml

    outs = [o for s in yaml.safe_load(lock)["stages"].values() for o in s.get("outs", [])]
    md5 = next(o["md5"] for o in outs if o["path"].endswith("model.ubj"))
    with DvcRepo(trained_repo) as dvc:
        cached = Path(dvc.repo.cache.local.oid_to_path(md5))
    cached.chmod(0o644)
    cached.write_bytes(cached.read_bytes() + b"tampered")
    result = invoke(trained_repo, "serve", f"{name}#prod", "--port", str(free_port()))
    assert result.exit_code != 0
    assert "md5" in result.output and "corrupt" in result.output, result.output
