"""A repo worth a site: two models, two versions, stage history, experiments and drifting profiles.

Built once per session from the trained example: a second artifact declared next to ``model``,
registrations and promotions, a retrain with another ``train.max_depth`` (registered as the next
version) and one DVC experiment on it, and two committed production profiles, the second with a shifted column.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import git, invoke

SECOND = "churn-small"


def ok(repo: Path, *args: str) -> str:
    """Run a gitmlops command that must succeed; its output."""
    result = invoke(repo, *args)
    assert result.exit_code == 0, f"gitmlops {' '.join(args)}: {result.output}"
    return result.output


def write_production(repo: Path, dest: Path, seed: int, shift: bool) -> Path:
    """A sample of the example's data as production data (one numeric column tripled when ``shift``)."""
    import pandas as pd

    frame = pd.read_csv(repo / "data" / "churn.csv").sample(400, random_state=seed)
    if shift:
        frame["monthly_charges"] = frame["monthly_charges"] * 3
    frame.to_csv(dest, index=False)
    return dest


def read_site(out: Path) -> dict:
    """The data a built site draws from (data.js without its assignment)."""
    text = (out / "data.js").read_text()
    prefix = "window.GITMLOPS_SITE = "
    assert text.startswith(prefix)
    return json.loads(text[len(prefix):].rstrip().rstrip(";"))


@pytest.fixture(scope="session")
def site_template(tmp_path_factory: pytest.TempPathFactory, trained_template: Path) -> Path:
    """The trained example with two models, three versions, stage history and two profiles."""
    repo = tmp_path_factory.mktemp("template-site") / "repo"
    shutil.copytree(trained_template, repo, symlinks=True)
    dvc_yaml = repo / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text() + f"  {SECOND}:\n    path: models/model.ubj\n    type: model\n"
                        "    desc: the same model under a second name\n")
    git(repo, "add", "dvc.yaml")
    git(repo, "commit", "-q", "-m", "declare a second artifact")
    ok(repo, "registry", "register", "model", "--message", "first model")
    ok(repo, "registry", "register", SECOND)
    ok(repo, "registry", "promote", "model", "v0.1.0", "--stage", "staging")
    ok(repo, "registry", "promote", "model", "v0.1.0", "--stage", "prod")
    ok(repo, "registry", "promote", SECOND, "v0.1.0", "--stage", "dev")
    ok(repo, "run", "train.max_depth=6", "--save")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "deeper trees")
    ok(repo, "data", "push")
    ok(repo, "registry", "register", "model", "--message", "max_depth 6")
    ok(repo, "registry", "promote", "model", "v0.1.1", "--stage", "staging")
    ok(repo, "run", "--sweep", "train.max_depth=3")  # a DVC experiment whose baseline is v0.1.1's commit
    scratch = tmp_path_factory.mktemp("site-production")
    for seed, shift in ((1, False), (2, True)):
        data = write_production(repo, scratch / f"batch{seed}.csv", seed, shift)
        ok(repo, "monitor", "profile", str(data), "--name", "production")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "production profiles")
    return repo


@pytest.fixture
def site_repo(tmp_path: Path, site_template: Path) -> Path:
    """A fresh copy of the site template."""
    return Path(shutil.copytree(site_template, tmp_path / "repo", symlinks=True))


def model_folder(repo: Path, name: str, metric: dict[str, float], shift: float) -> None:
    """A model folder as issue 15 lays them out: its own dvc.yaml, params.yaml, outputs, monitoring/."""
    import numpy as np
    import pandas as pd

    from gitmlops.monitor import profile_dataframe, write_profile

    folder = repo / "models" / name
    (folder / "monitoring" / "production").mkdir(parents=True)
    (folder / "params.yaml").write_text("paths:\n  reference_profile: reference_profile.bin\ntrain:\n  depth: 3\n")
    (folder / "dvc.yaml").write_text(
        f"artifacts:\n  {name}:\n    path: model.bin\n    type: model\n"
        "stages:\n  evaluate:\n    cmd: 'true'\n    metrics:\n    - metrics.json:\n        cache: false\n"
        "    plots:\n    - roc.json:\n        cache: false\n        x: fpr\n        y: tpr\n")
    (folder / "model.bin.dvc").write_text(f"outs:\n- md5: {'ab' * 16}\n  size: 3\n  hash: md5\n  path: model.bin\n")
    (folder / "metrics.json").write_text(json.dumps(metric))
    (folder / "roc.json").write_text(json.dumps({"roc": [{"fpr": 0, "tpr": 0}, {"fpr": 0.5, "tpr": 0.8},
                                                          {"fpr": 1, "tpr": 1}]}))
    rng = np.random.default_rng(0)
    for path, move in ((folder / "reference_profile.bin", 0.0),
                       (folder / "monitoring" / "production" / "20260101T000000Z.bin", shift)):
        frame = pd.DataFrame({"x": rng.normal(move, 1, 2000), "y": rng.normal(0, 1, 2000)})
        write_profile(profile_dataframe(frame), path)


def two_model_folders(repo: Path) -> None:
    """Models `models/churn:churn` and `models/revenue:revenue` (the second's data drifted), committed
    and registered with GTO-style tags (no gitmlops metadata); revenue v1.0.0 is in prod."""
    model_folder(repo, "churn", {"auc": 0.81}, 0.0)
    model_folder(repo, "revenue", {"rmse": 3.5}, 3.0)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "two models")
    for tag in ("models/churn=churn@v0.1.0", "models/revenue=revenue@v1.0.0", "models/revenue=revenue#prod#1"):
        git(repo, "tag", "-a", tag, "-m", f"written by gto: {tag}")
