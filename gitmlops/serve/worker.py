"""The fast engine's inference worker: collect a batch, call the LitAPI hooks once, answer.

Each worker process (started and watched by ``fast.py``) runs ``setup`` once, then loops: take
what is queued on its ZeroMQ socket (``transport.py``), up to ``max_batch_size`` requests, waiting
``batch_timeout`` for a batch to fill; call ``batch``, ``predict``, ``unbatch`` and
``encode_response``; send one message per HTTP process back. Requests that did not fit stay for
the next batch. Nothing is logged per request.

Runtime module: carried by deploy bundles.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

from .metrics import ServerMetrics
from .transport import Answer, Channels, Item, WorkerSide

logger = logging.getLogger(__name__)

FAILED = orjson.dumps({"detail": "prediction failed; the server log has the traceback", "field": None})


def _exit(signum: int, frame: Any) -> None:
    sys.exit(0)


class PredictAPISpec:
    """Builds the bundle's LitAPI in the worker, so the supervisor can start workers before it has
    imported LitServe and XGBoost itself (their imports then overlap: a faster cold start)."""

    def __init__(self, bundle: Any, **kwargs: Any) -> None:
        self.bundle = bundle
        self.kwargs = kwargs

    def __call__(self) -> Any:
        """The LitAPI object."""
        from .api import PredictAPI

        return PredictAPI(self.bundle, **self.kwargs)


def worker_main(make_api: Callable[[], Any], channels: Channels, worker_id: int, metrics: ServerMetrics) -> None:
    """Process entry: build and set the LitAPI up, mark the worker ready, serve until SIGTERM."""
    # The supervisor stops workers with SIGTERM (turned into SystemExit so `finally` writes the
    # last request profile); Ctrl-C reaches the whole process group, but only the supervisor acts.
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lit_api = None
    try:
        lit_api = make_api()
        side = WorkerSide(channels, worker_id)
        lit_api.setup("cpu")
        metrics.set_ready(worker_id, True)
        serve_batches(lit_api, side, on_batch=lambda: metrics.worker_batch(worker_id))
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        metrics.set_ready(worker_id, False)
        close = getattr(lit_api, "close", None) if lit_api is not None else None
        if close is not None:
            close()


def serve_batches(
    lit_api: Any, side: Any, stop_after: int | None = None, on_batch: Callable[[], None] | None = None
) -> None:
    """Loop over batches (forever, or ``stop_after`` batches: for tests); ``on_batch`` after each."""
    max_batch = max(1, int(lit_api.max_batch_size))
    window = float(lit_api.batch_timeout)
    backlog: deque[Item] = deque()
    done = 0
    while stop_after is None or done < stop_after:
        if not backlog:
            backlog.extend(side.receive(None))
        if window > 0 and len(backlog) < max_batch:
            deadline = time.monotonic() + window
            while len(backlog) < max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                backlog.extend(side.receive(max(1, round(remaining * 1000))))
        while len(backlog) < max_batch:
            more = side.receive_ready()
            if not more:
                break
            backlog.extend(more)
        take = [backlog.popleft() for _ in range(min(max_batch, len(backlog)))]
        run_batch(lit_api, side, take)
        done += 1
        if on_batch is not None:
            on_batch()


def run_batch(lit_api: Any, side: Any, items: list[Item]) -> None:
    """Predict one batch and send the answers back to the HTTP processes that asked."""
    rows = sum(len(m) for _, _, m in items)
    try:
        x = lit_api.batch([m for _, _, m in items])
        y = lit_api.predict(x)
        outputs = lit_api.unbatch(y)
        answers = [
            (item, 200, orjson.dumps(lit_api.encode_response(out)))
            for item, out in zip(items, outputs, strict=True)
        ]
    except Exception:
        logger.exception("prediction failed for a batch of %d requests", len(items))
        answers = [(item, 500, FAILED) for item in items]
    by_consumer: dict[int, list[Answer]] = {}
    for (consumer, uid, _), status, body in answers:
        by_consumer.setdefault(consumer, []).append((uid, status, body))
    size = len(items)
    for consumer, part in by_consumer.items():
        # The batch is counted once, by the first HTTP process it answers.
        side.answer(consumer, size, rows, part)
        size = rows = 0
