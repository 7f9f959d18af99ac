"""The ``litserve`` engine: a stock ``LitServer`` hosting the LitAPI, with public options only.

LitServe runs its own API server and worker processes; gitmlops adds its front door as one of
LitServe's ``middlewares`` (auth, limits, validation, /info, /metrics, /openapi.json, /docs, the
same error bodies as the fast engine). Batching is LitServe's (``max_batch_size``,
``batch_timeout`` on the LitAPI), workers are ``workers_per_device``. Several models are several
LitAPIs with their own ``api_path`` in one ``LitServer`` (LitServe's documented multi-endpoint
serving): each has its own request queue and workers.

LitServe watches its inference workers only (every 2 s, then a graceful shutdown that can wait 30 s
on the request in flight) and never its HTTP process, whose death leaves the port accepting
connections that nobody answers. So a watchdog thread of the main process exits the server at once
(exit 3, after stopping the others) when any of its processes dies; the orchestrator (docker's
restart policy, Kubernetes) starts it again. Runtime module.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from typing import Any

import litserve as ls

from .front import FrontDoor
from .metrics import ServerMetrics

EXIT_DIED = 3  # EXIT_EXTERNAL: a process of the server died (the errors module is not in bundles)


class Watchdog(threading.Thread):
    """Exit the whole server (non-zero, at once) when one of its child processes dies unasked.

    Not a daemon: when LitServe's own monitor shuts the server down first (a dead worker), the
    interpreter waits for this thread, which still exits 3.
    """

    def __init__(self, every: float = 0.1) -> None:
        super().__init__(name="gitmlops-watchdog")
        self.every = every
        self.signalled = threading.Event()  # Ctrl-C or SIGTERM: the processes that end now were asked to
        self.finished = threading.Event()  # LitServer.run returned or raised
        self.seen: dict[int, multiprocessing.process.BaseProcess] = {}

    def run(self) -> None:
        while True:
            finished = self.finished.wait(self.every)
            for proc in multiprocessing.active_children():  # also reaps the dead among those seen
                self.seen.setdefault(proc.pid or 0, proc)
            # the killed one first, not those a shutdown terminated after it
            dead = sorted((p for p in self.seen.values() if p.exitcode is not None),
                          key=lambda p: p.exitcode == -signal.SIGTERM)
            if dead and not self.signalled.wait(0.3):  # a Ctrl-C reaches every process at once
                self.die(dead[0])
            if finished or dead or self.signalled.is_set():
                return

    def die(self, proc: multiprocessing.process.BaseProcess) -> None:
        """Say which process died, stop the others (a grace of 2 s, then SIGKILL) and exit 3."""
        name = proc.name or ""
        kind = ("HTTP process" if name.startswith("LitServer") else
                "inference worker" if name.startswith("inference") else f"process {name!r}")
        print(f"gitmlops serve: LitServe's {kind} (pid {proc.pid}) died (exit code {proc.exitcode});"
              " stopping the server (the litserve engine does not start it again: --engine fast does,"
              " or let the container's restart policy start the server again)", file=sys.stderr, flush=True)
        others = [p for p in multiprocessing.active_children() if p.pid]
        for other in others:
            other.terminate()
        deadline = time.monotonic() + 2
        for other in others:
            other.join(max(0.0, deadline - time.monotonic()))
            if other.is_alive():
                other.kill()
        os._exit(EXIT_DIED)


def run_litserve(
    apis: list[Any], front_options: dict[str, Any], metrics: list[ServerMetrics], options: Any
) -> None:
    """Serve the LitAPIs (one per model, each at its own ``api_path``) with LitServe until interrupted; blocks."""
    for api, api_metrics in zip(apis, metrics, strict=True):
        # Slot 0 is the API server's; each worker claims the next one in setup (see PredictAPI).
        api.batch_metrics = api_metrics
        api.metrics_slot = multiprocessing.get_context("spawn").Value("i", 0)
    info = front_options["info"]
    server_metrics: ServerMetrics = front_options["metrics"]  # routes of no model, refusals below the app
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = ls.LitServer(
            # LitServe's multi-endpoint form: a list of LitAPIs, each batching in its own workers.
            apis[0] if len(apis) == 1 else apis,
            accelerator="cpu",
            workers_per_device=options.workers,
            timeout=options.timeout,
            model_metadata=info["model"] if "model" in info else {"models": info["models"]},
            middlewares=[(FrontDoor, front_options)],
        )
    from .limits import guarded_protocol

    # LitServe passes extra keywords on to uvicorn.Config: the same header limit and read timeouts.
    protocol = guarded_protocol(options.max_header_bytes, options.header_timeout, options.body_timeout,
                                lambda status: server_metrics.request("other", status))
    watchdog = Watchdog()

    main_pid = os.getpid()

    def interrupted(signum: int, frame: Any) -> None:
        # LitServe forks its API server from this process, which inherits the handler; uvicorn re-raises
        # the signal it caught once it has shut down, and a KeyboardInterrupt there prints a traceback.
        if os.getpid() != main_pid:
            sys.exit(0)
        watchdog.signalled.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    watchdog.start()
    try:
        server.run(
            host=options.host,
            port=options.port,
            num_api_servers=1,
            log_level=options.log_level,
            generate_client_file=False,
            http=protocol,
        )
    finally:
        watchdog.finished.set()
