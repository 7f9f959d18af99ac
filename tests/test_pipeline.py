"""`gitmlops run`, `pipeline sync|show`, sweeps: real Hydra composition, real DVC, real XGBoost."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from gitmlops.errors import EXIT_CHECK_FAILED, EXIT_EXTERNAL, EXIT_INTERRUPTED, EXIT_USAGE
from tests.conftest import dvc, git, invoke

pytestmark = pytest.mark.slow


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_run_trains_and_dvc_agrees(trained_repo: Path) -> None:
    repo = trained_repo
    for rel in ("models/model.ubj", "models/schema.json", "models/reference_profile.bin", "metrics.json",
                "plots/roc.json", "plots/confusion.json", "dvc.lock"):
        assert (repo / rel).is_file(), rel
    metrics = json.loads((repo / "metrics.json").read_text())
    assert 0.5 < metrics["auc"] <= 1.0
    assert metrics["rows"] > 0
    schema = json.loads((repo / "models/schema.json").read_text())
    assert schema["task"] == "binary" and schema["target"] == "churned"
    assert {f["name"]: f["type"] for f in schema["features"]}["plan"] == "category"
    assert "customer_id" not in {f["name"] for f in schema["features"]}
    # Plain DVC sees nothing to do, and `dvc exp show` works: the repo is a normal DVC repo.
    out = dvc(repo, "repro")
    assert "Running stage" not in out
    assert "up to date" in out
    assert dvc(repo, "status").strip() in ("Data and pipelines are up to date.", "")
    shown = json.loads(dvc(repo, "exp", "show", "--json"))
    assert shown and shown[-1]["data"]["metrics"]["metrics.json"]["data"]["auc"] == metrics["auc"]
    doc = yaml.safe_load((repo / "dvc.yaml").read_text())
    assert doc["artifacts"]["model"] == {"path": "models/model.ubj", "type": "model",
                                         "desc": "XGBoost model trained by the built-in pipeline"}


def test_noop_run_runs_nothing(trained_repo: Path) -> None:
    lock = (trained_repo / "dvc.lock").read_bytes()
    result = invoke(trained_repo, "run", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ran"] == []
    assert set(data["skipped"]) == {"prepare", "train", "evaluate"}
    assert (trained_repo / "dvc.lock").read_bytes() == lock
    assert git(trained_repo, "status", "--porcelain") == ""


def test_training_is_deterministic(trained_repo: Path) -> None:
    before = {p: md5(trained_repo / p)
              for p in ("models/model.ubj", "models/schema.json", "models/reference_profile.json")}
    result = invoke(trained_repo, "run", "--force", "--stage", "train", "-q")
    assert result.exit_code == 0, result.output
    assert {p: md5(trained_repo / p) for p in before} == before
    # Only the reference profile's .bin may differ (KLL sketches compact at random); its summary does not.
    lock = yaml.safe_load((trained_repo / "dvc.lock").read_text())
    outs = {o["path"]: o["md5"] for o in lock["stages"]["train"]["outs"]}
    assert outs["models/model.ubj"] == before["models/model.ubj"]
    assert git(trained_repo, "status", "--porcelain").strip() in ("", "M dvc.lock")


def test_overrides_compose_on_every_run(trained_repo: Path) -> None:
    model_before = md5(trained_repo / "models/model.ubj")
    result = invoke(trained_repo, "run", "train.max_depth=2", "model=xgb_large", "-q")
    assert result.exit_code == 0, result.output
    params = yaml.safe_load((trained_repo / "params.yaml").read_text())
    assert params["train"]["max_depth"] == 2
    assert params["model"]["grow_policy"] == "lossguide"
    assert md5(trained_repo / "models/model.ubj") != model_before
    lock = yaml.safe_load((trained_repo / "dvc.lock").read_text())
    assert lock["stages"]["train"]["params"]["params.yaml"]["train"]["max_depth"] == 2
    assert "Running stage" not in dvc(trained_repo, "repro")
    # Without the override the config composes back to the defaults and retrains.
    result = invoke(trained_repo, "run", "-q")
    assert result.exit_code == 0
    assert md5(trained_repo / "models/model.ubj") == model_before


def test_conf_edit_is_picked_up(trained_repo: Path) -> None:
    train = trained_repo / "conf" / "train" / "default.yaml"
    train.write_text(train.read_text().replace("num_boost_round: 100", "num_boost_round: 20"))
    result = invoke(trained_repo, "run", "--json")
    assert result.exit_code == 0, result.output
    assert "train" in json.loads(result.output)["ran"]
    assert yaml.safe_load((trained_repo / "params.yaml").read_text())["train"]["num_boost_round"] == 20


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["train.no_such_key=1"], "Could not override 'train.no_such_key'"),
        (["train.max_depth=[1"], "malformed override"),
        (["model=no_such_model"], "available options: xgb, xgb_large"),
        (["novalue"], "malformed override"),
        (["train.max_depth=1,2"], "--sweep"),
        (["train.max_depth=eight"], "train.max_depth='eight' is refused by XGBoost: Invalid Parameter format for "
                                    "max_depth expect int"),
        (["train.eta=-1"], "train.eta=-1 is refused by XGBoost: value -1 for Parameter learning_rate should be "
                           "greater equal to 0"),
        (["train.eta=1e400"], "train.eta=inf is not allowed: XGBoost parameters must be finite numbers"),
        (["model.objective=reg:nope"], "Unknown objective function: `reg:nope` (known objectives:"),
        (["+train.gamma2=1"], "train.gamma2 is not an XGBoost parameter"),
        (["train.num_boost_round=0"], "train.num_boost_round=0 is not allowed"),
    ],
)
def test_bad_overrides_change_nothing(trained_repo: Path, args: list[str], needle: str) -> None:
    result = invoke(trained_repo, "run", *args)
    assert result.exit_code == EXIT_USAGE, result.output
    assert needle in result.output
    assert "hint:" in result.output
    assert git(trained_repo, "status", "--porcelain") == ""


def test_conf_missing_and_yaml_error(trained_repo: Path) -> None:
    conf = trained_repo / "conf" / "train" / "default.yaml"
    conf.write_text("max_depth: [1, 2\n")
    result = invoke(trained_repo, "run")
    assert result.exit_code == EXIT_USAGE
    assert "YAML syntax error in" in result.output and "train/default.yaml" in result.output
    git(trained_repo, "checkout", "--", "conf")
    os.rename(trained_repo / "conf", trained_repo / "conf.moved")
    result = invoke(trained_repo, "run")
    assert result.exit_code == EXIT_USAGE
    assert "conf/config.yaml is missing" in result.output
    assert "gitmlops init" in result.output


def test_missing_dependency(trained_repo: Path) -> None:
    (trained_repo / "data" / "churn.csv").unlink()
    result = invoke(trained_repo, "run", "--force")
    assert result.exit_code == EXIT_USAGE
    assert "dependency data/churn.csv of stage 'prepare' is missing" in result.output
    assert "gitmlops data pull" in result.output


def test_not_a_dvc_repo(git_repo: Path) -> None:
    result = invoke(git_repo, "run")
    assert result.exit_code == EXIT_USAGE
    assert "not a DVC repository" in result.output


def _add_stage(repo: Path, name: str, cmd: str, outs: list[str]) -> None:
    path = repo / "conf" / "pipeline" / "default.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["stages"][name] = {"cmd": cmd, "deps": ["${paths.metrics}"], "outs": outs}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_failing_stage_restores_generated_files(trained_repo: Path) -> None:
    dvc_yaml = (trained_repo / "dvc.yaml").read_bytes()
    lock = (trained_repo / "dvc.lock").read_bytes()
    _add_stage(trained_repo, "report", "python -c \"open('report.txt','w').write('x'); raise SystemExit(4)\"",
               ["report.txt"])
    result = invoke(trained_repo, "run")
    assert result.exit_code == EXIT_EXTERNAL, result.output
    assert "failed to reproduce 'report'" in result.output
    assert (trained_repo / "dvc.yaml").read_bytes() == dvc_yaml
    assert (trained_repo / "dvc.lock").read_bytes() == lock


def test_ctrl_c_records_nothing(trained_repo: Path) -> None:
    marker = trained_repo / "started"
    _add_stage(
        trained_repo,
        "slow",
        "python -c \"import time,pathlib; pathlib.Path('started').touch(); "
        "pathlib.Path('partial.txt').write_text('half'); time.sleep(60)\"",
        ["partial.txt"],
    )
    lock = (trained_repo / "dvc.lock").read_bytes()
    dvc_yaml = (trained_repo / "dvc.yaml").read_bytes()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitmlops", "-C", str(trained_repo), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=0,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, "the slow stage never started"
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: the whole process group
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_INTERRUPTED, output
    assert (trained_repo / "dvc.lock").read_bytes() == lock
    assert (trained_repo / "dvc.yaml").read_bytes() == dvc_yaml
    assert "slow" not in yaml.safe_load((trained_repo / "dvc.lock").read_text())["stages"]


def test_sync_check_and_show(trained_repo: Path) -> None:
    assert invoke(trained_repo, "pipeline", "sync", "--check").exit_code == 0
    shown = json.loads(invoke(trained_repo, "pipeline", "show", "--json").output)
    assert [s["name"] for s in shown["stages"]] == ["prepare", "train", "evaluate"]
    assert not any(s["stale"] for s in shown["stages"])
    assert shown["in_sync"] is True

    train = trained_repo / "conf" / "train" / "default.yaml"
    train.write_text(train.read_text().replace("max_depth: 4", "max_depth: 5"))
    result = invoke(trained_repo, "pipeline", "sync", "--check")
    assert result.exit_code == EXIT_CHECK_FAILED
    assert "params.yaml" in result.output
    shown = json.loads(invoke(trained_repo, "pipeline", "show", "--json").output)
    assert shown["in_sync"] is False
    assert invoke(trained_repo, "pipeline", "sync").exit_code == 0
    shown = json.loads(invoke(trained_repo, "pipeline", "show", "--json").output)
    stale = {s["name"] for s in shown["stages"] if s["stale"]}
    assert stale == {"train"}


def test_user_data_multiclass_with_categories(example_repo: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    n = 600
    colour = rng.choice(["red", "green", "blue"], size=n)
    size = rng.normal(size=n)
    label = np.where(colour == "red", "a", np.where(size > 0, "b", "c"))
    path = example_repo / "data" / "mine.csv"
    pd.DataFrame({"colour": colour, "size": size.round(3), "label": label}).to_csv(path, index=False)
    assert invoke(example_repo, "data", "add", str(path)).exit_code == 0
    result = invoke(example_repo, "run", "data.path=data/mine.csv", "data.target=label", "data.drop_columns=[]",
                    "--json")
    assert result.exit_code == 0, result.output
    schema = json.loads((example_repo / "models" / "schema.json").read_text())
    assert schema["task"] == "multiclass"
    assert schema["classes"] == ["a", "b", "c"]
    colour_feature = next(f for f in schema["features"] if f["name"] == "colour")
    assert colour_feature == {"name": "colour", "type": "category", "categories": ["blue", "green", "red"],
                              "nullable": False}
    metrics = json.loads(result.output)["metrics"]
    assert metrics["accuracy"] > 0.9
    assert "data/mine.csv" in (example_repo / "dvc.yaml").read_text()


def test_regression_target(example_repo: Path) -> None:
    result = invoke(example_repo, "run", "data.target=monthly_charges", "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)["metrics"]
    assert set(metrics) >= {"rmse", "mae", "r2"}
    assert metrics["r2"] > 0.5


def test_sweep_runs_dvc_experiments(trained_repo: Path) -> None:
    result = invoke(trained_repo, "run", "--sweep", "train.max_depth=2,3", "train.num_boost_round=10",
                    "--jobs", "2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["points"] == [["train.max_depth=2", "train.num_boost_round=10"],
                              ["train.max_depth=3", "train.num_boost_round=10"]]
    shown = json.loads(invoke(trained_repo, "exp", "show", "--json").output)
    experiments = [e for e in shown if not e["baseline"]]
    assert sorted(e["params"]["train.max_depth"] for e in experiments) == [2, 3]
    assert all(e["metrics"]["auc"] > 0.5 for e in experiments)
    md = invoke(trained_repo, "exp", "show", "--md").output
    assert md.startswith("| experiment |") and "train.max\\_depth" in md  # Markdown-escaped, renders as train.max_depth
    name = experiments[0]["name"]
    diff = json.loads(invoke(trained_repo, "exp", "diff", name, "--json").output)
    assert any(p["key"] == "train.max_depth" for p in diff["params"])
    # The sweep left the work tree alone.
    assert git(trained_repo, "status", "--porcelain") == ""


def test_sweep_rejects_bad_points_before_running(trained_repo: Path) -> None:
    result = invoke(trained_repo, "run", "--sweep", "train.nope=1,2")
    assert result.exit_code == EXIT_USAGE
    result = invoke(trained_repo, "run", "--sweep", "data.path=a.csv,b.csv")
    assert result.exit_code == EXIT_USAGE
    assert "changes the pipeline's stages" in result.output
    shown = json.loads(invoke(trained_repo, "exp", "show", "--json").output)
    assert [e for e in shown if not e["baseline"]] == []


def test_sweep_reports_the_point_that_failed(trained_repo: Path) -> None:
    # A point XGBoost would refuse is refused before any experiment runs.
    result = invoke(trained_repo, "run", "--sweep", "train.eta=0.3,-1", "train.num_boost_round=5", "--jobs", "2")
    assert result.exit_code == EXIT_USAGE, result.output
    assert "train.eta=-1 is refused by XGBoost" in result.output
    # A point that fails while it runs is named.
    result = invoke(trained_repo, "run", "--sweep", "data.test_size=0.2,0.0", "train.num_boost_round=5", "--jobs", "2")
    assert result.exit_code == EXIT_EXTERNAL, result.output
    assert "1 of 2 experiment(s) failed" in result.output
    assert "data.test_size=0.0" in result.output
    shown = json.loads(invoke(trained_repo, "exp", "show", "--json").output)
    assert [e["params"]["data.test_size"] for e in shown if not e["baseline"]] == [0.2]
    assert git(trained_repo, "status", "--porcelain") == ""


def test_run_json_stdout_is_clean_json(trained_repo: Path) -> None:
    """Stage commands print to stderr during a run, so `--json` on stdout parses."""
    proc = subprocess.run(
        [sys.executable, "-m", "gitmlops", "-C", str(trained_repo), "run", "--force", "--stage", "evaluate", "--json"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert "evaluate" in data["ran"]
    assert "evaluate: accuracy=" in proc.stderr


def test_plots_are_sized_by_what_they_show(trained_repo: Path) -> None:
    metrics = json.loads((trained_repo / "metrics.json").read_text())
    confusion = json.loads((trained_repo / "plots" / "confusion.json").read_text())["confusion"]
    schema = json.loads((trained_repo / "models" / "schema.json").read_text())
    assert len(confusion) <= len(schema["classes"]) ** 2
    assert sum(e["count"] for e in confusion) == metrics["rows"]
    assert len(json.loads((trained_repo / "plots" / "roc.json").read_text())["roc"]) == 101
    out = trained_repo / "plots-html"
    dvc(trained_repo, "plots", "show", "-o", str(out))
    html = (out / "index.html").read_text()
    assert '"op": "sum"' in html.replace("'", '"') or '"op":"sum"' in html
    assert "predicted" in html


def _leaves(model_file: Path) -> int:
    import xgboost as xgb

    return sum(tree.count("leaf=") for tree in xgb.Booster(model_file=str(model_file)).get_dump())


def test_larger_preset_gives_a_larger_model(trained_repo: Path) -> None:
    default_leaves = _leaves(trained_repo / "models" / "model.ubj")
    result = invoke(trained_repo, "run", "model=xgb_large", "-q")
    assert result.exit_code == 0, result.output
    params = yaml.safe_load((trained_repo / "params.yaml").read_text())
    assert params["train"]["max_depth"] == 8 and params["model"]["max_leaves"] == 255
    assert _leaves(trained_repo / "models" / "model.ubj") > 1.5 * default_leaves
    # A command-line override still wins over the preset.
    assert invoke(trained_repo, "run", "model=xgb_large", "train.max_depth=2", "-q").exit_code == 0
    assert yaml.safe_load((trained_repo / "params.yaml").read_text())["train"]["max_depth"] == 2
    assert _leaves(trained_repo / "models" / "model.ubj") < default_leaves


def test_every_xgboost_parameter_reaches_the_booster(trained_repo: Path) -> None:
    model = trained_repo / "models" / "model.ubj"
    before, leaves = md5(model), _leaves(model)
    assert invoke(trained_repo, "run", "+train.gamma=50", "-q").exit_code == 0
    assert _leaves(model) < leaves / 2  # a large min_split_loss prunes most splits
    assert invoke(trained_repo, "run", "+model.colsample_bylevel=0.1", "-q").exit_code == 0
    assert md5(model) != before


def test_awkward_column_names_train_and_serve_by_their_names(example_repo: Path) -> None:
    import numpy as np
    import pandas as pd
    import xgboost as xgb

    from gitmlops.serve.schema import ModelSchema, RequestParser

    rng = np.random.default_rng(3)
    n = 400
    area = rng.normal(size=n)
    frame = pd.DataFrame({"worst [area] <mm2>": area, "worst (area) ltmm2>": rng.normal(size=n),
                          "label": np.where(area > 0, "yes", "no")})
    path = example_repo / "data" / "awkward.csv"
    frame.to_csv(path, index=False)
    assert invoke(example_repo, "data", "add", str(path)).exit_code == 0
    result = invoke(example_repo, "run", "data.path=data/awkward.csv", "data.target=label", "data.drop_columns=[]",
                    "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["metrics"]["accuracy"] > 0.9
    raw = json.loads((example_repo / "models" / "schema.json").read_text())
    assert [f["name"] for f in raw["features"]] == ["worst [area] <mm2>", "worst (area) ltmm2>"]
    assert [f.get("model_name") for f in raw["features"]] == ["worst (area) ltmm2>_2", None]
    booster = xgb.Booster(model_file=str(example_repo / "models" / "model.ubj"))
    assert booster.feature_names == ["worst (area) ltmm2>_2", "worst (area) ltmm2>"]
    parser = RequestParser(ModelSchema.from_dict(raw), max_rows=10)
    body = json.dumps({"records": [{"worst [area] <mm2>": 1.5, "worst (area) ltmm2>": 0.0}]}).encode()
    assert booster.inplace_predict(parser.parse(body), validate_features=False)[0] > 0.5
