"""Experiments that can be kept, and a registry that only tags honest pipelines (issue 12, point 6).

Through the CLI on the trained example project, with real DVC experiments.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitmlops.adapters.dvc_repo import stage_env
from gitmlops.errors import EXIT_USAGE
from tests.conftest import git, invoke


def dvc_cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real DVC CLI, with stage commands' `python` the interpreter running the tests."""
    env = {**os.environ, **stage_env()}
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True, env=env)


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


def run_json(repo: Path, *args: str) -> dict:
    result = invoke(repo, "run", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def params(repo: Path) -> dict:
    import yaml

    return yaml.safe_load((repo / "params.yaml").read_text())


@pytest.mark.slow
def test_exp_apply_keeps_a_dvc_experiment(trained_repo: Path) -> None:
    proc = dvc_cli(trained_repo, "exp", "run", "--temp", "-n", "deeper", "-S", "train.max_depth=6", "-S", "model=xgb_large")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    train_conf = trained_repo / "conf" / "train" / "default.yaml"
    comments = [line for line in train_conf.read_text().splitlines() if line.startswith("#")]

    applied = invoke(trained_repo, "exp", "apply", "deeper", "--json")
    assert applied.exit_code == 0, applied.output
    kept = json.loads(applied.output)
    assert kept["overrides"] == ["model=xgb_large", "train.max_depth=6"]
    # the xgb_large preset sets train.max_depth after the train group: the value the experiment
    # used can only win from the primary config, whose _self_ comes last
    assert sorted(kept["written"]) == ["conf/parameters.yaml"]
    kept_text = (trained_repo / "conf" / "parameters.yaml").read_text()
    assert "  - model: xgb_large\n" in kept_text and "max_depth: 6\n" in kept_text
    assert [line for line in train_conf.read_text().splitlines() if line.startswith("#")] == comments

    # the work tree is the experiment's (DVC's exp apply), and conf/ now says so: nothing to rerun
    assert run_json(trained_repo)["ran"] == []
    assert params(trained_repo)["train"]["max_depth"] == 6
    assert params(trained_repo)["model"]["grow_policy"] == "lossguide"
    git(trained_repo, "add", "-A")
    git(trained_repo, "commit", "-qm", "keep deeper")
    model = (trained_repo / "models" / "model.ubj").read_bytes()
    assert run_json(trained_repo, "--force")["ran"] == ["prepare", "train", "evaluate"]
    assert (trained_repo / "models" / "model.ubj").read_bytes() == model  # the experiment's model, reproduced
    assert git(trained_repo, "status", "--porcelain", "--", "params.yaml", "dvc.yaml", "metrics.json") == ""
    git(trained_repo, "commit", "-qam", "rerun")
    assert invoke(trained_repo, "data", "push").exit_code == 0
    assert invoke(trained_repo, "registry", "register", "model").exit_code == 0  # an honest lock

    unknown = invoke(trained_repo, "exp", "apply", "no-such-exp")
    assert unknown.exit_code == EXIT_USAGE and "no experiment 'no-such-exp'" in unknown.output


@pytest.mark.slow
def test_run_save_keeps_overrides_and_plain_run_no_longer_undoes_them(trained_repo: Path) -> None:
    train_conf = trained_repo / "conf" / "train" / "default.yaml"
    saved = invoke(trained_repo, "run", "--save", "train.eta=0.1", "data.test_size=0.25")
    assert saved.exit_code == 0, saved.output
    assert "kept train.eta=0.1 data.test_size=0.25 in conf/" in saved.output
    assert "eta: 0.1\n" in train_conf.read_text() and "# Training hyper-parameters" in train_conf.read_text()
    assert "test_size: 0.25\n" in (trained_repo / "conf" / "data" / "default.yaml").read_text()
    assert run_json(trained_repo)["ran"] == []
    assert params(trained_repo)["train"]["eta"] == 0.1

    assert run_json(trained_repo, "train.eta=0.2")["ran"]  # a one-off run...
    assert run_json(trained_repo)["ran"] and params(trained_repo)["train"]["eta"] == 0.1  # ...goes back

    before = train_conf.read_text()
    for args, needle in (
        (["--save", "train.no_such_key=1"], "no_such_key"),
        (["--save"], "--save keeps the OVERRIDES"),
        (["--save", "--sweep", "train.eta=0.1,0.2"], "--save keeps the OVERRIDES"),
    ):
        refused = invoke(trained_repo, "run", *args)
        assert refused.exit_code == EXIT_USAGE and needle in refused.output, refused.output
    assert train_conf.read_text() == before


@pytest.mark.slow
def test_run_save_keeps_nothing_when_the_run_fails(trained_repo: Path) -> None:
    conf = trained_repo / "conf" / "data" / "default.yaml"
    before = conf.read_text()
    failed = invoke(trained_repo, "run", "--save", "data.target=no_such_column")
    assert failed.exit_code != 0
    assert conf.read_text() == before and git(trained_repo, "status", "--porcelain") == ""


@pytest.mark.slow
def test_dvc_exp_run_on_a_path_is_refused_not_recorded(trained_repo: Path) -> None:
    (trained_repo / "data" / "other.csv").write_text((trained_repo / "data" / "churn.csv").read_text())
    assert invoke(trained_repo, "data", "add", "data/other.csv").exit_code == 0
    git(trained_repo, "add", "-A")
    git(trained_repo, "commit", "-qm", "other data")
    lock = (trained_repo / "dvc.lock").read_text()
    proc = dvc_cli(trained_repo, "exp", "run", "-S", "data.path=data/other.csv")
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "change the pipeline, but dvc.yaml was not regenerated (stage 'prepare': deps)" in output
    assert "gitmlops run data.path=data/other.csv" in output
    assert (trained_repo / "dvc.lock").read_text() == lock  # nothing recorded

    git(trained_repo, "checkout", "-q", "params.yaml")
    assert run_json(trained_repo, "--save", "data.path=data/other.csv")["ran"]  # the way that renders dvc.yaml
    assert "data/other.csv" in (trained_repo / "dvc.lock").read_text()
    assert invoke(trained_repo, "pipeline", "sync", "--check").exit_code == 0


PARAMETER_GROUPS = {"data", "model", "train", "dask"}


@pytest.mark.slow
def test_params_yaml_holds_parameters_only(trained_repo: Path) -> None:
    assert set(params(trained_repo)) == PARAMETER_GROUPS
    proc = dvc_cli(trained_repo, "exp", "run", "--temp", "-n", "deeper", "-S", "train.max_depth=6")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shown = json.loads(dvc_cli(trained_repo, "exp", "show", "--json").stdout)
    columns = set()
    for commit in shown:
        rows = [commit] + [rev for group in commit.get("experiments") or [] for rev in group["revs"]]
        for row in rows:
            columns |= {key.split(".")[0] for key in row["data"]["params"]["params.yaml"]["data"]}
    assert columns == PARAMETER_GROUPS  # no pipeline.*, paths.*, serve.*, monitor.*, registry.*
    gm = json.loads(invoke(trained_repo, "exp", "show", "--json").output)
    assert {k.split(".")[0] for row in gm for k in row["params"]} == PARAMETER_GROUPS

    # a group the user adds to conf/parameters.yaml is a parameter; settings are refused as overrides
    (trained_repo / "conf" / "features").mkdir()
    (trained_repo / "conf" / "features" / "default.yaml").write_text("# my features\nwindow: 7\n")
    set_line(trained_repo / "conf" / "parameters.yaml", "  - dask: default\n", "  - dask: default\n  - features: default\n")
    assert run_json(trained_repo)["written"] == ["params.yaml"]
    assert params(trained_repo)["features"] == {"window": 7}
    diff = dvc_cli(trained_repo, "params", "diff", "--json")
    assert set(json.loads(diff.stdout)["params.yaml"]) == {"features.window"}
    refused = invoke(trained_repo, "run", "serve.port=9000")
    assert refused.exit_code == EXIT_USAGE and "changes a setting (serve)" in refused.output
    assert "--save serve.port=9000" in refused.output
    saved = invoke(trained_repo, "run", "--save", "serve.port=9000")
    assert saved.exit_code == 0, saved.output
    assert "port: 9000" in (trained_repo / "conf" / "serve" / "default.yaml").read_text()
    assert "serve" not in params(trained_repo)


_names = st.sampled_from(["a", "b", "max_depth", "eta"])
# no None: Hydra cannot delete a key whose value is null (`~a.b` says it does not exist)
_scalars = st.one_of(
    st.integers(-5, 5), st.floats(-10, 10, allow_nan=False).map(lambda f: round(f, 3)), st.booleans(),
    st.text("ab /.-_'x", min_size=1, max_size=6),
)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=2) | st.dictionaries(_names, inner, max_size=2),
                       max_leaves=4)
_groups = st.dictionaries(_names, _values, max_size=3)


@settings(max_examples=15, deadline=None)
@given(base=st.dictionaries(_names, _groups, min_size=1, max_size=2), target=st.dictionaries(_names, _groups, max_size=2))
def test_overrides_between_turn_base_into_target_through_hydra(tmp_path_factory, base: dict, target: dict) -> None:
    """What `exp apply` and the stages rely on: Hydra, given the overrides, composes the target."""
    import yaml

    from gitmlops.config import compose, overrides_between

    target = {**{k: {} for k in base}, **target}  # parameter groups are not removed, only their keys
    root = tmp_path_factory.mktemp("conf")
    (root / "conf").mkdir()
    (root / "conf" / "config.yaml").write_text(yaml.safe_dump(base))
    assert compose(root, overrides_between(base, target)) == target
