"""End-to-end, litserve engine: a process of the server killed with SIGKILL (its HTTP process, or its
inference worker with a request in flight) stops the whole server at once with exit 3 and a message
naming it, instead of a port that accepts connections nobody answers; Ctrl-C and SIGTERM still
stop it cleanly. (The fast engine starts dead processes again: tests/test_serve_fast.py.)"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.serve_fixtures import ServerProcess, free_port, gitmlops_argv, make_bundle, sample_records

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
TIMEOUT = 30  # far longer than the server may take to notice


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("killed") / "churn")


@pytest.fixture
def server(model_dir: Path) -> Iterator[ServerProcess]:
    port = free_port()
    argv = gitmlops_argv(
        "serve", str(model_dir), "--engine", "litserve", "--port", str(port), "--timeout", str(TIMEOUT)
    )
    with ServerProcess(argv, port).start() as proc:
        yield proc


def _children(server: ServerProcess) -> tuple[int, int]:
    """(HTTP process, inference worker): the worker is spawned, the HTTP process the last one forked."""
    assert server.proc is not None
    kids = [
        p
        for p in psutil.Process(server.proc.pid).children()
        if "resource_tracker" not in " ".join(p.cmdline())
    ]
    workers = [p for p in kids if "spawn_main" in " ".join(p.cmdline())]
    forked = sorted((p for p in kids if p not in workers), key=lambda p: p.create_time())
    assert len(workers) == 1 and len(forked) == 2, kids  # LitServe's manager, then its HTTP process
    return forked[-1].pid, workers[0].pid


def _exit_code(server: ServerProcess, within: float) -> int:
    assert server.proc is not None
    return server.proc.wait(timeout=within)


def test_a_killed_http_process_stops_the_server_at_once(server: ServerProcess) -> None:
    http, _ = _children(server)
    os.kill(http, signal.SIGKILL)
    # Before the watchdog it never exited; LitServe's workers can take seconds to stop on a loaded CI
    # machine (a 10 s bound failed once on the numpy 2 leg), still well inside the 30 s --timeout.
    assert _exit_code(server, within=25) == 3
    output = server.output()
    assert f"LitServe's HTTP process (pid {http}) died (exit code -9)" in output
    with pytest.raises(requests.ConnectionError):  # the port no longer takes connections
        requests.get(server.url + "/health", timeout=5)


def test_a_killed_worker_answers_the_request_in_flight_at_once(server: ServerProcess) -> None:
    _, worker = _children(server)
    os.kill(worker, signal.SIGSTOP)  # the request below is then surely in flight when the worker dies
    waited: list[float] = []

    def in_flight() -> None:
        t0 = time.monotonic()
        with contextlib.suppress(requests.RequestException):  # an answer or a closed connection
            requests.post(server.url + "/predict", json={"records": sample_records(1)}, timeout=TIMEOUT + 10)
        waited.append(time.monotonic() - t0)

    thread = threading.Thread(target=in_flight)
    thread.start()
    time.sleep(1)
    os.kill(worker, signal.SIGKILL)
    assert _exit_code(server, within=10) == 3
    thread.join(timeout=TIMEOUT)
    assert waited and waited[0] < 10, waited  # not the full --timeout
    assert f"LitServe's inference worker (pid {worker}) died (exit code -9)" in server.output()


@pytest.mark.parametrize("group", [True, False], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_still_stop_cleanly(server: ServerProcess, group: bool) -> None:
    assert server.proc is not None
    assert (
        requests.post(server.url + "/predict", json={"records": sample_records(1)}, timeout=10).status_code
        == 200
    )
    if group:
        os.killpg(server.proc.pid, signal.SIGINT)
    else:
        os.kill(server.proc.pid, signal.SIGTERM)
    assert _exit_code(server, within=40) == 0
    assert "died" not in server.output()
