"""Two registered models of one repository served by one process: the example's classifier
(``model``, trained by the pipeline) and a regressor declared as the monorepo artifact
``forecast:revenue``, both fetched through DVC and md5-checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import git, invoke
from tests.serve_fixtures import ServerProcess, free_port, gitmlops_argv, make_bundle, sample_records
from tests.test_serve_registry import promote_to_prod, sample_record

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def add_regressor(repo: Path) -> str:
    """``forecast:revenue``: a regressor trained with XGBoost, DVC-tracked, registered v1.0.0 and in prod."""
    folder = make_bundle(repo / "forecast", task="regression")
    (folder / "dvc.yaml").write_text("artifacts:\n  revenue:\n    path: model.ubj\n    type: model\n")
    subprocess.run([sys.executable, "-m", "dvc", "add", "forecast/model.ubj"], cwd=repo, check=True, capture_output=True,
                   timeout=120)
    git(repo, "add", "forecast")
    git(repo, "commit", "-q", "-m", "forecast: a revenue regressor")
    assert invoke(repo, "data", "push").exit_code == 0
    for args in (("register", "forecast:revenue", "--version", "v1.0.0"),
                 ("promote", "forecast:revenue", "v1.0.0", "--stage", "prod")):
        result = invoke(repo, "registry", *args)
        assert result.exit_code == 0, result.output
    return "forecast:revenue"


def test_serve_and_bundle_two_registered_models(trained_repo: Path, tmp_path: Path) -> None:
    name = promote_to_prod(trained_repo)
    revenue = add_regressor(trained_repo)
    refs = [f"{name}#prod", f"{revenue}#prod"]
    port = free_port()
    argv = gitmlops_argv("-C", str(trained_repo), "serve", *refs, "--port", str(port))
    record = sample_record(trained_repo)
    with ServerProcess(argv, port, cwd=tmp_path).start() as server:
        churn = requests.post(f"{server.url}/models/{name}/predict", json={"records": [record]}, timeout=10)
        forecast = requests.post(server.url + "/models/revenue/predict", json={"records": sample_records(2)},
                                 timeout=10)
        info = requests.get(server.url + "/info", timeout=5).json()
    assert churn.status_code == 200, churn.text
    assert churn.json()["model"] == f"{name}@v1.0.0" and "probability" in churn.json()["predictions"][0]
    assert forecast.status_code == 200, forecast.text
    assert forecast.json()["model"] == "forecast:revenue@v1.0.0"
    assert all("value" in p for p in forecast.json()["predictions"])
    listed = {m["route"]: m for m in info["models"]}
    assert set(listed) == {f"/models/{name}/predict", "/models/revenue/predict"}
    assert listed["/models/revenue/predict"]["stage"] == "prod"
    assert listed["/models/revenue/predict"]["schema"]["task"] == "regression"

    out = tmp_path / "bundle"
    result = invoke(trained_repo, "deploy", "bundle", *refs, "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    shape = json.loads(result.output)
    assert [(m["name"], m["model"]) for m in shape["models"]] == [
        (name, f"{name}@v1.0.0"), ("revenue", "forecast:revenue@v1.0.0")
    ]
    meta = json.loads((out / "models" / "revenue" / "metadata.json").read_text())
    assert meta["version"] == "v1.0.0" and meta["stage"] == "prod" and meta["md5"] == shape["models"][1]["md5"]
