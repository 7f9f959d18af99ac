"""pages.yml: least privilege (the build reads, only the deploy job publishes) and a local run of its
build job's shell steps on a real repo. actionlint, zizmor and SHA pinning of every template,
pages.yml included, are checked by tests/test_bots_workflows.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import invoke

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "gitmlops" / "templates" / "workflows" / "pages.yml"


def _load() -> dict[str, Any]:
    doc = yaml.safe_load(PAGES.read_text())
    doc["on"] = doc.pop(True) if True in doc else doc["on"]  # YAML 1.1 reads the key `on` as True
    return doc


def _writes(permissions: Any) -> set[str]:
    return {k for k, v in permissions.items() if v == "write"} if isinstance(permissions, dict) else {"?"}


def test_pages_runs_on_main_and_tags_with_least_privilege() -> None:
    doc = _load()
    assert doc["on"]["push"] == {"branches": ["main"], "tags": ["**"]} and "workflow_dispatch" in doc["on"]
    assert "pull_request" not in doc["on"] and "pull_request_target" not in doc["on"]
    assert doc["permissions"] == {"contents": "read"}
    build, deploy = doc["jobs"]["build"], doc["jobs"]["deploy"]
    assert build["permissions"] == {"contents": "read"}
    assert _writes(deploy["permissions"]) == {"pages", "id-token"} and set(deploy["permissions"]) == {"pages", "id-token"}
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    # the job that may publish runs no code of the repository: one step, the pinned deploy action
    (step,) = deploy["steps"]
    assert step["uses"].startswith("actions/deploy-pages@") and "run" not in step
    checkout = build["steps"][0]
    assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}  # tags hold the registry
    text = PAGES.read_text()
    assert not re.search(r"^\s*cache:", text, re.MULTILINE)  # a publishing workflow restores no cache
    assert "requirements-gitmlops.txt" in text and "gitmlops site build" in text


@pytest.mark.slow
def test_build_job_steps_run_locally(trained_repo: Path) -> None:
    """The build job's `run:` steps, in order, with bash as GitHub runs them (install skipped: this
    environment has gitmlops; checkout and setup-python are the test repo and this interpreter)."""
    assert invoke(trained_repo, "registry", "register", "model").exit_code == 0
    job = _load()["jobs"]["build"]
    summary = trained_repo.parent / "summary.md"
    env = {**os.environ, **{k: str(v) for k, v in job["env"].items()}, "GITHUB_STEP_SUMMARY": str(summary),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    ran = []
    for step in job["steps"]:
        if "run" not in step or step.get("id") == "install":
            continue
        script = step["run"]
        assert "${{" not in script  # values reach scripts through env only
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=trained_repo,
                              env={**env, **{k: "" for k in step.get("env") or {}}}, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, f"{step['name']}: {proc.stdout}\n{proc.stderr}"
        ran.append(step["name"])
    assert ran == ["Pull the DVC data (reference profile, feature schemas)", "Build the site"]
    site = trained_repo / job["env"]["SITE_DIR"]
    assert (site / "index.html").is_file() and (site / "data.js").is_file()
    assert not (site / ".gitmlops-site-cache.json").exists()  # the cache is no page
    assert "1 model(s), 1 version(s)" in summary.read_text()
