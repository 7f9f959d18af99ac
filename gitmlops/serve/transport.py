"""The fast engine's queue between its HTTP processes and its inference workers, on ZeroMQ.

One non-blocking ZeroMQ send per event loop turn (requests that arrive together travel together)
and one message per model call back:

- requests: each HTTP process PUSHes to every worker's PULL socket (round robin over live workers);
- responses: each worker PUSHes a batch's answers to the PULL socket of the HTTP process that asked.

:class:`Channels` (addresses only) is created by the supervisor and inherited by the processes it
starts; sockets are opened in the process that uses them, since ZeroMQ contexts must not cross a
fork. Runtime module: carried by deploy bundles.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

#: A request on the wire: (consumer id, request id, row matrix).
Item = tuple[int, int, Any]
#: A response on the wire: (request id, HTTP status, body bytes).
Answer = tuple[int, int, bytes]


class Channels:
    """Addresses of the request and response sockets of one server run."""

    def __init__(self, n_workers: int, n_consumers: int) -> None:
        # ipc:// paths must stay short (about 100 bytes), so a fresh folder under the temp dir.
        self.folder = tempfile.mkdtemp(prefix="gitmlops-q-")
        self.request_addrs = [f"ipc://{self.folder}/req-{w}" for w in range(n_workers)]
        self.response_addrs = [f"ipc://{self.folder}/resp-{c}" for c in range(n_consumers)]
        self._owner = os.getpid()

    def __getstate__(self) -> dict[str, Any]:
        return {"folder": self.folder, "request_addrs": self.request_addrs, "response_addrs": self.response_addrs}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._owner = -1

    def close(self) -> None:
        """Remove the socket folder (the supervisor calls this at shutdown)."""
        if self._owner == os.getpid():
            shutil.rmtree(self.folder, ignore_errors=True)


class ApiSide:
    """The API server end: submit requests, await answers."""

    def __init__(self, channels: Channels, consumer_id: int) -> None:
        import zmq
        import zmq.asyncio

        self.consumer_id = consumer_id
        self._ctx = zmq.asyncio.Context()
        self._push = self._ctx.socket(zmq.PUSH)
        self._push.setsockopt(zmq.LINGER, 0)
        for addr in channels.request_addrs:
            self._push.connect(addr)
        self._pull = self._ctx.socket(zmq.PULL)
        self._pull.setsockopt(zmq.LINGER, 0)
        self._pull.bind(channels.response_addrs[consumer_id])
        self._pending: list[Item] = []
        self._scheduled = False
        self._futures: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
        self._next_id = 0
        self._task: asyncio.Task[None] | None = None

    def start(self, on_batch: Callable[[int, int], None]) -> None:
        """Start reading answers on the running event loop; ``on_batch(size, rows)`` per model call."""
        self._task = asyncio.get_running_loop().create_task(self._read(on_batch))

    async def _read(self, on_batch: Callable[[int, int], None]) -> None:
        futures = self._futures
        while True:
            size, rows, answers = pickle.loads(await self._pull.recv())
            if size:
                on_batch(size, rows)
            for uid, status, body in answers:
                fut = futures.pop(uid, None)
                if fut is not None and not fut.done():
                    fut.set_result((status, body))

    def submit(self, matrix: Any) -> asyncio.Future[tuple[int, bytes]]:
        """Queue one request; the future resolves to (status, body)."""
        loop = asyncio.get_running_loop()
        uid = self._next_id = self._next_id + 1
        fut: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        self._futures[uid] = fut
        self._pending.append((self.consumer_id, uid, matrix))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return fut

    def forget(self, fut: asyncio.Future[tuple[int, bytes]]) -> None:
        """Drop a future that timed out or was cancelled."""
        for uid, other in list(self._futures.items()):
            if other is fut:
                del self._futures[uid]

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        if batch:
            # Sent on the plain (non-asyncio) socket handle: PUSH to connected peers queues in
            # ZeroMQ's I/O thread and returns at once.
            self._push.send(pickle.dumps(batch, protocol=5))

    async def close(self) -> None:
        """Stop reading and close the sockets."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._push.close(0)
        self._pull.close(0)
        self._ctx.term()


class WorkerSide:
    """The inference worker end: receive requests (blocking, with a batching window), send answers."""

    def __init__(self, channels: Channels, worker_id: int) -> None:
        import zmq

        self._zmq = zmq
        self._ctx = zmq.Context()
        self._pull = self._ctx.socket(zmq.PULL)
        self._pull.bind(channels.request_addrs[worker_id])
        self._pushes = []
        for addr in channels.response_addrs:
            push = self._ctx.socket(zmq.PUSH)
            push.setsockopt(zmq.LINGER, 0)
            push.connect(addr)
            self._pushes.append(push)

    def receive(self, timeout_ms: int | None) -> list[Item]:
        """Items of one message, waiting up to ``timeout_ms`` (None: forever); [] on timeout."""
        if timeout_ms is not None and not self._pull.poll(timeout_ms):
            return []
        return pickle.loads(self._pull.recv())

    def receive_ready(self) -> list[Item]:
        """Items of one message already waiting, or []."""
        try:
            return pickle.loads(self._pull.recv(flags=self._zmq.NOBLOCK))
        except self._zmq.Again:
            return []

    def answer(self, consumer_id: int, size: int, rows: int, answers: list[Answer]) -> None:
        """Send the answers of one model call that belong to one API server."""
        self._pushes[consumer_id].send(pickle.dumps((size, rows, answers), protocol=5))
