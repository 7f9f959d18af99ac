"""Functional tests of `train.backend=dask` through `gitmlops run`: a 2-worker LocalCluster trains a
model that serves and scores close to local training; an unreachable scheduler and a worker killed
mid-training (on a scheduler and workers in processes of their own) fail clearly, with no model written
and nothing registered or locked."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitmlops.errors import EXIT_EXTERNAL, EXIT_USAGE
from tests.conftest import dvc, git, invoke
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

DASK = "train.backend=dask"


@pytest.fixture(autouse=True)
def no_thread_outlives_the_test() -> Iterator[None]:
    """Threads a test starts in this process end with it (XGBoost's tracker thread once did not).

    tqdm's monitor is left aside: tqdm starts one per bar class (DVC's bars included, even switched
    off) and keeps it for the process by design.
    """
    before = set(threading.enumerate())

    def left() -> list[str]:
        return [t.name for t in threading.enumerate() if t not in before and t.is_alive() and t.name != "tqdm_monitor"]

    yield
    with contextlib.suppress(AssertionError):  # a thread that is closing down gets a moment
        wait_until(lambda: not left(), 5, "")
    assert not left(), f"threads left running by this test: {left()}"


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def locked_stages(repo: Path) -> set[str]:
    import yaml

    lock = repo / "dvc.lock"
    return set((yaml.safe_load(lock.read_text()) or {}).get("stages", {})) if lock.exists() else set()


def test_dask_training_serves_and_scores_close_to_local(example_repo: Path) -> None:
    import pandas as pd

    from gitmlops.serve.model import load_booster, load_bundle
    from gitmlops.stages.features import feature_frame

    result = invoke(example_repo, "run", DASK, "dask.processes=false", "--json")
    assert result.exit_code == 0, result.output
    dask_metrics = read_json(example_repo / "metrics.json")
    models = example_repo / "models"
    dask_model = (models / "model.ubj").read_bytes()
    # Reproducible on Dask: same data, params and number of workers -> the same bytes, on a new cluster.
    result = invoke(example_repo, "run", DASK, "dask.processes=false", "--force", "--stage", "train")
    assert result.exit_code == 0, result.output
    assert (models / "model.ubj").read_bytes() == dask_model
    dask_schema = (models / "schema.json").read_bytes()
    dask_profile = read_json(models / "reference_profile.json")

    # The serving path loads it like any model: the same format, the same schema file.
    bundle = load_bundle(models)
    booster = load_booster(bundle.model_file, None)
    test = pd.read_parquet(example_repo / "data/prepared/test.parquet")
    schema = read_json(models / "schema.json")
    import xgboost as xgb

    dask_pred = booster.predict(xgb.DMatrix(feature_frame(test, schema), enable_categorical=True))
    assert dask_pred.shape == (len(test),)
    assert ((dask_pred >= 0) & (dask_pred <= 1)).all()

    result = invoke(example_repo, "run", "train.backend=local")
    assert result.exit_code == 0, result.output
    local_metrics = read_json(example_repo / "metrics.json")
    # Exact: the schema; the profile's counts (its KLL quantiles are approximate by design).
    assert (models / "schema.json").read_bytes() == dask_schema
    local_profile = read_json(models / "reference_profile.json")
    assert dask_profile["profile"]["rows"] == local_profile["profile"]["rows"]
    for column, stats in local_profile["columns"].items():
        for key in ("count", "null_count", "types", "min", "max"):
            if key in stats:
                assert dask_profile["columns"][column][key] == stats[key], (column, key)
    # Close: the models differ (cuts from merged quantile sketches, per-worker sums), the scores do not.
    assert abs(dask_metrics["auc"] - local_metrics["auc"]) < 0.03
    assert abs(dask_metrics["accuracy"] - local_metrics["accuracy"]) < 0.03
    assert abs(dask_metrics["logloss"] - local_metrics["logloss"]) < 0.03
    assert (models / "model.ubj").read_bytes() != dask_model  # cuts and sums differ from one machine's
    local_pred = xgb.Booster(model_file=str(models / "model.ubj")).predict(
        xgb.DMatrix(feature_frame(test, schema), enable_categorical=True)
    )
    assert ((dask_pred > 0.5) == (local_pred > 0.5)).mean() > 0.9


def test_dask_trained_model_registers_and_verifies_byte_for_byte(example_repo: Path, tmp_path: Path) -> None:
    dvc(example_repo, "remote", "modify", "--local", "local", "url", str(tmp_path / "remote"))  # this test's own
    result = invoke(example_repo, "run", "-q", DASK, "dask.processes=false")
    assert result.exit_code == 0, result.output
    git(example_repo, "add", "-A")
    git(example_repo, "commit", "-q", "-m", "trained on Dask")
    assert invoke(example_repo, "data", "push").exit_code == 0
    assert invoke(example_repo, "registry", "register", "model").exit_code == 0
    # verify reruns the pipeline from the commit's params (backend, LocalCluster size included).
    result = invoke(example_repo, "verify", "model@latest", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["reproduced"] is True, report


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stage_output(result: object, capfd: pytest.CaptureFixture[str]) -> str:
    """What the user sees: gitmlops' own output and the stage subprocess's (on the real stderr)."""
    captured = capfd.readouterr()
    return result.output + captured.out + captured.err  # type: ignore[attr-defined]


def test_unreachable_scheduler_fails_fast_and_writes_nothing(
    example_repo: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    address = f"tcp://127.0.0.1:{closed_port()}"
    start = time.monotonic()
    result = invoke(
        example_repo, "run", DASK, f"dask.scheduler_address={address}", "dask.connect_timeout=3"
    )
    elapsed = time.monotonic() - start
    output = stage_output(result, capfd)
    assert result.exit_code == EXIT_EXTERNAL, output
    assert f"cannot reach the Dask scheduler at {address}" in output
    assert "dask.scheduler_address" in output
    assert elapsed < 20  # prepare (~1 s) + a 3 s connect timeout + process start-ups
    assert not (example_repo / "models/model.ubj").exists()
    assert "train" not in locked_stages(example_repo)


def test_unknown_backend_is_a_config_error(example_repo: Path) -> None:
    """Checked before any stage runs: a usage error, nothing run, nothing written."""
    result = invoke(example_repo, "run", "train.backend=spark")
    assert result.exit_code == EXIT_USAGE, result.output
    assert "train.backend must be one of local, dask, not 'spark'" in result.output
    assert not (example_repo / "models/model.ubj").exists()
    assert not (example_repo / "data/prepared").exists()


@pytest.fixture
def cluster_address(tmp_path: Path) -> Iterator[str]:
    """A scheduler and 2 single-threaded workers, each in its own process, as on a real cluster.

    Not a LocalCluster: its scheduler runs in the test process, and XGBoost starts its tracker thread
    on the scheduler, blocked for good once a worker dies mid-training; in a process of its own the
    thread goes with the scheduler when the fixture stops it.
    """
    from distributed import Client

    scheduler_file = tmp_path / "scheduler.json"
    dask_cli = [sys.executable, "-m", "distributed.cli.dask_spec"]
    opts = {"host": "127.0.0.1", "port": 0, "dashboard": False, "scheduler_file": str(scheduler_file)}
    procs = [subprocess.Popen([*dask_cli, "--spec", json.dumps({"cls": "distributed.Scheduler", "opts": opts})],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0)]
    try:
        def scheduler_ready() -> str | None:
            assert procs[0].poll() is None, f"the scheduler exited with {procs[0].returncode}"
            try:
                return str(json.loads(scheduler_file.read_text())["address"])
            except (OSError, ValueError, KeyError):  # not written yet, or half written
                return None

        address = wait_until(scheduler_ready, 60, "the Dask scheduler wrote its address")
        worker = {"cls": "distributed.Nanny", "opts": {"host": "127.0.0.1", "nthreads": 1,
                                                       "silence_logs": logging.ERROR, "dashboard": False}}
        procs += [subprocess.Popen([*dask_cli, address, "--spec", json.dumps(worker)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0)
                  for _ in range(2)]
        with Client(address, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in procs:  # each process group: a nanny and the worker process it started
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def kill_a_worker_once_training(address: str, log: dict, deadline: float = 90.0) -> None:
    """Wait until both workers run XGBoost's boosting rounds, then SIGKILL one worker process."""
    from distributed import Client

    def in_boosting_loop() -> bool:  # run on each worker; nested, so it is pickled by value
        import sys
        from types import FrameType

        for top in sys._current_frames().values():
            frame: FrameType | None = top
            while frame is not None:
                if frame.f_code.co_name == "update" and frame.f_code.co_filename.endswith("xgboost/core.py"):
                    return True  # inside Booster.update: the collective is set up, rounds are running
                frame = frame.f_back
        return False

    with Client(address, set_as_default=False) as client:
        wait_until(lambda: all(client.run(in_boosting_loop).values()), deadline, "both workers started boosting")
        pids = client.run(os.getpid)
        victim = sorted(pids)[-1]
        log["killed_at"] = time.monotonic()
        log["victim"] = victim
        os.kill(pids[victim], signal.SIGKILL)


def test_worker_killed_mid_training_fails_and_writes_nothing(
    example_repo: Path, cluster_address: str, capfd: pytest.CaptureFixture[str]
) -> None:
    address = cluster_address
    log: dict = {}
    killer = threading.Thread(target=kill_a_worker_once_training, args=(address, log), daemon=True)
    killer.start()
    result = invoke(
        example_repo,
        "run",
        DASK,
        f"dask.scheduler_address={address}",
        "dask.collective_timeout=10",
        "train.num_boost_round=200000",  # minutes of work: it is killed, not finished
        "train.max_depth=8",
    )
    finished_at = time.monotonic()
    killer.join(timeout=5)
    assert not killer.is_alive()
    output = stage_output(result, capfd)
    assert "killed_at" in log, output
    assert finished_at - log["killed_at"] < 30, output  # bounded by the collective timeout, not the rounds
    assert result.exit_code == EXIT_EXTERNAL, output
    assert "training on Dask failed" in output
    assert "No model was written" in output
    assert not (example_repo / "models/model.ubj").exists()
    assert not (example_repo / "models/schema.json").exists()
    assert "train" not in locked_stages(example_repo)
    assert git(example_repo, "tag", "--list") == ""  # nothing registered


def test_workers_that_cannot_see_the_data_are_named(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    from gitmlops.errors import DataError, ExternalError
    from gitmlops.stages.dask_train import check_workers

    present = tmp_path / "train.parquet"
    present.write_bytes(b"x")
    with (
        LocalCluster(
            n_workers=1, processes=False, dashboard_address=None, silence_logs=logging.ERROR
        ) as local,
        Client(local, set_as_default=False) as client,
    ):
        assert check_workers(client, [str(present)]) == 1
        with pytest.raises(DataError, match=r"cannot see .*absent\.parquet") as info:
            check_workers(client, [str(present), str(tmp_path / "absent.parquet")])
        assert "mount at the same path" in str(info.value)

    class OldWorkers:  # a cluster whose image lags behind: only its report matters here
        def run(self, fn: object, files: list[str]) -> dict:
            return {"tcp://10.0.0.5:40000": {"missing": [], "gitmlops": "0.0.1", "xgboost": "1.7.0"}}

    with pytest.raises(ExternalError, match=r"runs gitmlops 0\.0\.1"):
        check_workers(OldWorkers(), [])
