"""`gitmlops lineage` and `gitmlops status` on real repos."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gitmlops.errors import EXIT_USAGE
from tests.conftest import git, invoke
from tests.test_verify import private_remote

VERDICTS = {"drift", "possible_drift", "no_drift"}


def _ok(repo: Path, *args: str) -> str:
    result = invoke(repo, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.slow
def test_lineage_of_a_promoted_version(trained_repo: Path, tmp_path: Path) -> None:
    repo = trained_repo
    _ok(repo, "registry", "register", "model")
    private_remote(repo, tmp_path)  # the new model is pushed: keep the shared remote as it is
    _ok(repo, "run", "-q", "train.max_depth=3")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "shallower trees")
    _ok(repo, "data", "push")
    _ok(repo, "registry", "register", "model", "--bump", "minor")
    _ok(repo, "registry", "promote", "model", "v0.2.0", "--stage", "prod")
    _ok(repo, "monitor", "profile", "data/churn.csv", "--name", "production")

    found = json.loads(_ok(repo, "lineage", "model#prod", "--json"))

    assert (found["name"], found["version"], found["tag"]) == ("model", "v0.2.0", "model@v0.2.0")
    assert found["commit"] == git(repo, "rev-parse", "HEAD") == found["code"]["commit"]
    assert found["code"]["subject"] == "shallower trees"
    assert found["artifact"]["path"] == "models/model.ubj" and found["artifact"]["md5"]
    (data,) = found["data"]
    assert data["path"] == "data/churn.csv" and data["tracked_by"] == "data/churn.csv.dvc"
    assert [c["subject"] for c in data["commits"]] == ["gitmlops init --example"]
    assert found["previous_version"] == "v0.1.0"
    assert {"key": "train.max_depth", "previous": 4, "current": 3} in found["params_changed"]
    assert all(c["key"].startswith("train.") for c in found["params_changed"])
    assert found["params_hash"] and found["metrics"]["auc"] > 0
    assert [(e["event"], e["stage"]) for e in found["events"]] == [("register", None), ("assign", "prod")]
    assert found["reference_profile"]["path"] == "models/reference_profile.bin"
    assert found["reference_profile"]["md5"]
    production = found["production"]
    assert production["dataset"] == "production" and production["profile"].startswith("monitoring/production/")
    assert production["verdict"] in VERDICTS and production["rows"] == 4000

    text = _ok(repo, "lineage", "model@v0.1.0", "--no-drift")
    assert "(none: first version)" in text and "data/churn.csv" in text and "register" in text
    assert json.loads(_ok(repo, "lineage", "model@v0.1.0", "--no-drift", "--json"))["production"] is None


def test_lineage_bad_input(trained_repo: Path) -> None:
    result = invoke(trained_repo, "lineage", "model@v1.0.0")
    assert result.exit_code == EXIT_USAGE and "has no registry tags" in result.output
    _ok(trained_repo, "registry", "register", "model")
    result = invoke(trained_repo, "lineage", "model@v0.1.0", "--dataset", "nope")
    assert result.exit_code == EXIT_USAGE and "no profiles" in result.output


@pytest.mark.slow
def test_status_shows_registry_staleness_data_and_drift(trained_repo: Path) -> None:
    repo = trained_repo
    _ok(repo, "registry", "register", "model")
    _ok(repo, "registry", "promote", "model", "v0.1.0", "--stage", "staging")

    found = json.loads(_ok(repo, "status", "--json"))
    assert found["stages"] == ["dev", "staging", "prod"]
    (artifact,) = found["artifacts"]
    assert artifact["latest"] == "v0.1.0" and artifact["stages"] == {"dev": None, "staging": "v0.1.0", "prod": None}
    # The hashes computed without DVC agree with DVC's (folders included): nothing is stale.
    assert found["pipeline"]["up_to_date"] is True, found["pipeline"]
    paths = {d["path"]: d for d in found["data"]}
    assert {"data/churn.csv", "data/prepared", "models/model.ubj"} <= set(paths)
    assert "metrics.json" not in paths  # cache: false, lives in git
    assert all(d["state"] == "unchanged" and d["in_remote"] is None for d in found["data"])
    assert found["pushed"] is None
    assert [d["dataset"] for d in found["drift"]] == ["churn"]  # `data add` profiled the training data
    assert found["drift"][0]["verdict"] in VERDICTS

    assert json.loads(_ok(repo, "status", "--json", "--remote"))["pushed"] is True

    csv = repo / "data" / "churn.csv"
    csv.write_text(csv.read_text() + csv.read_text().splitlines()[1] + "\n")
    (repo / "conf" / "train" / "default.yaml").write_text(
        (repo / "conf" / "train" / "default.yaml").read_text().replace("max_depth: 4", "max_depth: 5"))
    found = json.loads(_ok(repo, "status", "--json"))
    pipeline = found["pipeline"]
    assert pipeline["up_to_date"] is False and pipeline["stale_files"] == ["params.yaml"]
    prepare = next(s for s in pipeline["stages"] if s["name"] == "prepare")
    assert prepare["changes"] == ["dep data/churn.csv modified"]
    assert next(d for d in found["data"] if d["path"] == "data/churn.csv")["state"] == "modified"
    text = _ok(repo, "status")
    assert "STALE" in text and "params.yaml differs from conf/" in text and "v0.1.0" in text


def test_status_imports_neither_dvc_nor_whylogs_when_warm(trained_repo: Path) -> None:
    _ok(trained_repo, "status")  # computes and memoises the drift verdict
    code = (
        "import sys; from gitmlops.cli import run; "
        f"rc = run(['-C', {str(trained_repo)!r}, 'status', '--json']); "
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'dvc', 'whylogs', 'hydra', 'pandas', 'git'}); "
        "print(rc, heavy, file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.strip().splitlines()[-1] == "0 []"


def test_status_outside_a_pipeline(git_repo: Path) -> None:
    found = json.loads(_ok(git_repo, "status", "--json"))
    assert found["artifacts"] == [] and found["data"] == [] and found["drift"] == []
    assert found["pipeline"]["up_to_date"] is True
    assert "no artifacts registered yet" in _ok(git_repo, "status")
