"""Input at fault must be a clear error (exit 2) that writes nothing, never an internal error (70)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitmlops.errors import EXIT_USAGE
from tests.conftest import git, invoke
from tests.registry_fixtures import model_repo, model_template

__all__ = ["model_repo", "model_template"]

HUGE = "9" * 4400


@pytest.mark.parametrize("args", [
    ["registry", "register", "model", "--version", f"v{HUGE}.0.0"],
    ["registry", "register", "model", "--version", f"v1.0.0-{HUGE}"],
    ["registry", "promote", "model", f"v{HUGE}.0.0", "--stage", "dev"],
])
def test_huge_version_numbers_are_refused(model_repo: Path, args: list[str]) -> None:
    before = git(model_repo, "tag", "--list")
    result = invoke(model_repo, *args)
    assert result.exit_code == EXIT_USAGE, result.output
    assert "invalid version" in result.output and "more than 30 digits" in result.output
    assert git(model_repo, "tag", "--list") == before


def test_a_tag_with_a_huge_counter_is_not_a_registry_event(model_repo: Path) -> None:
    git(model_repo, "tag", "-a", "-m", "x", f"model#dev#{'9' * 40}")  # git caps ref names well below 4,300
    result = invoke(model_repo, "registry", "show", "--json")
    assert result.exit_code == 0, result.output


@pytest.mark.slow
@pytest.mark.parametrize(("override", "needle"), [
    ("k" * 10_000 + "=1", "override key"),
    ("registry.stages=[prod,../x]", "registry.stages"),
])
def test_run_refuses_hostile_overrides_before_writing(trained_repo: Path, override: str, needle: str) -> None:
    before = {p: (trained_repo / p).read_bytes() for p in ("params.yaml", "dvc.yaml", "dvc.lock")}
    result = invoke(trained_repo, "run", override)
    assert result.exit_code == EXIT_USAGE, result.output
    assert needle in result.output
    assert {p: (trained_repo / p).read_bytes() for p in before} == before
    assert invoke(trained_repo, "registry", "show").exit_code == 0


@pytest.mark.slow
@pytest.mark.parametrize("key", ["paths.metrics", "paths.model"])
def test_run_refuses_paths_outside_the_repo(trained_repo: Path, tmp_path: Path, key: str) -> None:
    target = tmp_path / "outside" / "file"
    before = {p: (trained_repo / p).read_bytes() for p in ("params.yaml", "dvc.yaml", "dvc.lock")}
    # paths are settings: a one-off override of them is refused first (nothing written) ...
    override = invoke(trained_repo, "run", f"{key}={target}")
    assert override.exit_code == EXIT_USAGE, override.output
    assert not target.parent.exists()
    # ... and written into conf/, the path check refuses it before anything is written
    conf = trained_repo / "conf" / "config.yaml"
    line = {"paths.metrics": "  metrics: metrics.json", "paths.model": "  model: models/model.ubj"}[key]
    assert line in conf.read_text()
    conf.write_text(conf.read_text().replace(line, f"{line.split(':')[0]}: {target}"))
    result = invoke(trained_repo, "run")
    assert result.exit_code == EXIT_USAGE, result.output
    assert "outside the repository" in result.output
    assert not target.parent.exists()
    assert {p: (trained_repo / p).read_bytes() for p in before} == before


def test_data_add_refuses_a_symlink_out_of_the_repo(example_repo: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("a,b\n1,2\n")
    (example_repo / "data" / "link.csv").symlink_to(secret)
    result = invoke(example_repo, "data", "add", "data/link.csv")
    assert result.exit_code == EXIT_USAGE, result.output
    assert "outside the repository" in result.output
    assert not (example_repo / "data" / "link.csv.dvc").exists()


def test_environment_values_are_not_memoised(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitmlops.config import CACHE_FILE, compose

    config_yaml = example_repo / "conf" / "config.yaml"
    config_yaml.write_text(config_yaml.read_text() + "token: ${oc.env:GITMLOPS_TEST_TOKEN,none}\n")
    monkeypatch.setenv("GITMLOPS_TEST_TOKEN", "first-secret")
    assert compose(example_repo)["token"] == "first-secret"
    monkeypatch.setenv("GITMLOPS_TEST_TOKEN", "second-secret")
    assert compose(example_repo)["token"] == "second-secret"  # not "up to date" with the old value
    memo = example_repo / CACHE_FILE
    assert not memo.exists() or "secret" not in memo.read_text()


def _parameter_from_environment(repo: Path) -> None:
    parameters = repo / "conf" / "parameters.yaml"
    parameters.write_text(parameters.read_text() + "source:\n  token: ${oc.env:GITMLOPS_TEST_TOKEN}\n"
                          "  url: https://data.example.com/?key=${source.token}\n")


def test_environment_values_are_not_written_to_params_yaml(example_repo: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    from gitmlops.pipeline.effective import stage_config

    _parameter_from_environment(example_repo)
    monkeypatch.setenv("GITMLOPS_TEST_TOKEN", "s3cret-value")
    result = invoke(example_repo, "run")
    assert result.exit_code == 0, result.output
    params = yaml.safe_load((example_repo / "params.yaml").read_text())
    assert params["source"] == {"token": "${oc.env:GITMLOPS_TEST_TOKEN}",
                                "url": "https://data.example.com/?key=${source.token}"}
    written = [p for p in example_repo.rglob("*") if p.is_file() and ".git" not in p.parts and p.suffix != ".ubj"]
    assert [p for p in written if b"s3cret-value" in p.read_bytes()] == []
    # the stages still see the value (they compose conf/ with params.yaml's overrides)
    assert stage_config(example_repo, params)["source"]["url"] == "https://data.example.com/?key=s3cret-value"
    again = invoke(example_repo, "run", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["ran"] == []  # params.yaml is stable: nothing to redo

    sweep = invoke(example_repo, "run", "--sweep", "train.max_depth=2,3")
    assert sweep.exit_code == EXIT_USAGE, sweep.output
    assert "source.token reads an environment variable" in sweep.output
