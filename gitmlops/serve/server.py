"""How to serve bundles: the options, the port check, and ``run`` (either engine, one model or several).

- ``fast`` (default, ``fast.py``): gitmlops' own HTTP processes, ZeroMQ transport and batching
  workers hosting the LitAPI (``api.py``), under gitmlops' supervisor;
- ``litserve`` (``stock.py``): a stock ``LitServer`` hosting the same LitAPI.

Both put the same front door (``front.py``) before the model, so routes, bodies and error codes
are the same. Only public LitServe API is used. Runtime module: carried by deploy bundles.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .metrics import ServerMetrics
from .model import Bundle, BundleError, load_booster

HOSTS = ("127.0.0.1", "0.0.0.0", "::")
ENGINES = ("fast", "litserve")


@dataclass
class ServeOptions:
    """How to serve. ``api_key`` is never shown (repr) and never logged."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_batch_size: int = 32
    batch_timeout: float = 0.0
    max_rows: int = 10_000
    max_body_bytes: int = 10 * 1024 * 1024
    timeout: float = 30.0
    body_timeout: float = 10.0
    max_header_bytes: int = 32 * 1024
    header_timeout: float = 10.0
    api_key: str | None = field(default=None, repr=False)
    profile_dir: str | None = None
    profile_rows: int = 10_000
    profile_seconds: float = 60.0
    log_level: str = "warning"
    engine: str = "fast"

    def check(self) -> None:
        """Raise BundleError naming the first bad value."""
        problems = []
        if self.engine not in ENGINES:
            problems.append(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.host not in HOSTS:
            problems.append(f"host must be one of {', '.join(HOSTS)}, got {self.host!r}")
        if not 1024 <= self.port <= 65535:
            problems.append(f"port must be from 1024 to 65535, got {self.port}")
        if self.workers < 1:
            problems.append(f"workers must be at least 1, got {self.workers}")
        if self.max_batch_size < 1:
            problems.append(f"max batch size must be at least 1, got {self.max_batch_size}")
        if not 0 <= self.batch_timeout < self.timeout:
            problems.append(f"batch timeout must be >= 0 and below the request timeout, got {self.batch_timeout}")
        if self.max_rows < 1:
            problems.append(f"max rows must be at least 1, got {self.max_rows}")
        if self.body_timeout <= 0:
            problems.append(f"body timeout must be positive, got {self.body_timeout}")
        if self.header_timeout <= 0:
            problems.append(f"header timeout must be positive, got {self.header_timeout}")
        if self.max_header_bytes < 1024:
            problems.append(f"max header bytes must be at least 1024, got {self.max_header_bytes}")
        if self.max_body_bytes < 1024:
            problems.append(f"max body bytes must be at least 1024, got {self.max_body_bytes}")
        if self.profile_rows < 1 or self.profile_seconds <= 0:
            problems.append("profile rows and seconds must be positive")
        if problems:
            raise BundleError(problems[0], "see `gitmlops serve --help` for the allowed values")


def check_port(host: str, port: int) -> None:
    """BundleError when ``host:port`` cannot be bound (in use, or not an address of this machine)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise BundleError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                "another process uses the port; pick another with --port",
            ) from None


#: The process that runs ``run``: only it turns SIGTERM into KeyboardInterrupt (see ``_interrupt``).
_MAIN_PID = 0


def _interrupt(signum: int, frame: Any) -> None:
    # LitServe forks its API server from this process, which inherits the handler; uvicorn re-raises
    # the SIGTERM it caught once it has shut down, and a KeyboardInterrupt there prints a traceback.
    if os.getpid() != _MAIN_PID:
        sys.exit(0)
    raise KeyboardInterrupt


def run(bundles: Bundle | Sequence[Bundle], options: ServeOptions) -> None:
    """Serve one bundle or several (``served.py``) until interrupted (Ctrl-C or SIGTERM); blocks."""
    from .served import ServedModel, model_entry, served_models
    from .worker import PredictAPISpec

    options.check()
    check_port(options.host, options.port)
    served = served_models([bundles] if isinstance(bundles, Bundle) else list(bundles))
    if not served:
        raise BundleError("no model to serve", "pass at least one model reference or bundle folder")
    # Fail here, with a clear message, rather than in a worker process after start-up.
    for _, bundle in served:
        load_booster(bundle.model_file, bundle.info.md5)
    single = len(served) == 1
    specs = [
        PredictAPISpec(
            bundle,
            max_rows=options.max_rows,
            max_batch_size=options.max_batch_size,
            batch_timeout=options.batch_timeout,
            # several models: each writes its own profiles, into a folder of its name
            profile_dir=options.profile_dir if single or not options.profile_dir
            else str(Path(options.profile_dir) / name),
            profile_rows=options.profile_rows,
            profile_seconds=options.profile_seconds,
            # (litserve engine) LitServe keys its workers' readiness by the last segment of the
            # api_path, so several models get distinct ones; clients use /models/NAME/predict.
            api_path="/predict" if single else f"/predict/{k}",
        )
        for k, (name, bundle) in enumerate(served)
    ]
    entries = [model_entry(name, bundle) for name, bundle in served]
    server_info = {"engine": options.engine, "workers": options.workers, "max_batch_size": options.max_batch_size,
                   "batch_timeout": options.batch_timeout, "timeout": options.timeout}
    info: dict[str, Any] = {"model": entries[0]} if single else {}
    info.update({"models": entries, "server": server_info})
    labels = [{k: str(entry.get(k) or "") for k in ("name", "version", "md5")} for entry in entries]
    front_options: dict[str, Any] = {
        "info": info,
        "api_key": options.api_key,
        "max_body_bytes": options.max_body_bytes,
        "timeout": options.timeout,
        "body_timeout": options.body_timeout,
        "max_header_bytes": options.max_header_bytes,
        "header_timeout": options.header_timeout,
    }
    # each model's category features, whose values unseen in training its /metrics series count
    categories = [[f.name for f in bundle.schema.features if f.type == "category"] for _, bundle in served]
    logging.getLogger("litserve").setLevel(options.log_level.upper())
    global _MAIN_PID
    _MAIN_PID = os.getpid()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if options.engine == "litserve":
            from .stock import run_litserve

            # slot 0: LitServe's API server; then one per inference worker (claimed in setup)
            metrics = [ServerMetrics(slots=1 + options.workers, workers=options.workers, unseen_columns=columns)
                       for columns in categories]
            apis = [make_api() for make_api in specs]
            models = [ServedModel(name, api, m, entry, label, api_path=api.api_path)
                      for (name, _), api, m, entry, label in zip(served, apis, metrics, entries, labels, strict=True)]
            server_metrics = metrics[0] if single else ServerMetrics(slots=1)
            run_litserve(apis, {**front_options, "models": models, "metrics": server_metrics}, metrics, options)
        else:
            from .fast import Supervisor
            from .front import FrontDoor

            metrics = [ServerMetrics(slots=options.workers, workers=options.workers, unseen_columns=columns)
                       for columns in categories]
            server_metrics = metrics[0] if single else ServerMetrics(slots=options.workers)

            def make_front() -> FrontDoor:
                models = [ServedModel(name, make_api(), m, entry, label) for (name, _), make_api, m, entry, label
                          in zip(served, specs, metrics, entries, labels, strict=True)]
                return FrontDoor(None, models=models, metrics=server_metrics, **front_options)

            names = [name for name, _ in served]
            Supervisor(specs, make_front, metrics, options.workers, options.log_level, names).run(
                options.host, options.port
            )
    except KeyboardInterrupt:
        return
    except RuntimeError as exc:
        raise BundleError(f"the server did not start: {exc}", "the log above says why") from None
