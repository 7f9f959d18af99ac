"""The LitServe server of a bundle: options, the front door (auth, limits, /predict, /metrics), run.

Where the time goes in stock LitServe, per request: FastAPI routing and dependency injection,
Starlette's Request and ``request.json()``, GZip middleware, a blocking put on a
``multiprocessing.Manager`` queue (a round trip to the manager process), a uuid, and a response
message through a thread hop. :class:`GitMLOpsServer` keeps LitServe's process model, worker set-up,
health and info routes, and replaces the request path:

- :class:`FrontDoor`, a plain ASGI middleware in front of FastAPI, answers POST /predict: it checks
  the API key and size limits, parses the raw body with orjson and validates it (the LitAPI's
  ``decode_request``, run here, so bad requests never reach the worker), and submits the matrix;
- requests and answers travel over ZeroMQ (``transport.py``) and the worker batches (``loop.py``);
- no per-request logging; uvicorn with uvloop and httptools, access log off.

Runtime module: carried by deploy bundles.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import signal
import socket
import time
import warnings
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import litserve as ls

from .api import PredictAPI
from .metrics import ServerMetrics, render
from .model import Bundle, BundleError, load_booster
from .schema import RequestError
from .transport import ApiSide, Channels

HOSTS = ("127.0.0.1", "0.0.0.0", "::")
_JSON = [(b"content-type", b"application/json")]
_TEXT = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
_KNOWN_ROUTES = {"/predict", "/info", "/metrics", "/health"}


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
    api_key: str | None = field(default=None, repr=False)
    profile_dir: str | None = None
    profile_rows: int = 10_000
    profile_seconds: float = 60.0
    log_level: str = "warning"

    def check(self) -> None:
        """Raise BundleError naming the first bad value."""
        problems = []
        if self.host not in HOSTS:
            problems.append(f"host must be one of {', '.join(HOSTS)} (LitServe binds only these), got {self.host!r}")
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
        if self.max_body_bytes < 1024:
            problems.append(f"max body bytes must be at least 1024, got {self.max_body_bytes}")
        if self.profile_rows < 1 or self.profile_seconds <= 0:
            problems.append("profile rows and seconds must be positive")
        if problems:
            raise BundleError(problems[0], "see `gitmlops serve --help` for the allowed values")


class _ProcessState:
    """Per API server process: its ZeroMQ end (set in the lifespan, after the fork)."""

    side: ApiSide | None = None


class FrontDoor:
    """ASGI middleware in front of LitServe's FastAPI app (see the module docstring)."""

    def __init__(
        self,
        app: Any,
        *,
        api: PredictAPI,
        state: _ProcessState,
        metrics: ServerMetrics,
        model_labels: dict[str, str],
        api_key: str | None,
        max_body_bytes: int,
        timeout: float,
    ) -> None:
        self.app = app
        self.api = api
        self.state = state
        self.metrics = metrics
        self.model_labels = model_labels
        self._key = api_key.encode() if api_key else None
        self.max_body_bytes = max_body_bytes
        self.timeout = timeout

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == "/predict":
            await self._predict(scope, receive, send)
            return
        route = path if path in _KNOWN_ROUTES else "other"
        if path != "/health" and self._key is not None and not self._authorized(scope):
            await self._respond(send, 401, _unauthorized(), route)
            return
        if path == "/metrics":
            if scope["method"] not in ("GET", "HEAD"):
                await self._respond(send, 405, _error("use GET /metrics"), route)
                return
            text = render(self.metrics.snapshot(), self.model_labels).encode()
            await self._respond(send, 200, text, route, _TEXT)
            return
        status = 500

        async def send_counted(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            self.metrics.request(route, status)

    def _authorized(self, scope: dict[str, Any]) -> bool:
        key = self._key
        given = b""
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                given = value
                break
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                given = value[7:].strip()
                break
        # Constant time: the comparison does not reveal how much of a guess was right.
        return hmac.compare_digest(given, key or b"")

    async def _respond(
        self, send: Any, status: int, body: bytes, route: str, headers: list[tuple[bytes, bytes]] = _JSON,
        started: float | None = None,
    ) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        self.metrics.request(route, status, None if started is None else time.perf_counter() - started)

    async def _predict(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = time.perf_counter()
        if scope["method"] != "POST":
            await self._respond(send, 405, _error("use POST /predict"), "/predict", started=started)
            return
        if self._key is not None and not self._authorized(scope):
            await self._respond(send, 401, _unauthorized(), "/predict", started=started)
            return
        body = await self._read_body(scope, receive)
        if body is None:
            await self._respond(send, 413, _too_large(self.max_body_bytes), "/predict", started=started)
            return
        try:
            matrix = self.api.decode_request(body)
        except RequestError as exc:
            await self._respond(send, exc.status, exc.body(), "/predict", started=started)
            return
        side = self.state.side
        if side is None:
            await self._respond(send, 503, _error("the server is starting"), "/predict", started=started)
            return
        future = side.submit(matrix)
        expire = asyncio.get_running_loop().call_later(self.timeout, _expire, future)
        try:
            status, payload = await future
        except TimeoutError:
            side.forget(future)
            status, payload = 504, _error(f"no answer from the model within {self.timeout:g} s")
        finally:
            expire.cancel()
        await self._respond(send, status, payload, "/predict", started=started)

    async def _read_body(self, scope: dict[str, Any], receive: Any) -> bytes | None:
        limit = self.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    if int(value) > limit:
                        return None
                except ValueError:
                    pass
                break
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _error(message: str, field_name: str | None = None) -> bytes:
    return RequestError(400, message, field_name).body()


def _unauthorized() -> bytes:
    return _error("missing or wrong API key: send it in the X-API-Key header (or Authorization: Bearer)")


def _too_large(limit: int) -> bytes:
    return _error(f"request body too large: the limit is {limit} bytes; split the request")


class GitMLOpsServer(ls.LitServer):
    """LitServer with the front door and the ZeroMQ request path (see the module docstring)."""

    def __init__(self, bundle: Bundle, options: ServeOptions) -> None:
        self.options = options
        self._state = _ProcessState()
        self._metrics = ServerMetrics(options.workers)
        self._channels: Channels | None = None
        api = PredictAPI(
            bundle,
            max_rows=options.max_rows,
            max_batch_size=options.max_batch_size,
            batch_timeout=options.batch_timeout,
            profile_dir=options.profile_dir,
            profile_rows=options.profile_rows,
            profile_seconds=options.profile_seconds,
        )
        info = bundle.info
        labels = {"name": info.name, "version": info.version or "", "md5": info.md5 or ""}
        metadata = {**info.to_dict(), "label": info.label, "schema": bundle.schema.to_dict()}
        front = (
            FrontDoor,
            {
                "api": api,
                "state": self._state,
                "metrics": self._metrics,
                "model_labels": labels,
                "api_key": options.api_key,
                "max_body_bytes": options.max_body_bytes,
                "timeout": options.timeout,
            },
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            super().__init__(
                api,
                accelerator="cpu",
                workers_per_device=options.workers,
                timeout=options.timeout,
                model_metadata=metadata,
                middlewares=[front],
                disable_openapi_url=True,
            )

    # -- LitServer hooks -------------------------------------------------------------------------
    def _register_middleware(self) -> None:
        # GZip costs every response a pass through its wrapper; answers are small JSON.
        from starlette.middleware.gzip import GZipMiddleware

        current: list[Any] = self.middlewares  # type: ignore[has-type]  # set, unannotated, by LitServer
        kept = [m for m in current if not (isinstance(m, tuple) and m[0] is GZipMiddleware)]
        self.middlewares = kept
        super()._register_middleware()

    def _register_api_endpoints(self, lit_api: Any, request_type: Any, response_type: Any) -> None:
        # POST /predict is answered by FrontDoor before FastAPI routing.
        return None

    def _init_manager(self, num_api_servers: int) -> Any:
        manager = super()._init_manager(num_api_servers)
        n_workers = sum(len(self._inference_workers_config_for_api(api.api_path)) for api in self.litapi_connector)
        self._channels = Channels(n_workers, num_api_servers)
        for path in self.litapi_request_queues:
            self.litapi_request_queues[path] = self._channels
        self._transport = self._channels
        return manager

    @asynccontextmanager
    async def lifespan(self, app: Any) -> Any:
        """Per API server process: open its ZeroMQ end and bind its metrics slot."""
        if self._channels is None:
            raise RuntimeError("GitMLOpsServer must be started with run()")
        consumer = int(app.response_queue_id or 0)
        self._metrics.bind(consumer)
        side = ApiSide(self._channels, consumer)
        side.start(self._metrics.batch)
        self._state.side = side
        try:
            yield
        finally:
            self._state.side = None
            await side.close()


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


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _default_sigterm() -> None:
    # Forked API server processes must not inherit _interrupt: uvicorn re-raises the SIGTERM it
    # caught once it has shut down, expecting the default action.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run(bundle: Bundle, options: ServeOptions) -> None:
    """Serve ``bundle`` until interrupted (Ctrl-C or SIGTERM); blocks."""
    options.check()
    check_port(options.host, options.port)
    # Fail here, with a clear message, rather than in a worker process after start-up.
    load_booster(bundle.model_file, bundle.info.md5)
    server = GitMLOpsServer(bundle, options)
    logging.getLogger("litserve").setLevel(options.log_level.upper())
    signal.signal(signal.SIGTERM, _interrupt)
    os.register_at_fork(after_in_child=_default_sigterm)
    try:
        server.run(
            host=options.host,
            port=options.port,
            num_api_servers=options.workers,
            log_level=options.log_level,
            generate_client_file=False,
            api_server_worker_type="process",
            access_log=False,
            http="httptools",
            loop="uvloop",
        )
    except RuntimeError as exc:
        raise BundleError(f"the server did not start: {exc}", "the log above says why") from None
