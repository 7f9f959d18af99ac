"""`gitmlops run` under real concurrency and real signals: one run per checkout, SIGTERM like Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gitmlops.errors import EXIT_INTERRUPTED, EXIT_USAGE
from tests.conftest import invoke
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def _add_slow_stage(repo: Path) -> None:
    path = repo / "conf" / "pipeline" / "default.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["stages"]["slow"] = {
        "cmd": "python -c \"import time,pathlib; pathlib.Path('started').touch(); "
        "pathlib.Path('partial.txt').write_text('half'); time.sleep(60)\"",
        "outs": ["partial.txt"],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _start_run(repo: Path, *overrides: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitmlops", "-C", str(repo), "run", *overrides],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=0,
    )
    _wait_for(repo / "started", proc, timeout=90)
    return proc


def _files(repo: Path) -> dict[str, bytes]:
    return {name: (repo / name).read_bytes() for name in ("params.yaml", "dvc.yaml", "dvc.lock")}


def test_second_run_in_one_checkout_is_refused_before_writing(trained_repo: Path) -> None:
    _add_slow_stage(trained_repo)
    first = _start_run(trained_repo, "train.max_depth=6")
    try:
        during = _files(trained_repo)
        assert yaml.safe_load(during["params.yaml"])["train"]["max_depth"] == 6
        # a second, real process racing the first
        second = subprocess.run(
            [sys.executable, "-m", "gitmlops", "-C", str(trained_repo), "run", "train.max_depth=2"],
            capture_output=True, text=True, timeout=120,
        )
        assert second.returncode == EXIT_USAGE, second.stderr
        assert "another gitmlops run is in progress" in second.stderr
        assert f"pid {first.pid}" in second.stderr and "train.max_depth=6" in second.stderr
        assert _files(trained_repo) == during  # B wrote nothing
    finally:
        os.killpg(first.pid, signal.SIGINT)
        first.communicate(timeout=60)
    # the lock went with the first run: the next run is not refused
    result = invoke(trained_repo, "pipeline", "sync")
    assert result.exit_code == 0, result.output


def test_sigterm_restores_like_ctrl_c(trained_repo: Path) -> None:
    _add_slow_stage(trained_repo)
    before = _files(trained_repo)
    proc = _start_run(trained_repo, "train.max_depth=3")
    assert yaml.safe_load((trained_repo / "params.yaml").read_text())["train"]["max_depth"] == 3
    os.kill(proc.pid, signal.SIGTERM)  # only the gitmlops process, as `timeout` or `docker stop` do
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_INTERRUPTED, output
    assert "interrupted" in output
    after = _files(trained_repo)
    # as with Ctrl-C: generated files put back, the unfinished stage recorded nowhere
    assert after["params.yaml"] == before["params.yaml"]
    assert after["dvc.yaml"] == before["dvc.yaml"]
    assert "slow" not in yaml.safe_load(after["dvc.lock"])["stages"]
    # the stage command was stopped too, not left running (its own sleep lasts 60 s)
    import psutil

    def stage_gone() -> bool:
        return not [p for p in psutil.process_iter(["cmdline"]) if "partial.txt" in " ".join(p.info["cmdline"] or [])]

    wait_until(stage_gone, 20, "the slow stage's command stopped")


def _add_slow_stage_marking(repo: Path, marker: Path) -> None:
    """A slow stage that marks an absolute path: a sweep runs its stages in a temporary copy."""
    path = repo / "conf" / "pipeline" / "default.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["stages"]["slow"] = {
        "cmd": f"python -c \"import time,pathlib; pathlib.Path(r'{marker}').touch(); "
        "pathlib.Path('partial.txt').write_text('half'); time.sleep(60)\"",
        "outs": ["partial.txt"],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _wait_for(marker: Path, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    def started() -> bool:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        return marker.exists()

    wait_until(started, timeout, "the slow stage started")


@pytest.mark.parametrize("first_is_sweep", [True, False])
def test_a_sweep_and_a_run_take_the_same_lock(trained_repo: Path, tmp_path: Path, first_is_sweep: bool) -> None:
    from tests.conftest import git

    marker = tmp_path / "slow-started"
    _add_slow_stage_marking(trained_repo, marker)
    invoke(trained_repo, "pipeline", "sync")
    git(trained_repo, "add", "-A")
    git(trained_repo, "commit", "-q", "-m", "slow stage")
    sweep_args = ["run", "--sweep", "train.max_depth=2,3"]
    run_args = ["run", "train.max_depth=4"]
    first_args, second_args = (sweep_args, run_args) if first_is_sweep else (run_args, sweep_args)
    first = subprocess.Popen([sys.executable, "-m", "gitmlops", "-C", str(trained_repo), *first_args],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, process_group=0)
    try:
        _wait_for(marker, first)
        during = _files(trained_repo)
        second = subprocess.run([sys.executable, "-m", "gitmlops", "-C", str(trained_repo), *second_args],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == EXIT_USAGE, second.stderr
        assert "another gitmlops run is in progress" in second.stderr
        assert f"pid {first.pid}: gitmlops -C {trained_repo} {' '.join(first_args)}" in second.stderr
        assert _files(trained_repo) == during  # the second wrote nothing
    finally:
        os.killpg(first.pid, signal.SIGINT)
        first.communicate(timeout=60)


def test_a_run_killed_with_sigkill_is_recovered_by_the_next_run(trained_repo: Path) -> None:
    from tests.conftest import dvc

    path = trained_repo / "conf" / "pipeline" / "default.yaml"
    doc = yaml.safe_load(path.read_text())
    # slow only while `hold` exists, so that the recovering run below finishes at once
    doc["stages"]["slow"] = {
        "cmd": "python -c \"import time,pathlib; pathlib.Path('started').touch(); "
        "pathlib.Path('partial.txt').write_text('half'); "
        "time.sleep(60 if pathlib.Path('hold').exists() else 0)\"",
        "deps": ["${paths.model}"],  # runs after train, whenever the model changes
        "outs": ["partial.txt"],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert invoke(trained_repo, "run").exit_code == 0
    before = _files(trained_repo)
    (trained_repo / "started").unlink()
    (trained_repo / "hold").touch()
    proc = _start_run(trained_repo, "train.max_depth=3")
    os.killpg(proc.pid, signal.SIGKILL)  # kill -9 of everything: no clean-up runs
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    (trained_repo / "hold").unlink()

    # what is left is whole: the new config; dvc.lock records the stages that finished (train)
    left = _files(trained_repo)
    assert yaml.safe_load(left["params.yaml"])["train"]["max_depth"] == 3
    locked = yaml.safe_load(left["dvc.lock"])["stages"]
    assert locked["train"]["params"]["params.yaml"]["train"]["max_depth"] == 3
    assert locked["slow"] == yaml.safe_load(before["dvc.lock"])["stages"]["slow"]  # the unfinished one: as before
    # no stale lock: the next run is not refused, and it puts the config of conf/ back
    rerun = invoke(trained_repo, "run")
    assert rerun.exit_code == 0, rerun.output
    after = _files(trained_repo)
    assert after["params.yaml"] == before["params.yaml"]
    assert after["dvc.yaml"] == before["dvc.yaml"]
    assert "up to date" in dvc(trained_repo, "status")
