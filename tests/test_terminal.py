"""The CLI in a terminal: man pages `man` and `git help` find, the `git mlops` usage line, NO_COLOR,
output fitted to the terminal width, a terminal format for `monitor diff`, and `--json` everywhere."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitmlops.cli.output import fit, table
from gitmlops.errors import EXIT_USAGE
from tests.conftest import git, invoke

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run_in_pty(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run ``argv`` with stdout and stderr on a real pseudo-terminal; return (exit code, output)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_man_pages_are_current() -> None:
    from gitmlops.cli import manpages

    assert manpages.stale() == [], "man pages are stale: run `python -m gitmlops.cli.reference`"
    page = (manpages.MAN_DIR / "git-mlops.1").read_text()
    assert ".SH SYNOPSIS" in page and "git mlops [OPTIONS] COMMAND" in page
    assert (manpages.MAN_DIR / "gitmlops-registry-promote.1").is_file()


@pytest.mark.slow
def test_installed_man_page_is_found_with_only_the_environment_on_path(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
                   check=True, capture_output=True)
    prefix = tmp_path / "env"
    wheel = next(wheels.glob("gitmlops-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed",
                    "--prefix", str(prefix), str(wheel)], check=True, capture_output=True)
    man = shutil.which("man")
    if man is None:
        pytest.fail("`man` is not installed (Debian: man-db)")
    # the environment's bin/ plus the system folders that hold man's own tools (nroff, tbl), nothing else
    env = {"PATH": f"{prefix / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "MANPAGER": "cat", "TERM": "dumb", "LANG": "C.UTF-8"}
    found = subprocess.run([man, "-w", "git-mlops"], env=env, capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip().startswith(str(prefix / "share" / "man"))
    shown = subprocess.run([man, "gitmlops-registry"], env=env, capture_output=True, text=True)
    assert shown.returncode == 0 and "promote" in shown.stdout
    # what git does with `git mlops --help`: `git help mlops`, i.e. `man git-mlops`
    git_bin = shutil.which("git")
    assert git_bin is not None
    helped = subprocess.run([git_bin, "mlops", "--help"], env=env, capture_output=True, text=True)
    assert helped.returncode == 0, helped.stderr
    assert "GIT-MLOPS(1)" in helped.stdout and "git mlops [OPTIONS] COMMAND" in helped.stdout


def test_usage_says_git_mlops_when_run_as_the_git_plugin(tmp_path: Path) -> None:
    plugin = BIN / "git-mlops"
    assert plugin.is_file(), "the git-mlops console script is not installed"
    out = subprocess.run([str(plugin), "registry", "--bogus"], capture_output=True, text=True)
    assert out.returncode == EXIT_USAGE
    assert "Usage: git mlops registry" in out.stderr
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}")
    via_git = subprocess.run(["git", "mlops", "registry", "--help"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert via_git.returncode == 0
    assert via_git.stdout.startswith("Usage: git mlops registry")
    direct = subprocess.run([str(BIN / "gitmlops"), "registry", "--help"], capture_output=True, text=True)
    assert direct.stdout.startswith("Usage: gitmlops registry")


@pytest.mark.parametrize("how", ["default", "NO_COLOR", "--no-color"])
def test_no_color(tmp_path: Path, how: str) -> None:
    env = dict(os.environ)
    args = [str(BIN / "gitmlops"), "-C", str(tmp_path), "pipeline", "show"]
    if how == "NO_COLOR":
        env["NO_COLOR"] = "1"
    elif how == "--no-color":
        args.insert(1, "--no-color")
    code, out = run_in_pty(args, tmp_path, env)
    assert code == EXIT_USAGE
    assert "not a git repository" in out
    if how == "default":
        assert "\x1b[31m" in out  # red on a terminal, as before
    else:
        assert "\x1b[" not in out


def test_table_fits_the_width() -> None:
    rows = [["prepare", "up to date", "data/raw/churn.csv, conf/data/default.yaml, " * 3, "data/prepared " * 4]]
    text = table(["stage", "status", "deps", "outs"], rows, width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" in text and text.splitlines()[2].startswith("prepare  up to date")
    narrow = table([f"column{i}" for i in range(20)], [list(range(20))], width=40)
    assert all(len(line) <= 40 for line in narrow.splitlines())
    assert narrow.splitlines()[3].startswith("(3 column") or "not shown at this width" in narrow
    assert "see --json" in narrow and "column19" in narrow
    assert table(["a"], [["x" * 300]], width=None).splitlines()[2] == "x" * 300  # a pipe gets everything
    wrapped = fit("metrics: " + ", ".join(f"metric{i}=0.{i}" for i in range(30)), width=60)
    assert all(len(line) <= 60 for line in wrapped.splitlines()) and len(wrapped.splitlines()) > 1


@pytest.fixture
def registered_repo(trained_repo: Path) -> Path:
    for args in (("registry", "register", "model", "--bump", "minor"),
                 ("registry", "promote", "model", "v0.1.0", "--stage", "prod")):
        result = invoke(trained_repo, *args)
        assert result.exit_code == 0, result.output
    return trained_repo


@pytest.mark.slow
def test_read_commands_fit_80_columns(registered_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    profile = invoke(registered_repo, "monitor", "profile", "data/churn.csv", "--name", "churn")
    assert profile.exit_code == 0, profile.output
    commands = [
        ["pipeline", "show"], ["exp", "show"], ["lineage", "model@v0.1.0"], ["status"],
        ["monitor", "show", "churn"], ["monitor", "diff", "--target", "churn", "--format", "text"],
        ["registry", "show"], ["registry", "history", "model"], ["data", "status"], ["verify", "model@v0.1.0"],
    ]
    for command in commands:
        result = invoke(registered_repo, *command)
        assert result.exit_code in (0, 1), (command, result.output)
        too_wide = [line for line in result.stdout.splitlines() if len(line) > 80]
        assert not too_wide, (command, too_wide)


@pytest.mark.slow
def test_monitor_diff_terminal_format(registered_repo: Path) -> None:
    profile = invoke(registered_repo, "monitor", "profile", "data/churn.csv", "--name", "churn")
    assert profile.exit_code == 0, profile.output
    piped = invoke(registered_repo, "monitor", "diff", "--target", "churn")
    assert piped.stdout.startswith("### Data drift")  # Markdown when piped, as workflows expect
    env = dict(os.environ, COLUMNS="100")
    code, out = run_in_pty([str(BIN / "gitmlops"), "monitor", "diff", "--target", "churn"], registered_repo, env)
    assert code == 0, out
    assert out.startswith("models/reference_profile.bin -> churn (monitoring/churn/")
    assert "\\_" not in out and "|---|" not in out and "###" not in out
    assert re.search(r"^customer_id +skipped ", out, flags=re.M)  # the id column is shown as skipped, not as "no drift" evidence
    both = invoke(registered_repo, "monitor", "diff", "--target", "churn", "--json", "--format", "md")
    assert both.exit_code == EXIT_USAGE


def test_html_report_marks_skipped_columns_and_has_a_summary() -> None:
    from gitmlops.monitor.drift import NO_DRIFT, ColumnDrift, DriftReport
    from gitmlops.monitor.render_html import render_html

    columns = [
        ColumnDrift("plan", "categorical", NO_DRIFT, "jensen_shannon", "small", "jensen_shannon", 0.01,
                    chart={"type": "bars", "categories": ["basic", "pro"], "reference": [0.0, 1.0], "target": [1.0, 0.0]}),
        ColumnDrift("customer_id", "categorical", NO_DRIFT, "skipped", "skipped by monitor.drift.columns"),
    ]
    report = DriftReport("ref.bin", "now.bin", NO_DRIFT, 1, 0, 0, 0.0, [], [], columns,
                         {"dataset_drift_share": 0.5, "small_sample_rows": 1000})
    html = render_html(report)
    card = html[html.index('id="col-1"'):]
    assert "SKIPPED" in card[:400] and "NO DRIFT" not in card[:400]
    assert '<table class="summary">' in html and '<a href="#col-1">customer_id</a>' in html
    assert html.index('class="summary"') < html.index('id="col-0"')
    # share labels end inside the 420-pixel drawing
    assert 'text-anchor="end">100%→0%</text>' in html


@pytest.mark.slow
def test_json_on_registry_get_and_pipeline_sync(registered_repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "model.ubj"
    got = invoke(registered_repo, "registry", "get", "model#prod", "-o", str(target), "--json")
    assert got.exit_code == 0, got.output
    data = json.loads(got.stdout)
    assert data["path"] == str(target) and data["version"] == "v0.1.0" and data["bytes"] == target.stat().st_size
    synced = invoke(registered_repo, "pipeline", "sync", "--json")
    assert synced.exit_code == 0, synced.output
    assert json.loads(synced.stdout) == {"check": False, "written": [], "stale": [], "up_to_date": True}
    (registered_repo / "params.yaml").write_text("data: {}\n")
    checked = invoke(registered_repo, "pipeline", "sync", "--check", "--json")
    assert checked.exit_code == 1
    assert json.loads(checked.stdout.split("\nerror:")[0])["stale"] == ["params.yaml"]
    git(registered_repo, "checkout", "--", "params.yaml")


def test_conflicting_output_options_are_refused(git_repo: Path) -> None:
    for args in (["exp", "show", "--md", "--json"], ["exp", "diff", "--json", "--md"],
                 ["report", "--json", "--format", "md"]):
        result = invoke(git_repo, *args)
        assert result.exit_code == EXIT_USAGE, (args, result.output)
        assert "two outputs" in result.output


def _complete(repo: Path, words: str) -> list[str]:
    """What bash completion offers for the line ``words`` (the last word is being completed)."""
    parts = words.split(" ")
    env = dict(os.environ, COMP_WORDS=words, COMP_CWORD=str(len(parts) - 1), _GITMLOPS_COMPLETE="bash_complete")
    out = subprocess.run([str(BIN / "gitmlops")], cwd=repo, env=env, capture_output=True, text=True, check=True)
    return [line.split(",", 1)[1] for line in out.stdout.splitlines() if line.startswith("plain,")]


@pytest.mark.slow
def test_completion_knows_refs_stages_datasets_and_keys(registered_repo: Path) -> None:
    assert invoke(registered_repo, "monitor", "profile", "data/churn.csv", "--name", "churn").exit_code == 0
    assert _complete(registered_repo, "gitmlops registry resolve mo") == ["model#prod", "model@latest", "model@v0.1.0"]
    assert _complete(registered_repo, "gitmlops serve model#") == ["model#prod"]
    assert "v0.1.0" in _complete(registered_repo, "gitmlops registry promote model ")
    assert {"dev", "staging", "prod"} <= set(_complete(registered_repo, "gitmlops registry promote model v0.1.0 --stage "))
    assert _complete(registered_repo, "gitmlops run --stage tr") == ["train"]
    assert "train.max_depth=" in _complete(registered_repo, "gitmlops run train.")
    assert "model=xgb_large" in _complete(registered_repo, "gitmlops run model=")
    assert _complete(registered_repo, "gitmlops monitor show ch") == ["churn"]
    assert "registry" in _complete(registered_repo, "gitmlops reg")


@pytest.mark.slow
def test_git_mlops_completion_through_gits_own_bash_completion(registered_repo: Path, tmp_path: Path) -> None:
    git_completion = Path("/usr/share/bash-completion/completions/git")
    if not git_completion.is_file():
        pytest.fail("git's bash completion is not installed (Debian: git ships it)")
    script = invoke(None, "completion", "bash")
    assert script.exit_code == 0
    (tmp_path / "gitmlops.bash").write_text(script.stdout)
    driver = tmp_path / "drive.sh"
    driver.write_text(
        f"source {git_completion}\nsource {tmp_path / 'gitmlops.bash'}\n"
        "COMP_WORDS=(git mlops registry resolve mo); COMP_CWORD=4\n"
        "COMP_LINE='git mlops registry resolve mo'; COMP_POINT=${#COMP_LINE}\n"
        "__git_wrap__git_main\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}")
    out = subprocess.run(["bash", str(driver)], cwd=registered_repo, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["model#prod", "model@latest", "model@v0.1.0"]


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o nosort -F"), ("zsh", "compdef"), ("fish", "complete --no-files --command gitmlops")])
def test_completion_scripts(shell: str, marker: str) -> None:
    result = invoke(None, "completion", shell)
    assert result.exit_code == 0 and marker in result.stdout
    if shell == "bash":
        assert subprocess.run(["bash", "-n"], input=result.stdout, text=True).returncode == 0
        assert "_git_mlops()" in result.stdout
    assert invoke(None, "completion", "tcsh").exit_code == EXIT_USAGE


@pytest.mark.slow
def test_doctor(registered_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ok = invoke(registered_repo, "doctor", "--json")
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.stdout)
    assert report["versions"]["dvc"] and report["versions"]["xgboost"]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["git identity"]["status"] == "ok"
    assert checks["DVC remote local (default)"]["status"] == "ok"
    assert report["workflows"]["pr-comment.yml"] == ["GITHUB_TOKEN"]
    # a remote that does not answer, and no git identity: both named, exit 1, nothing printed twice
    from tests.conftest import dvc

    dvc(registered_repo, "remote", "add", "broken", "gs://bucket/store")  # its plugin is not installed
    empty_home = tmp_path / "home"
    empty_home.mkdir()
    monkeypatch.setenv("HOME", str(empty_home))
    bad = invoke(registered_repo, "doctor")
    assert bad.exit_code == 1, bad.output
    assert re.search(r"DVC remote broken +fail +gs://bucket/store; does not answer: .*dvc-gs", bad.stdout)
    assert re.search(r"git identity +fail", bad.stdout)
    assert "2 check(s) failed: git identity, DVC remote broken" in bad.output
    offline = invoke(registered_repo, "doctor", "--no-remote", "--json")
    assert not any(c["name"].startswith("DVC remote") for c in json.loads(offline.stdout)["checks"])
