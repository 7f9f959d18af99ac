"""The front door: one ASGI app answering every route the same way under both engines.

- ``fast`` engine: it is the whole app of each HTTP process; POST /predict validates the body
  (the LitAPI's ``decode_request``) and submits the matrix to the workers over ZeroMQ;
- ``litserve`` engine: it is a middleware of the stock ``LitServer`` (its public ``middlewares``
  option); POST /predict is validated here too, then passed on to LitServe (CSV rewritten as the
  equivalent ``dataframe_split`` JSON, since LitServe reads ``request.json()``), and LitServe's
  own error answers are given gitmlops' error shape. /health is LitServe's.

Both check the API key and size limits, count every answer in /metrics, and serve /info,
/openapi.json and /docs. Runtime module: carried by deploy bundles.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

from .metrics import ServerMetrics, render
from .schema import CsvBody, RequestError, unseen_counts
from .worker import FAILED

if TYPE_CHECKING:
    from .api import PredictAPI

JSON = [(b"content-type", b"application/json")]
TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
PROMETHEUS = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
logger = logging.getLogger("gitmlops.serve")
ROUTES = ("/predict", "/info", "/metrics", "/health", "/openapi.json", "/docs")


class FrontDoor:
    """The ASGI app (``app`` None: fast engine) or middleware in front of ``app`` (litserve engine)."""

    def __init__(
        self,
        app: Any = None,
        *,
        api: PredictAPI,
        metrics: ServerMetrics,
        info: dict[str, Any],
        api_key: str | None,
        max_body_bytes: int,
        timeout: float,
        body_timeout: float = 10.0,
        max_header_bytes: int = 32 * 1024,
        header_timeout: float = 10.0,
        slot: int = 0,
    ) -> None:
        self.app = app
        self.api = api
        self.metrics = metrics
        self.info = info
        self.model_labels = {k: str(info["model"].get(k) or "") for k in ("name", "version", "md5")}
        self.key = api_key.encode() if api_key else None
        self.max_body_bytes = max_body_bytes
        self.timeout = timeout
        self.body_timeout = body_timeout
        #: Enforced below the app, by the HTTP protocol (limits.py), but carried here for it.
        self.max_header_bytes = max_header_bytes
        self.header_timeout = header_timeout
        self.slot = slot
        #: The fast engine's channels; its ZeroMQ end in this process is opened in the lifespan.
        self.channels: Any = None
        self.side: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            if self.app is not None:
                await self.app(scope, receive, send)
            else:
                await self.serve_lifespan(receive, send)
            return
        if kind != "http":
            if self.app is not None:
                await self.app(scope, receive, send)
            return
        path = scope["path"]
        started = time.perf_counter()
        route = path if path in ROUTES else "other"
        if path == "/health":
            if self.app is not None:
                await self.passed_on(scope, receive, send, route)
            elif self.metrics.ready():
                await self.respond(send, 200, b"ok", route, TEXT)
            else:
                await self.respond(send, 503, b"not ready", route, TEXT)
            return
        if self.key is not None and not self.authorized(scope):
            await self.respond(send, 401, error(UNAUTHORIZED), route)
            return
        method = scope["method"]
        if path == "/predict":
            if method != "POST":
                await self.respond(send, 405, error("use POST /predict"), route, started=started)
            else:
                await self.predict(scope, receive, send, started)
            return
        if route == "other":
            await self.respond(send, 404, error(f"no route {path}; the routes are {', '.join(ROUTES)}"), route)
            return
        if method not in ("GET", "HEAD"):
            await self.respond(send, 405, error(f"use GET {path}"), route)
            return
        if path == "/metrics":
            metrics = self.metrics
            snapshot = metrics.snapshot()
            text = render(snapshot, self.model_labels, metrics.restarts(), metrics.worker_batches(),
                          metrics.unseen_totals(snapshot)).encode()
            await self.respond(send, 200, text, route, PROMETHEUS)
        elif path == "/info":
            await self.respond(send, 200, orjson.dumps(self.info), route)
        else:
            from .openapi import docs_page, openapi

            if path == "/openapi.json":
                await self.respond(send, 200, orjson.dumps(openapi(self.api.schema, self.info)), route)
            else:
                await self.respond(send, 200, docs_page(), route, [(b"content-type", b"text/html; charset=utf-8")])

    async def serve_lifespan(self, receive: Any, send: Any) -> None:
        """Fast engine, per HTTP process: open its ZeroMQ end and bind its metrics slot."""
        from .transport import ApiSide

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.metrics.bind(self.slot)
                if self.channels is not None:
                    self.side = ApiSide(self.channels, self.slot)
                    self.side.start(self.metrics.batch)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                side, self.side = self.side, None
                if side is not None:
                    await side.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def authorized(self, scope: dict[str, Any]) -> bool:
        """Whether the request carries the API key (X-API-Key, or Authorization: Bearer)."""
        given = b""
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                given = value
                break
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                given = value[7:].strip()
                break
        # Constant time: the comparison does not reveal how much of a guess was right.
        return hmac.compare_digest(given, self.key or b"")

    async def respond(
        self, send: Any, status: int, body: bytes, route: str, headers: list[tuple[bytes, bytes]] = JSON,
        started: float | None = None,
    ) -> None:
        """Send a whole answer and count it."""
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        self.metrics.request(route, status, None if started is None else time.perf_counter() - started)

    async def predict(self, scope: dict[str, Any], receive: Any, send: Any, started: float) -> None:
        """POST /predict: limits, validation, then the model (fast: workers; litserve: LitServe)."""
        body = await self.timed_body(scope, receive)
        if body is TIMED_OUT:
            await self.respond(send, 408, error(f"the request body did not arrive within {self.body_timeout:g} s"),
                               "/predict", started=started)
            return
        if body is None:
            await self.respond(send, 413, error(too_large(self.max_body_bytes)), "/predict", started=started)
            return
        is_csv = content_type(scope) == b"text/csv"
        try:
            matrix = self.api.decode_request(CsvBody(body) if is_csv else body)
        except RequestError as exc:
            await self.respond(send, exc.status, exc.body(), "/predict", started=started)
            return
        except Exception:  # a validation bug must still answer in the error shape, and be counted
            logger.exception("validating a request failed")
            await self.respond(send, 500, error("the request could not be validated; the server log has the traceback"),
                               "/predict", started=started)
            return
        unseen = unseen_counts(self.api.schema, matrix)  # counted in /metrics once answered 200
        if self.app is not None:
            if is_csv:
                from .formats import csv_records

                # The CSV's own values, not the decoded matrix: an unseen category must reach the
                # worker as itself (scored there by the same rule), not as a null it would refuse.
                body = orjson.dumps({"records": csv_records(self.api.schema, body, self.api.max_rows)})
            # LitServe reads the body by its content type: it is JSON now, whatever the client said.
            await self.passed_on(scope, replay(body), send, "/predict", started, json_body=True, unseen=unseen)
            return
        side = self.side
        if side is None:
            await self.respond(send, 503, error("the server is starting"), "/predict", started=started)
            return
        future = side.submit(matrix)
        expire = asyncio.get_running_loop().call_later(self.timeout, expire_future, future)
        try:
            status, payload = await future
        except TimeoutError:
            side.forget(future)
            status, payload = 504, error(no_answer(self.timeout))
        finally:
            expire.cancel()
        if status == 200 and unseen:
            self.metrics.unseen(unseen)
        await self.respond(send, status, payload, "/predict", started=started)

    async def timed_body(self, scope: dict[str, Any], receive: Any) -> Any:
        """The body (None: too large), or TIMED_OUT when the client is slower than ``body_timeout``."""
        # One timer that cancels this task, not a wait_for per chunk: nothing extra on the fast path.
        task = asyncio.current_task()
        fired = False

        def expire() -> None:
            nonlocal fired
            fired = True
            if task is not None:
                task.cancel()

        timer = asyncio.get_running_loop().call_later(self.body_timeout, expire)
        try:
            return await read_body(scope, receive, self.max_body_bytes)
        except asyncio.CancelledError:
            if not fired or task is None:
                raise
            task.uncancel()
            return TIMED_OUT
        finally:
            timer.cancel()

    async def passed_on(
        self, scope: dict[str, Any], receive: Any, send: Any, route: str, started: float | None = None,
        json_body: bool = False, unseen: dict[str, int] | None = None,
    ) -> None:
        """Let LitServe answer; its 5xx answers on /predict get gitmlops' error body, and its 4xx
        answers (a RequestError the worker raised, as LitServe's HTTPException) gitmlops' shape."""
        status = 500
        replaced = False
        held: list[bytes] | None = None
        if json_body:
            headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-type", b"content-length")]
            scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
            # (the body may have been rewritten; its length travels without Content-Length)

        async def counted(message: dict[str, Any]) -> None:
            nonlocal status, replaced, held
            if held is not None and message["type"] == "http.response.body":
                held.append(message.get("body", b""))
                if not message.get("more_body", False):
                    body = error_shape(b"".join(held))
                    await send({"type": "http.response.start", "status": status,
                                "headers": [*JSON, (b"content-length", str(len(body)).encode())]})
                    await send({"type": "http.response.body", "body": body})
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                if route == "/predict" and 400 <= status < 500:
                    held = []
                    return
                if route == "/predict" and status >= 500:
                    replaced = True
                    body = error(no_answer(self.timeout)) if status == 504 else FAILED
                    await send({"type": "http.response.start", "status": status,
                                "headers": [*JSON, (b"content-length", str(len(body)).encode())]})
                    await send({"type": "http.response.body", "body": body})
                    return
            if not replaced:
                await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            if status == 200 and unseen:
                self.metrics.unseen(unseen)
            self.metrics.request(route, status, None if started is None else time.perf_counter() - started)




def error_shape(body: bytes) -> bytes:
    """LitServe's error body (FastAPI's ``{"detail": ...}``) in gitmlops' ``{"detail", "field"}``."""
    try:
        detail = orjson.loads(body).get("detail")
    except (orjson.JSONDecodeError, AttributeError):
        detail = None
    if isinstance(detail, dict) and isinstance(detail.get("detail"), str):  # a RequestError, as raised
        return orjson.dumps({"detail": detail["detail"], "field": detail.get("field")})
    return error(detail if isinstance(detail, str) else "the request was refused")


def replay(body: bytes) -> Any:
    """An ASGI ``receive`` giving ``body`` again (the front door has read the original)."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def content_type(scope: dict[str, Any]) -> bytes:
    """The media type of the request, lower case, without parameters."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value.split(b";", 1)[0].strip().lower())
    return b""


async def read_body(scope: dict[str, Any], receive: Any, limit: int) -> bytes | None:
    """The request body, or None as soon as it is larger than ``limit`` bytes."""
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


def expire_future(future: asyncio.Future[Any]) -> None:
    """Fail a request that waited too long (answered 504)."""
    if not future.done():
        future.set_exception(TimeoutError())


def error(message: str, field_name: str | None = None) -> bytes:
    """The error body ``{"detail": ..., "field": ...}``."""
    return RequestError(400, message, field_name).body()


TIMED_OUT = object()
UNAUTHORIZED = "missing or wrong API key: send it in the X-API-Key header (or Authorization: Bearer)"


def too_large(limit: int) -> str:
    """The 413 message for a body over the limit."""
    return f"request body too large: the limit is {limit} bytes; split the request"


def no_answer(timeout: float) -> str:
    """The 504 message."""
    return f"no answer from the model within {timeout:g} s"
