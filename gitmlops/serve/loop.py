"""The inference worker's loop: collect a batch, call the LitAPI hooks once, answer per API server.

A ``litserve.loops.LitLoop`` (LitServe's extension point for custom worker loops). Compared with
LitServe's batched loop it reads requests from the ZeroMQ channel (``transport.py``), keeps
requests that did not fit in a batch for the next one, sends one message per model call instead of
one per request, and logs nothing per request.

Runtime module: carried by deploy bundles.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections import deque
from typing import Any

import orjson
from litserve.loops.base import LitLoop

from .transport import Answer, Channels, Item, WorkerSide

logger = logging.getLogger(__name__)

_FAILED = orjson.dumps({"detail": "prediction failed; the server log has the traceback", "field": None})


def _exit(signum: int, frame: Any) -> None:
    sys.exit(0)


class BatchLoop(LitLoop):
    """Batched, one-message-per-batch inference loop."""

    def __call__(
        self,
        lit_api: Any,
        device: str,
        worker_id: int,
        request_queue: Any,
        transport: Any,
        workers_setup_status: Any,
        callback_runner: Any,
    ) -> None:
        """Run until the process is stopped (LitServe terminates workers at shutdown)."""
        if not isinstance(request_queue, Channels):
            raise TypeError("BatchLoop needs the gitmlops server (GitMLOpsServer), not a plain LitServer")
        side = WorkerSide(request_queue, worker_id)
        # LitServe stops workers with SIGTERM; turn it into SystemExit so `finally` writes the
        # last request profile.
        signal.signal(signal.SIGTERM, _exit)
        try:
            self._serve(lit_api, side)
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            close = getattr(lit_api, "close", None)
            if close is not None:
                close()

    def _serve(self, lit_api: Any, side: WorkerSide) -> None:
        max_batch = max(1, int(lit_api.max_batch_size))
        window = float(lit_api.batch_timeout)
        backlog: deque[Item] = deque()
        while True:
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
            self.run_batch(lit_api, side, take)

    def run_batch(self, lit_api: Any, side: WorkerSide, items: list[Item]) -> None:
        """Predict one batch and send the answers back to the API servers that asked."""
        rows = sum(len(m) for _, _, m in items)
        try:
            x = lit_api.batch([m for _, _, m in items])
            y = lit_api.predict(x)
            outputs = lit_api.unbatch(y)
            answers = [(item, 200, lit_api.encode_response(out)) for item, out in zip(items, outputs, strict=True)]
        except Exception:
            logger.exception("prediction failed for a batch of %d requests", len(items))
            answers = [(item, 500, _FAILED) for item in items]
        by_consumer: dict[int, list[Answer]] = {}
        for (consumer, uid, _), status, body in answers:
            by_consumer.setdefault(consumer, []).append((uid, status, body))
        size = len(items)
        for consumer, part in by_consumer.items():
            # The batch is counted once, by the first API server it answers.
            side.answer(consumer, size, rows, part)
            size = rows = 0
