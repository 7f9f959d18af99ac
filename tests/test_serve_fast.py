"""End-to-end, fast engine: --workers 2 spreads requests and sums metrics; a stalled worker means
504 at the timeout; a worker killed with SIGKILL mid-load is restarted and counted, no request hangs."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.serve_fixtures import ServerProcess, free_port, gitmlops_argv, make_bundle, sample_records
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
TIMEOUT = 1.5


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("fast") / "churn")


@pytest.fixture
def server(model_dir: Path) -> Iterator[ServerProcess]:
    port = free_port()
    argv = gitmlops_argv("serve", str(model_dir), "--port", str(port), "--workers", "2", "--timeout", str(TIMEOUT))
    with ServerProcess(argv, port).start() as proc:
        yield proc


def children(server: ServerProcess, kind: str) -> list[int]:
    """PIDs of the supervisor's inference workers (spawned) or HTTP processes (forked)."""
    assert server.proc is not None
    found = []
    for pid in Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split():
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"resource_tracker" in cmdline:
                continue
            if (b"spawn_main" in cmdline) == (kind == "worker"):
                found.append(int(pid))
    return sorted(found)


def workers(server: ServerProcess) -> list[int]:
    """PIDs of the inference workers."""
    return children(server, "worker")


def metrics(server: ServerProcess) -> dict[str, float]:
    values = {}
    for line in requests.get(server.url + "/metrics", timeout=5).text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def post(server: ServerProcess, n: int = 1) -> requests.Response:
    return requests.post(server.url + "/predict", json={"records": sample_records(n)}, timeout=TIMEOUT + 10)


def test_two_workers_share_the_load_and_metrics_add_up(server: ServerProcess) -> None:
    assert len(workers(server)) == 2
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: post(server).status_code, range(200)))
    assert answers == [200] * 200
    values = metrics(server)
    assert values['gitmlops_requests_total{route="/predict",status="200"}'] == 200
    assert values["gitmlops_request_duration_seconds_count"] == 200
    assert values["gitmlops_rows_total"] == 200
    per_worker = [values[f'gitmlops_worker_batches_total{{worker="{w}"}}'] for w in (0, 1)]
    assert min(per_worker) > 0, per_worker  # both workers predicted
    assert sum(per_worker) == values["gitmlops_batch_size_count"]
    assert values["gitmlops_batch_size_sum"] == 200


def test_a_stalled_worker_means_504_at_the_timeout(server: ServerProcess) -> None:
    pids = workers(server)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        answer = post(server)
        waited = time.monotonic() - started
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    assert answer.status_code == 504
    assert answer.json() == {"detail": f"no answer from the model within {TIMEOUT:g} s", "field": None}
    assert TIMEOUT - 0.1 <= waited < TIMEOUT + 2
    assert metrics(server)['gitmlops_requests_total{route="/predict",status="504"}'] == 1
    assert post(server).status_code == 200


def test_a_worker_killed_mid_load_is_restarted_and_no_request_hangs(server: ServerProcess) -> None:
    victim = workers(server)[0]
    stop_at = time.monotonic() + 4
    results: list[tuple[int, float]] = []

    def load(_: int) -> None:
        while time.monotonic() < stop_at:
            t0 = time.monotonic()
            status = post(server).status_code
            results.append((status, time.monotonic() - t0))

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(load, i) for i in range(8)]
        wait_until(lambda: len(results) >= 16, 3, "the load got answers")  # the kill lands mid-load
        os.kill(victim, signal.SIGKILL)
        for f in futures:
            f.result()
    statuses = {s for s, _ in results}
    assert statuses <= {200, 504}, statuses
    assert max(t for _, t in results) < TIMEOUT + 2  # nothing hung past its timeout
    assert sum(1 for s, _ in results if s == 200) > len(results) // 2  # the server kept answering
    wait_until(lambda: requests.get(server.url + "/health", timeout=5).status_code == 200, 30,
               "the server was healthy again")
    new = workers(server)
    assert len(new) == 2 and victim not in new
    assert metrics(server)["gitmlops_worker_restarts_total"] == 1
    assert [post(server).status_code for _ in range(20)] == [200] * 20


def test_health_says_503_while_a_killed_worker_restarts(server: ServerProcess) -> None:
    victim = workers(server)[0]
    os.kill(victim, signal.SIGKILL)
    seen: list[int] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (503 in seen and seen[-1] == 200):
        seen.append(requests.get(server.url + "/health", timeout=5).status_code)
        time.sleep(0.01)
    assert 503 in seen, seen[:20]  # the dead worker is not reported healthy ...
    assert seen[-1] == 200 and victim not in workers(server)  # ... until its replacement is ready


def test_a_killed_http_process_is_started_again(server: ServerProcess) -> None:
    http = children(server, "http")
    assert len(http) == 2
    os.kill(http[0], signal.SIGKILL)
    wait_until(lambda: len(now := children(server, "http")) == 2 and http[0] not in now, 20,
               "a new HTTP process replaced the killed one")
    # every connection lands on a live HTTP process again
    assert [post(server).status_code for _ in range(20)] == [200] * 20
    assert requests.get(server.url + "/health", timeout=5).status_code == 200
    assert server.proc is not None and server.proc.poll() is None


def test_two_models_with_two_workers_each_restart_a_killed_worker(model_dir: Path, tmp_path: Path) -> None:
    """Each model has its own workers: 4 here; a killed one is restarted and counted under its model."""
    revenue = make_bundle(tmp_path / "revenue", task="regression", rounds=5)
    port = free_port()
    argv = gitmlops_argv("serve", str(model_dir), str(revenue), "--port", str(port), "--workers", "2")
    with ServerProcess(argv, port).start() as server:
        assert len(workers(server)) == 4 and len(children(server, "http")) == 2

        def one(i: int) -> int:
            name = "churn" if i % 2 else "revenue"
            return requests.post(f"{server.url}/models/{name}/predict", json={"records": sample_records(1)},
                                 timeout=10).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            assert list(pool.map(one, range(200))) == [200] * 200
        values = metrics(server)
        for name in ("churn", "revenue"):
            assert values[f'gitmlops_requests_total{{model="{name}",route="/predict",status="200"}}'] == 100
            per_worker = [values[f'gitmlops_worker_batches_total{{model="{name}",worker="{w}"}}'] for w in (0, 1)]
            assert sum(per_worker) == values[f'gitmlops_batch_size_count{{model="{name}"}}']
            assert values[f'gitmlops_batch_size_sum{{model="{name}"}}'] == 100
        victim = workers(server)[-1]
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: victim not in (now := workers(server)) and len(now) == 4
                   and requests.get(server.url + "/health", timeout=5).status_code == 200, 30,
                   "the killed worker was replaced and the server healthy")
        values = metrics(server)
        restarts = {name: values[f'gitmlops_worker_restarts_total{{model="{name}"}}'] for name in ("churn", "revenue")}
        assert sorted(restarts.values()) == [0, 1]
        assert [one(i) for i in range(20)] == [200] * 20
    said = re.search(r"worker process \d of model (\w+) died \(exit code -9\)", server.output())
    assert said is not None and restarts[said.group(1)] == 1  # counted under the model that lost it
