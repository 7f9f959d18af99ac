"""The workflow templates: actionlint + the workflow schema, the security rules for PRs from forks,
and a local run of the PR workflows' shell steps against the fake GitHub API.

Local run: the `run:` steps of pr.yml, then of pr-comment.yml, execute in order with bash
(`-eo pipefail`, as on GitHub) and the GitHub Actions variables set. Steps that need the network are
replaced by their local equivalent:

- ``actions/checkout``: the test repository, already on the PR branch with ``origin/main`` fetched;
- ``actions/setup-python``: the test's own interpreter first on PATH;
- steps with ``id: install`` (pip install): skipped, gitmlops is installed in this environment;
- ``actions/upload-artifact`` / ``actions/download-artifact``: a copy through a local folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitmlops.github.untrusted import relay_untrusted
from tests.conftest import git, invoke
from tests.github_fake import FakeGitHub
from tests.workflow_lint import actionlint, assert_clean

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "gitmlops" / "templates" / "workflows"
ALL_WORKFLOWS = sorted([*WORKFLOWS.glob("*.yml"), *(ROOT / ".github" / "workflows").glob("*.yml")])
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*( |$)")
MINE = ("pr.yml", "pr-comment.yml", "monitor.yml")
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def _load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


# -- well-formed ------------------------------------------------------------------------------------


def test_all_workflow_templates_pass_actionlint_and_schema() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= set(MINE)
    assert_clean(*ALL_WORKFLOWS)


def test_zizmor_finds_nothing() -> None:
    """zizmor's offline audits (pinning, credentials, injection, triggers, cache poisoning...)."""
    zizmor = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    if zizmor is None:
        pytest.fail("zizmor is not installed: pip install -e '.[test]'")
    proc = subprocess.run([zizmor, "--offline", "--no-progress", *map(str, ALL_WORKFLOWS)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout + proc.stderr


def test_zizmor_is_really_auditing(tmp_path: Path) -> None:
    zizmor = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    assert zizmor is not None
    bad = tmp_path / "bad.yml"
    bad.write_text("on: pull_request_target\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
                   "    steps:\n      - uses: actions/checkout@v4\n")
    proc = subprocess.run([zizmor, "--offline", "--no-progress", str(bad)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "unpinned-uses" in proc.stdout and "dangerous-triggers" in proc.stdout


@pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=lambda p: p.name)
def test_actions_pinned_by_sha_with_tag(path: Path) -> None:
    for line in path.read_text().splitlines():
        if line.strip().startswith(("uses:", "- uses:")):
            ref = line.split("uses:", 1)[1].strip()
            assert PINNED.match(ref), f"{path.name}: {ref!r} is not pinned by commit SHA with its tag"


@pytest.mark.parametrize("name", ["pr.yml", "monitor.yml", "deploy.yml", "pr-comment.yml"])
def test_workflows_install_the_recorded_gitmlops(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    assert "requirements-gitmlops.txt" in text
    assert not re.search(r"pip install[^\n]*\bgitmlops\b(?!\.txt)", text.replace("requirements-gitmlops.txt", "R"))
    if name == "deploy.yml":  # a publishing workflow restores no cache
        assert not re.search(r"^\s*cache:", text, re.MULTILINE)


def test_actionlint_is_really_linting(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\npermissions:\n  contents: wirte\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
                   "    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n"
                   "  b:\n    needs: [zzz]\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n")
    kinds = {f["kind"] for f in actionlint(bad)}
    assert kinds == {"permissions", "expression", "job-needs"}


# -- safe for forks: permissions and triggers --------------------------------------------------------


def _write_scopes(permissions: Any) -> set[str]:
    if permissions in ("write-all",):
        return {"*"}
    if not isinstance(permissions, dict):
        return set()
    return {scope for scope, level in permissions.items() if level == "write"}


@pytest.mark.parametrize("name", MINE)
def test_least_privilege_everywhere(name: str) -> None:
    doc = _load(name)
    assert "pull_request_target" not in doc["on"]
    assert "permissions" in doc and not _write_scopes(doc["permissions"]), "top level must not grant writes"
    for job in doc["jobs"].values():
        assert "permissions" in job, f"{name}: every job states its permissions"


def test_pr_workflow_runs_untrusted_code_without_write_access() -> None:
    doc = _load("pr.yml")
    assert set(doc["on"]) == {"pull_request"}
    (job,) = doc["jobs"].values()
    assert _write_scopes(job["permissions"]) == set()
    checkout = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout"))
    assert checkout["with"]["persist-credentials"] is False
    assert checkout["with"]["fetch-depth"] == 0
    text = (WORKFLOWS / "pr.yml").read_text()
    assert "GITHUB_TOKEN" not in text and "gitmlops comment" not in text


def test_comment_workflow_writes_but_never_runs_pr_code() -> None:
    doc = _load("pr-comment.yml")
    assert doc["on"]["workflow_run"]["workflows"] == [_load("pr.yml")["name"]]
    (job,) = doc["jobs"].values()
    assert _write_scopes(job["permissions"]) == {"pull-requests"}
    # the only checkout: the recorded gitmlops spec of the default branch, never the PR's code
    (checkout,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout")]
    assert checkout["with"]["sparse-checkout"] == "requirements-gitmlops.txt"
    assert "ref" not in checkout["with"] and "repository" not in checkout["with"]
    assert checkout["with"]["persist-credentials"] is False
    # untrusted event fields never reach a script through ${{ }} (only through env)
    for step in job["steps"]:
        assert "${{" not in step.get("run", "")


# -- a local run of the PR workflows ----------------------------------------------------------------


def _evaluate(text: str, context: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        assert key in context, f"the local runner does not know the expression {key!r}"
        return context[key]

    return EXPRESSION.sub(replace, text)


def _run_job(job: dict[str, Any], cwd: Path, env: dict[str, str], context: dict[str, str],
             artifacts: Path, checkout_of: Path | None = None) -> list[str]:
    """Run a job's steps locally; returns what happened to each step, for the assertions."""
    job_env = {k: _evaluate(str(v), context) for k, v in (job.get("env") or {}).items()}
    context = {**context, **{f"env.{k}": v for k, v in job_env.items()}}
    log = []
    for step in job["steps"]:
        uses = str(step.get("uses", ""))
        with_ = {k: _evaluate(str(v), context) for k, v in (step.get("with") or {}).items()}
        if uses.startswith(("actions/checkout", "actions/setup-python")):
            if "sparse-checkout" in with_:  # a few files of the default branch (the test repo's main)
                (cwd / with_["path"]).mkdir(parents=True, exist_ok=True)
                for rel in with_["sparse-checkout"].split():
                    (cwd / with_["path"] / rel).write_text(git(checkout_of or cwd, "show", f"main:{rel}") + "\n")
            log.append(f"local:{uses.split('@', maxsplit=1)[0]}")
            continue
        if uses.startswith("actions/upload-artifact"):
            shutil.copytree(cwd / with_["path"], artifacts / with_["name"])
            log.append("local:upload")
            continue
        if uses.startswith("actions/download-artifact"):
            shutil.copytree(artifacts / with_["name"], cwd / with_["path"])
            log.append("local:download")
            continue
        assert not uses, f"no local equivalent for {uses}"
        if step.get("id") == "install":
            log.append("skipped:install")
            continue
        step_env = {k: _evaluate(str(v), context) for k, v in (step.get("env") or {}).items()}
        script = _evaluate(step["run"], context)
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd,
                              env={**env, **job_env, **step_env}, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"step {step.get('name')!r} failed:\n{proc.stdout}\n{proc.stderr}"
        log.append(f"ran:{step.get('name')}")
    return log


@pytest.mark.slow
def test_pr_workflows_run_locally_and_post_one_sticky_comment(trained_repo: Path, tmp_path: Path) -> None:
    repo = trained_repo
    git(repo, "update-ref", "refs/remotes/origin/main", "main")
    git(repo, "checkout", "-q", "-b", "tune-depth")
    conf = repo / "conf" / "train" / "default.yaml"
    conf.write_text(conf.read_text().replace("max_depth: 4", "max_depth: 6"))
    git(repo, "commit", "-q", "-am", "deeper trees")
    head = git(repo, "rev-parse", "HEAD")
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7, "head": {"sha": head}}}))
    summary = tmp_path / "summary.md"

    with FakeGitHub() as gh:
        gh.add_pull(head, 7)
        base_env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": gh.repository,
            "GITHUB_API_URL": gh.url,
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_RUN_ID": "99",
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_OUTPUT": str(tmp_path / "output"),
        }
        base_env.pop("GITHUB_TOKEN", None)
        pr_env = {**base_env, "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event),
                  "GITHUB_SHA": head, "GITHUB_BASE_REF": "main", "GITHUB_HEAD_REF": "tune-depth"}
        pr_context = {
            "github.base_ref": "main",
            "github.event.pull_request.number": "7",
            "github.event.pull_request.head.sha": head,
            "secrets.AWS_ACCESS_KEY_ID": "",  # a fork's run gets no secrets
            "secrets.AWS_SECRET_ACCESS_KEY": "",
        }
        (pr_job,) = _load("pr.yml")["jobs"].values()
        log = _run_job(pr_job, repo, pr_env, pr_context, artifacts)
        assert log[:3] == ["local:actions/checkout", "local:actions/setup-python", "skipped:install"]
        assert log[-1] == "local:upload"
        report = (artifacts / "gitmlops-report" / "report.md").read_text()
        assert "train.max\\_depth" in report and "| changed | 4 | 6 |" in report
        assert json.loads((artifacts / "gitmlops-report" / "report.json").read_text())["base"]["sha"] == \
            git(repo, "rev-parse", "main")
        assert "## gitmlops report" in summary.read_text()

        # the comment workflow: a fresh workspace with no checkout, and a token that may write
        workspace = tmp_path / "workspace"
        workspace.mkdir()
        run_event = tmp_path / "run-event.json"
        run_event.write_text(json.dumps({"workflow_run": {"id": 99, "head_sha": head, "pull_requests": []}}))
        comment_env = {**base_env, "GITHUB_EVENT_NAME": "workflow_run", "GITHUB_EVENT_PATH": str(run_event)}
        comment_context = {
            "github.event.workflow_run.id": "99",
            "github.event.workflow_run.head_sha": head,
            "secrets.GITHUB_TOKEN": gh.token,
        }
        (comment_job,) = _load("pr-comment.yml")["jobs"].values()
        for _ in range(2):  # the second run edits the first comment
            shutil.rmtree(workspace / "gitmlops-report", ignore_errors=True)
            log = _run_job(comment_job, workspace, comment_env, comment_context, artifacts, checkout_of=repo)
            assert log == ["local:download", "local:actions/checkout", "local:actions/setup-python",
                           "skipped:install", "ran:Post the sticky comment"]
        (posted,) = gh.comments("pr", 7)
        # posted as the PR's own words: sanitised and quoted under the bot's header (see test_bots_untrusted)
        assert posted["body"] == "<!-- gitmlops-comment: gitmlops-report -->\n" + relay_untrusted(report, gh.repository, 7, head)
        assert "\n> ## gitmlops report\n" in posted["body"]

        # a forged PR number in the artifact is refused before anything is posted
        (artifacts / "gitmlops-report" / "pr-number").write_text("7; rm -rf /\n")
        shutil.rmtree(workspace / "gitmlops-report")
        with pytest.raises(AssertionError, match="no valid PR number"):
            _run_job(comment_job, workspace, comment_env, comment_context, artifacts, checkout_of=repo)
        assert len(gh.comments("pr", 7)) == 1


def test_report_and_comment_commands_used_by_the_workflows_exist(git_repo: Path) -> None:
    text = "\n".join((WORKFLOWS / name).read_text() for name in MINE)
    for flag in ("--base", "--format", "--output", "--no-drift"):
        assert flag in text
        assert flag in invoke(git_repo, "report", "--help").output
    for flag in ("--target", "--expect-head", "--id"):
        assert flag in invoke(git_repo, "comment", "--help").output
    for command in ("profile", "collect", "diff"):
        assert f"gitmlops monitor {command}" in text
        assert invoke(git_repo, "monitor", command, "--help").exit_code == 0
