"""The ``fast`` engine: gitmlops' own processes hosting the LitAPI, watched by a supervisor.

::

    supervisor (the process you start)            binds the port, starts and watches the others,
      |                                            restarts a dead one, stops all on Ctrl-C/SIGTERM
      +-- HTTP process x N (uvicorn + FrontDoor)   accept on the shared socket; auth, limits,
      |        |  ZeroMQ PUSH (matrices)           decode_request; /health /info /metrics /docs
      |        v                  ^ ZeroMQ PUSH (answers, one message per model call)
      +-- inference worker x N per model           setup once; batch -> predict -> unbatch ->
          (worker.py)                              encode_response

Several models: each has its own N workers and its own queues (``Channels``), so each batches
separately; every HTTP process holds one ZeroMQ end per model and sends a request to its model's.

HTTP processes are forked (they never touch XGBoost); workers are spawned, since XGBoost's thread
pool, once used in a process (the start-up check loads the model), does not survive a fork. A worker that
dies is started again at once with the same id and counted in ``gitmlops_worker_restarts_total``;
its queued requests are answered 504 when their timeout passes. /health is 503 until every worker
is ready again. Runtime module: carried by deploy bundles.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time
from typing import Any

from .front import FrontDoor
from .metrics import ServerMetrics
from .model import BundleError
from .transport import Channels
from .worker import worker_main

logger = logging.getLogger("gitmlops.serve")
#: A process that dies this many times in a row within ``_QUICK`` seconds of starting stops the server.
_CRASH_LOOP = 5
_QUICK = 2.0


def http_main(front: FrontDoor, sock: socket.socket, slot: int, log_level: str) -> None:
    """Process entry of one HTTP process: uvicorn on the inherited listening socket."""
    import uvicorn

    from .limits import guarded_protocol

    front.slot = slot
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    protocol = guarded_protocol(front.max_header_bytes, front.header_timeout, front.body_timeout,
                                lambda status: front.metrics.request("other", status))
    config = uvicorn.Config(
        front, loop="uvloop", http=protocol, lifespan="on", access_log=False, log_level=log_level,
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run(sockets=[sock])


def listen(host: str, port: int) -> socket.socket:
    """The listening socket all HTTP processes accept on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BundleError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                          "another process uses the port; pick another with --port") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class Supervisor:
    """Starts, watches, restarts and stops the HTTP processes and inference workers."""

    def __init__(
        self, make_apis: list[Any], make_front: Any, metrics: list[ServerMetrics], workers: int, log_level: str,
        names: list[str] | None = None,
    ) -> None:
        self.make_apis = make_apis  # one per model, as its metrics and names
        self.make_front = make_front
        self.front: FrontDoor | None = None
        self.metrics = metrics
        self.names = names or [str(m) for m in range(len(make_apis))]
        self.n = workers
        self.log_level = log_level
        self.fork = multiprocessing.get_context("fork")
        self.spawn = multiprocessing.get_context("spawn")
        self.channels = [Channels(workers, workers) for _ in make_apis]
        #: (kind, model index, i): model index 0 for the HTTP processes
        self.procs: dict[tuple[str, int, int], Any] = {}
        self.started: dict[tuple[str, int, int], float] = {}
        self.quick_deaths = 0
        self.sock: socket.socket | None = None

    def start(self, key: tuple[str, int, int]) -> None:
        """Start (or start again) one process."""
        kind, m, i = key
        proc: Any
        if kind == "worker":
            args = (self.make_apis[m], self.channels[m], i, self.metrics[m])
            suffix = f"{i}" if len(self.make_apis) == 1 else f"{self.names[m]}-{i}"
            proc = self.spawn.Process(target=worker_main, args=args, name=f"gitmlops-worker-{suffix}", daemon=True)
        else:
            proc = self.fork.Process(target=http_main, args=(self.front, self.sock, i, self.log_level),
                                    name=f"gitmlops-http-{i}", daemon=True)
        proc.start()
        self.procs[key] = proc
        self.started[key] = time.monotonic()

    def run(self, host: str, port: int) -> None:
        """Serve until KeyboardInterrupt (SIGINT/SIGTERM); BundleError when processes keep dying."""
        self.sock = listen(host, port)
        try:
            for m in range(len(self.make_apis)):
                for i in range(self.n):
                    self.start(("worker", m, i))
            # Built only now, while the workers import: its LitServe and XGBoost imports overlap theirs.
            self.front = self.make_front()
            for model, channels in zip(self.front.models.values(), self.channels, strict=True):
                model.channels = channels
            for i in range(self.n):
                self.start(("http", 0, i))
            while True:
                multiprocessing.connection.wait([p.sentinel for p in self.procs.values()], timeout=1.0)
                self.check()
        finally:
            self.stop()

    def check(self) -> None:
        """Start again every process that died (and count the workers among them)."""
        for key, proc in list(self.procs.items()):
            if proc.is_alive():
                continue
            kind, m, i = key
            proc.join()
            lived = time.monotonic() - self.started[key]
            self.quick_deaths = self.quick_deaths + 1 if lived < _QUICK else 0
            if self.quick_deaths >= _CRASH_LOOP:
                raise BundleError(f"the {kind} process {i} keeps dying at start (exit code {proc.exitcode})",
                                  "the log above says why")
            of = f" of model {self.names[m]}" if kind == "worker" and len(self.make_apis) > 1 else ""
            print(f"gitmlops serve: {kind} process {i}{of} died (exit code {proc.exitcode}); starting it again",
                  file=sys.stderr, flush=True)
            if kind == "worker":
                self.metrics[m].set_ready(i, False)
                self.metrics[m].restarted()
            self.start(key)

    def stop(self) -> None:
        """Graceful stop: HTTP processes first (they finish what they hold), then the workers."""
        for kinds in (("http",), ("worker",)):
            group = [p for (k, _, _), p in self.procs.items() if k in kinds and p.is_alive()]
            for proc in group:
                if proc.pid is not None:
                    os.kill(proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            for proc in group:
                proc.join(max(0.1, deadline - time.monotonic()))
                if proc.is_alive():
                    proc.kill()
                    proc.join(5)
        self.procs.clear()
        if self.sock is not None:
            self.sock.close()
        for channels in self.channels:
            channels.close()
