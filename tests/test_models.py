"""Several models in one repository: `init --model`, the model resolver, `run` over every model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitmlops.errors import EXIT_USAGE
from tests.conftest import git, init_git, invoke


def _tree(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in repo.rglob("*")
            if p.is_file() and not str(p.relative_to(repo)).startswith((".git/", ".dvc/tmp", ".dvc/cache"))}


@pytest.fixture(scope="session")
def models_template(tmp_path_factory: pytest.TempPathFactory, hermetic_env: None) -> Path:
    """A repo after `gitmlops init --example models` (churn, plan, revenue), committed."""
    repo = init_git(tmp_path_factory.mktemp("template-models") / "repo")
    result = invoke(repo, "init", "--example", "models")
    assert result.exit_code == 0, result.output
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "three models")
    return repo


@pytest.fixture(scope="session")
def models_ran_template(models_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three-model repo after one `gitmlops run` over every model, committed."""
    repo = tmp_path_factory.mktemp("template-models-ran") / "repo"
    shutil.copytree(models_template, repo, symlinks=True)
    result = invoke(repo, "run", "--json")
    assert result.exit_code == 0, result.output
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "run every model")
    return repo


@pytest.fixture
def models_repo(models_template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(models_template, tmp_path / "repo", symlinks=True))


@pytest.fixture
def models_ran(models_ran_template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(models_ran_template, tmp_path / "repo", symlinks=True))


def test_init_example_models_layout(models_repo: Path) -> None:
    manifest = yaml.safe_load((models_repo / "gitmlops.yaml").read_text())
    assert manifest["models"] == {n: {"dir": f"models/{n}"} for n in ("churn", "plan", "revenue")}
    for name, target in (("churn", "churned"), ("plan", "plan"), ("revenue", "monthly_charges")):
        folder = models_repo / "models" / name
        data = yaml.safe_load((folder / "conf" / "data" / "default.yaml").read_text())
        assert data["path"] == "../../data/churn.csv" and data["target"] == target
        assert yaml.safe_load((folder / "conf" / "model" / "xgb.yaml").read_text())["name"] == name
        dvc_yaml = yaml.safe_load((folder / "dvc.yaml").read_text())
        assert list(dvc_yaml["artifacts"]) == [name]
    # the shared table is tracked once, at its place
    assert sorted(p.relative_to(models_repo).as_posix() for p in models_repo.rglob("*.csv.dvc")) == ["data/churn.csv.dvc"]
    assert not (models_repo / "conf").exists() and not (models_repo / "dvc.yaml").exists()
    assert "**/monitoring/**/*.bin diff=whylogs" in (models_repo / ".gitattributes").read_text()


def test_init_model_adds_a_fourth_and_is_idempotent(models_repo: Path) -> None:
    result = invoke(models_repo, "init", "--model", "fraud", "--dir", "teams/risk/fraud")
    assert result.exit_code == 0, result.output
    assert "created      teams/risk/fraud/conf/config.yaml" in result.output
    assert (models_repo / "teams/risk/fraud/dvc.yaml").is_file()
    assert yaml.safe_load((models_repo / "gitmlops.yaml").read_text())["models"]["fraud"] == {"dir": "teams/risk/fraud"}
    before = _tree(models_repo)
    again = invoke(models_repo, "init", "--model", "fraud")
    assert again.exit_code == 0, again.output
    assert "nothing to do" in again.output
    assert _tree(models_repo) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "x", "--dir", "../elsewhere"], "is outside the repository"),
        (["--model", "x", "--dir", "models/churn/sub"], "overlaps the folder 'models/churn' of model 'churn'"),
        (["--model", "churn", "--dir", "other"], "model 'churn' already lives in 'models/churn'"),
        (["--model", "bad name"], "invalid model name 'bad name'"),
        (["--model", "x", "--dir", ".git/x"], "is inside .git/"),
        (["--dir", "models/x"], "--dir names the folder of a model"),
    ],
)
def test_init_model_refusals_write_nothing(models_repo: Path, args: list[str], message: str) -> None:
    before = _tree(models_repo)
    result = invoke(models_repo, "init", *args)
    assert result.exit_code == EXIT_USAGE, result.output
    assert message in result.output
    assert _tree(models_repo) == before
    assert git(models_repo, "status", "--porcelain") == ""


def test_resolver_by_option_cwd_subfolder_and_errors(models_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    by_option = invoke(models_repo, "--model", "plan", "pipeline", "show", "--json")
    assert by_option.exit_code == 0, by_option.output
    after = invoke(models_repo, "pipeline", "show", "--model", "plan", "--json")
    assert after.exit_code == 0 and json.loads(after.output) == json.loads(by_option.output)
    # -C a model's subfolder (any depth) means that model
    deep = models_repo / "models" / "revenue" / "conf" / "train"
    by_dir = invoke(deep, "pipeline", "sync", "--check", "--json")
    assert by_dir.exit_code == 0, by_dir.output
    monkeypatch.chdir(models_repo / "models" / "churn" / "conf")
    by_cwd = invoke(None, "pipeline", "show", "--json")
    assert by_cwd.exit_code == 0, by_cwd.output
    assert json.loads(by_cwd.output)["stages"][0]["deps"] == ["../../data/churn.csv"]

    unknown = invoke(models_repo, "--model", "nope", "pipeline", "show")
    assert unknown.exit_code == EXIT_USAGE
    assert "unknown model 'nope' (models: churn, plan, revenue)" in unknown.output
    which = invoke(models_repo, "pipeline", "show")
    assert which.exit_code == EXIT_USAGE
    assert "several models (churn, plan, revenue): which one?" in which.output


def test_bad_manifest_is_a_clear_error(models_repo: Path) -> None:
    (models_repo / "gitmlops.yaml").write_text("models:\n  a: {dir: ../out}\n")
    result = invoke(models_repo, "--model", "a", "pipeline", "show")
    assert result.exit_code == EXIT_USAGE
    assert "model folder '../out' of model 'a' is outside the repository" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--model", "nope", "run"],
        ["--model", "nope", "run", "--sweep", "train.max_depth=2,3"],
        ["--model", "nope", "registry", "register"],
        ["registry", "register", "--model", "nope"],
        ["--model", "nope", "monitor", "profile", "data/churn.csv"],
        ["--model", "nope", "exp", "show"],
        ["--model", "nope", "report", "--base", "HEAD"],
        ["--model", "nope", "serve", "churn#prod"],
        ["--model", "nope", "status"],
    ],
)
def test_an_unknown_model_lists_the_known_ones_and_writes_nothing(models_repo: Path, args: list[str]) -> None:
    before = _tree(models_repo)
    result = invoke(models_repo, *args)
    assert result.exit_code == EXIT_USAGE, result.output
    assert "unknown model 'nope' (models: churn, plan, revenue)" in result.output
    assert _tree(models_repo) == before and git(models_repo, "tag") == ""


@pytest.mark.parametrize(
    "args",
    [
        ["registry", "register", "empty", "--version", "v1.0.0"],
        ["registry", "promote", "empty", "v1.0.0", "--stage", "prod"],
        ["registry", "history", "empty"],
        ["serve", "empty#prod"],
        ["deploy", "bundle", "empty#prod", "-o", "out"],
        ["monitor", "diff", "-r", "empty#prod", "-t", "data/churn.csv"],
        ["lineage", "empty@v1.0.0"],
        ["verify", "empty@v1.0.0"],
    ],
)
def test_a_reference_to_a_model_without_pipeline_is_refused(models_repo: Path, args: list[str]) -> None:
    manifest = models_repo / "gitmlops.yaml"
    manifest.write_text(manifest.read_text() + "  empty: {dir: models/empty}\n")
    (models_repo / "models" / "empty").mkdir()
    before = _tree(models_repo)
    result = invoke(models_repo, *args)
    assert result.exit_code == EXIT_USAGE, result.output
    assert "model 'empty' has no pipeline: models/empty/dvc.yaml is missing" in result.output
    assert _tree(models_repo) == before and git(models_repo, "tag") == ""


def test_run_all_models_one_table_each_then_nothing(models_ran: Path) -> None:
    for name in ("churn", "plan", "revenue"):
        assert (models_ran / "models" / name / "dvc.lock").is_file()
        assert (models_ran / "models" / name / "models" / "model.ubj.dvc").exists() is False
    metrics = {n: json.loads((models_ran / "models" / n / "metrics.json").read_text()) for n in ("churn", "plan", "revenue")}
    assert "auc" in metrics["churn"] and "macro_f1" in metrics["plan"] and "rmse" in metrics["revenue"]

    again = invoke(models_ran, "run")
    assert again.exit_code == 0, again.output
    assert "nothing changed: every model's stages are up to date" in again.output

    train = models_ran / "models" / "plan" / "conf" / "train" / "default.yaml"
    train.write_text(train.read_text().replace("max_depth: 4", "max_depth: 3"))
    one = invoke(models_ran, "run")
    assert one.exit_code == 0, one.output
    assert "plan: ran train, evaluate" in one.output and "macro_f1" in one.output
    assert "churn: ran" not in one.output and "up to date: churn, revenue" in one.output

    as_json = json.loads(invoke(models_ran, "run", "--json").output)
    assert list(as_json["models"]) == ["churn", "plan", "revenue"]
    assert as_json["models"]["plan"]["ran"] == [] and "macro_f1" in as_json["models"]["plan"]["metrics"]


def test_run_all_refuses_two_models_writing_one_path(models_repo: Path) -> None:
    paths = models_repo / "models" / "plan" / "conf" / "config.yaml"
    paths.write_text(paths.read_text().replace("metrics: metrics.json", "metrics: ../churn/metrics.json"))
    before = _tree(models_repo)
    result = invoke(models_repo, "run")
    assert result.exit_code == EXIT_USAGE, result.output
    assert "models 'churn' and 'plan' both write models/churn/metrics.json" in result.output
    assert _tree(models_repo) == before


def test_run_all_refuses_two_models_declaring_one_artifact(models_repo: Path) -> None:
    xgb = models_repo / "models" / "revenue" / "conf" / "model" / "xgb.yaml"
    xgb.write_text(xgb.read_text().replace("name: revenue", "name: churn"))
    before = _tree(models_repo)
    result = invoke(models_repo, "run")
    assert result.exit_code == EXIT_USAGE, result.output
    assert _tree(models_repo) == before
    assert "models 'churn' and 'revenue' both declare the artifact name 'churn'" in result.output
    overrides = invoke(models_repo, "run", "train.max_depth=3")
    assert overrides.exit_code == EXIT_USAGE and "pass --model NAME" in overrides.output


def test_sweep_show_diff_apply_per_model(models_ran: Path) -> None:
    swept = invoke(models_ran, "--model", "churn", "run", "--sweep", "train.max_depth=2,3", "--json")
    assert swept.exit_code == 0, swept.output
    rows = json.loads(invoke(models_ran, "exp", "show", "--model", "churn", "--json").output)
    depths = sorted(r["params"]["train.max_depth"] for r in rows if not r["baseline"])
    assert depths == [2, 3]
    assert all("auc" in r["metrics"] and "rmse" not in r["metrics"] for r in rows)
    # the other models' tables do not show churn's experiments
    plan_rows = json.loads(invoke(models_ran, "--model", "plan", "exp", "show", "--json").output)
    assert [r["baseline"] for r in plan_rows] == [True]
    name = next(r["name"] for r in rows if r["params"].get("train.max_depth") == 2)
    applied = invoke(models_ran, "--model", "churn", "exp", "apply", name)
    assert applied.exit_code == 0, applied.output
    assert "max_depth: 2" in (models_ran / "models/churn/conf/train/default.yaml").read_text()
    assert "max_depth: 4" in (models_ran / "models/plan/conf/train/default.yaml").read_text()
    diff = json.loads(invoke(models_ran, "--model", "churn", "exp", "diff", "--json").output)
    assert {p["file"] for p in diff["params"]} == {"models/churn/params.yaml"}


def test_three_models_register_monitor_verify_lineage(models_ran: Path, tmp_path: Path) -> None:
    """A binary classifier, a multi-class classifier and a regressor side by side, through the registry,
    monitoring, lineage and verification."""
    assert invoke(models_ran, "data", "push").exit_code == 0
    assert invoke(models_ran, "registry", "register", "churn", "--version", "v1.0.0").exit_code == 0
    plan = invoke(models_ran, "--model", "plan", "registry", "register", "--bump", "minor")
    assert plan.exit_code == 0, plan.output
    assert "registered models/plan:plan@v0.1.0 (tag models/plan=plan@v0.1.0" in plan.output
    revenue = invoke(models_ran / "models" / "revenue" / "conf", "registry", "register", "revenue", "--version", "v0.2.0")
    assert revenue.exit_code == 0, revenue.output
    promoted = invoke(models_ran, "registry", "promote", "churn", "v1.0.0", "--stage", "prod")
    assert promoted.exit_code == 0, promoted.output

    shown = json.loads(invoke(models_ran, "registry", "show", "--json").output)
    names = {a["name"]: a for a in shown["artifacts"]}
    assert set(names) == {"models/churn:churn", "models/plan:plan", "models/revenue:revenue"}
    assert names["models/churn:churn"]["stages"]["prod"] == "v1.0.0"
    versions = json.loads(invoke(models_ran, "--model", "revenue", "registry", "show", "--json").output)
    assert versions["name"] == "models/revenue:revenue" and [v["version"] for v in versions["versions"]] == ["v0.2.0"]
    history = json.loads(invoke(models_ran, "registry", "history", "churn", "--json").output)
    assert [e["event"] for e in history] == ["register", "assign"]
    resolved = json.loads(invoke(models_ran / "models" / "plan", "registry", "resolve", "churn#prod", "--json").output)
    assert resolved["name"] == "models/churn:churn" and resolved["path"] == "models/churn/models/model.ubj"

    # monitoring: each model files profiles in its own monitoring/, thresholds from its own conf/
    from gitmlops.example import write_csv

    drifted = write_csv(tmp_path / "drifted.csv", n_rows=1500, seed=3, drifted=True)
    profiled = invoke(models_ran, "--model", "revenue", "monitor", "profile", str(drifted), "--name", "prod", "--json")
    assert profiled.exit_code == 0, profiled.output
    assert list((models_ran / "models" / "revenue" / "monitoring" / "prod").glob("*.bin"))
    assert not (models_ran / "monitoring" / "prod").exists()
    report = json.loads(invoke(models_ran, "monitor", "diff", "-r", "churn#prod", "-t", str(drifted), "--json").output)
    assert report["verdict"] in ("drift", "possible_drift")
    assert "models/churn/models/reference_profile.bin" in report["reference"]

    lineage = json.loads(invoke(models_ran, "lineage", "revenue@v0.2.0", "--json").output)
    assert [d["path"] for d in lineage["data"]] == ["data/churn.csv"]
    assert lineage["production"]["dataset"] == "prod" and lineage["production"]["verdict"] is not None
    assert "rmse" in lineage["metrics"]

    verified = invoke(models_ran, "verify", "plan@v0.1.0", "--json")
    assert verified.exit_code == 0, verified.output
    found = json.loads(verified.output)
    assert found["reproduced"] is True
    # the model file rebuilds byte for byte from the model's own folder of the commit
    assert found["name"] == "models/plan:plan" and found["artifact"] == "models/plan/models/model.ubj"
    assert found["reproduced_md5"] == found["registered_md5"] is not None

    # status: one overview of every model
    status = json.loads(invoke(models_ran, "status", "--json").output)
    models = {m["name"]: m for m in status["models"]}
    assert list(models) == ["churn", "plan", "revenue"]
    assert models["churn"]["stages"]["prod"] == "v1.0.0" and models["revenue"]["latest"] == "v0.2.0"
    assert models["plan"]["verify"]["version"] == "v0.1.0" and models["plan"]["verify"]["reproduced"] is True
    assert models["churn"]["verify"] is None
    assert [d["dataset"] for d in models["revenue"]["drift"]] == ["prod"] and models["churn"]["drift"] == []
    assert models["revenue"]["drift"][0]["verdict"] in ("drift", "possible_drift", "no_drift")
    assert all(m["pipeline"]["up_to_date"] for m in models.values()) and status["pipeline"]["up_to_date"]
    train = models_ran / "models" / "revenue" / "conf" / "train" / "default.yaml"
    train.write_text(train.read_text().replace("max_depth: 4", "max_depth: 5"))
    text = invoke(models_ran, "status")
    assert text.exit_code == 0, text.output
    rows = {line.split()[0]: line for line in text.output.splitlines() if line.split()[:1] in (["churn"], ["revenue"])}
    assert "v1.0.0" in rows["churn"] and "up to date" in rows["churn"] and "STALE" in rows["revenue"]
    assert "models/revenue/params.yaml differs from conf/" in text.output
    one = json.loads(invoke(models_ran, "--model", "plan", "status", "--json").output)
    assert [m["name"] for m in one["models"]] == ["plan"]

    # a reference to a model whose folder has no pipeline
    manifest = models_ran / "gitmlops.yaml"
    manifest.write_text(manifest.read_text() + "  empty: {dir: models/empty}\n")
    (models_ran / "models" / "empty").mkdir()
    empty = invoke(models_ran, "registry", "resolve", "empty#prod")
    assert empty.exit_code == EXIT_USAGE
    assert "model 'empty' has no pipeline: models/empty/dvc.yaml is missing" in empty.output


def test_report_one_section_per_changed_model(models_ran: Path) -> None:
    train = models_ran / "models" / "plan" / "conf" / "train" / "default.yaml"
    train.write_text(train.read_text().replace("max_depth: 4", "max_depth: 3"))
    assert invoke(models_ran, "--model", "plan", "run", "-q").exit_code == 0
    result = invoke(models_ran, "report", "--base", "HEAD", "--no-drift", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [m["name"] for m in report["models"]] == ["plan"]
    plan = report["models"][0]
    assert plan["params"] == [{"key": "train.max_depth", "status": "changed", "base": 4, "current": 3}]
    assert plan["metrics_path"] == "models/plan/metrics.json" and any(m["changed"] for m in plan["metrics"])
    assert "models/plan/models/model.ubj" in {d["path"] for d in report["data"]}
    markdown = invoke(models_ran, "report", "--base", "HEAD", "--no-drift", "--format", "md").output
    assert "### Model `plan`" in markdown and "### Model `churn`" not in markdown
    assert "| train.max\\_depth | changed | 4 | 3 |" in markdown

    # the shared table feeds all three: changing it puts every model in the report
    from gitmlops.example import write_csv

    write_csv(models_ran / "data" / "churn.csv", n_rows=300, seed=9)
    assert invoke(models_ran, "data", "add", "data/churn.csv").exit_code == 0
    shared = json.loads(invoke(models_ran, "report", "--base", "HEAD", "--no-drift", "--format", "json").output)
    assert [m["name"] for m in shared["models"]] == ["churn", "plan", "revenue"]
    assert "its input data/churn.csv changed" in shared["models"][0]["reasons"]


@pytest.mark.slow
@pytest.mark.e2e
def test_demo_models_shows_three_models(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    target = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "gitmlops", "demo", "--models", "--dir", str(target), "--json"],
                          capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout)
    assert list(result["models"]) == ["churn", "plan", "revenue"]
    assert result["models"]["churn"]["stages"]["prod"] == "v0.1.0" and result["models"]["plan"]["stages"]["prod"] is None
    assert "auc" in result["models"]["churn"]["metrics"] and "rmse" in result["models"]["revenue"]["metrics"]
    assert result["prediction"]["model"] == "churn" and len(result["prediction"]["predictions"]) == 1
    assert "monthly_charges" in result["drift"]
    assert result["verified"] is True
    tags = subprocess.run(["git", "tag"], cwd=target, capture_output=True, text=True).stdout.split()
    assert "models/revenue=revenue#prod#1" in tags and "models/plan=plan@v0.1.0" in tags


def _record(repo: Path, model: str) -> dict[str, Any]:
    """A valid request record for ``model`` (from its schema.json)."""
    schema = json.loads((repo / "models" / model / "models" / "schema.json").read_text())
    values = {"int": 1, "float": 0.5, "bool": True}
    return {f["name"]: f["categories"][0] if f["type"] == "category" else values[f["type"]] for f in schema["features"]}


@pytest.mark.slow
@pytest.mark.e2e
def test_three_models_served_from_one_process_bundled_and_collected(models_ran: Path, tmp_path: Path) -> None:
    """The classifier, the multi-class model and the regressor of one repository, registered and
    promoted by their short names, served by one process started in a model's subfolder; each profiles
    its requests apart and `monitor collect --model` files them in that model's monitoring/."""
    import requests

    from tests.serve_fixtures import ServerProcess, free_port, gitmlops_argv

    assert invoke(models_ran, "data", "push").exit_code == 0
    for name in ("churn", "plan", "revenue"):
        for args in (("register", name, "--version", "v1.0.0"), ("promote", name, "v1.0.0", "--stage", "prod")):
            result = invoke(models_ran, "registry", *args)
            assert result.exit_code == 0, result.output
    refs = ["churn#prod", "plan#prod", "revenue#prod"]
    port, profiles = free_port(), tmp_path / "profiles"
    argv = gitmlops_argv("-C", str(models_ran / "models" / "plan" / "conf"), "serve", *refs, "--port", str(port),
                         "--profile-dir", str(profiles), "--profile-rows", "2", "--profile-seconds", "0.2")
    with ServerProcess(argv, port, cwd=tmp_path).start() as server:
        answers = {name: requests.post(f"{server.url}/models/{name}/predict",
                                       json={"records": [_record(models_ran, name)] * 3}, timeout=10)
                   for name in ("churn", "plan", "revenue")}
        info = requests.get(server.url + "/info", timeout=5).json()
        bare = requests.post(server.url + "/predict", json={"records": [_record(models_ran, "churn")]}, timeout=5)
    for name, answer in answers.items():
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == f"models/{name}:{name}@v1.0.0"
    assert 0 <= answers["churn"].json()["predictions"][0]["probability"] <= 1
    assert answers["plan"].json()["predictions"][0]["label"] in ("basic", "premium", "pro")
    assert isinstance(answers["revenue"].json()["predictions"][0]["value"], float)
    assert bare.status_code == 404  # several models: no bare /predict
    listed = {m["route"]: m for m in info["models"]}
    assert list(listed) == [f"/models/{n}/predict" for n in ("churn", "plan", "revenue")]
    assert [m["schema"]["task"] for m in listed.values()] == ["binary", "multiclass", "regression"]
    assert all(m["stage"] == "prod" and m["version"] == "v1.0.0" for m in listed.values())

    # one model alone keeps the bare /predict
    port = free_port()
    with ServerProcess(gitmlops_argv("-C", str(models_ran), "serve", "revenue#prod", "--port", str(port)), port,
                       cwd=tmp_path).start() as alone:
        single = requests.post(alone.url + "/predict", json={"records": [_record(models_ran, "revenue")]}, timeout=10)
    assert single.status_code == 200 and single.json()["model"] == "models/revenue:revenue@v1.0.0", single.text

    assert sorted(p.name for p in profiles.iterdir()) == ["churn", "plan", "revenue"]
    collected = invoke(models_ran, "--model", "plan", "monitor", "collect", str(profiles / "plan"), "--name", "requests",
                       "--json")
    assert collected.exit_code == 0, collected.output
    shape = json.loads(collected.output)
    assert shape["rows"] == 3 and list((models_ran / "models" / "plan" / "monitoring" / "requests").glob("*.bin"))
    assert not (models_ran / "monitoring" / "requests").exists()  # (monitoring/churn: the shared table's profile)
    drift = json.loads(invoke(models_ran, "monitor", "diff", "-r", "plan#prod", "-t", "requests", "--json").output)
    assert "models/plan/models/reference_profile.bin" in drift["reference"]

    out = tmp_path / "bundle"
    bundled = invoke(models_ran / "models", "deploy", "bundle", *refs, "-o", str(out), "--json")
    assert bundled.exit_code == 0, bundled.output
    assert [(m["name"], m["model"]) for m in json.loads(bundled.output)["models"]] == [
        (n, f"models/{n}:{n}@v1.0.0") for n in ("churn", "plan", "revenue")]
    for name in ("churn", "plan", "revenue"):
        meta = json.loads((out / "models" / name / "metadata.json").read_text())
        assert meta["stage"] == "prod" and meta["tag"] == f"models/{name}={name}@v1.0.0"
        assert meta["metrics"] == json.loads((models_ran / "models" / name / "metrics.json").read_text())
