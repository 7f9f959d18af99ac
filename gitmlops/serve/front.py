"""The front door: one ASGI app answering every route the same way under both engines.

- ``fast`` engine: it is the whole app of each HTTP process; POST /predict validates the body
  (the model's LitAPI's ``decode_request``) and submits the matrix to that model's workers over ZeroMQ;
- ``litserve`` engine: it is a middleware of the stock ``LitServer`` (its public ``middlewares``
  option); POST /predict is validated here too, then passed on to LitServe (CSV rewritten as the
  equivalent ``dataframe_split`` JSON, since LitServe reads ``request.json()``), and LitServe's
  own error answers are given gitmlops' error shape. /health is LitServe's.

Several models (``served.py``): POST /models/NAME/predict goes to model NAME (an unknown NAME is a
404 listing the served ones); a lone model also answers POST /predict.

Both check the API key and size limits, count every answer in /metrics, and serve /info,
/openapi.json and /docs. Runtime module: carried by deploy bundles.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Sequence
from typing import Any

import orjson

from .metrics import ModelSeries, ServerMetrics, render, render_models
from .schema import CsvBody, RequestError, unseen_counts
from .served import ServedModel
from .worker import FAILED

JSON = [(b"content-type", b"application/json")]
TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
PROMETHEUS = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
logger = logging.getLogger("gitmlops.serve")
ROUTES = ("/predict", "/info", "/metrics", "/health", "/openapi.json", "/docs")
MODEL_ROUTES = ("/models/NAME/predict", "/models/NAME/info")


class FrontDoor:
    """The ASGI app (``app`` None: fast engine) or middleware in front of ``app`` (litserve engine)."""

    def __init__(
        self,
        app: Any = None,
        *,
        models: Sequence[ServedModel],
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
        self.models = {m.name: m for m in models}
        #: The lone model (it also answers POST /predict), or None when several are served.
        self.single = models[0] if len(models) == 1 else None
        #: The server's counts: routes of no model. With one model, that model's metrics.
        self.metrics = metrics
        self.info = info
        self.key = api_key.encode() if api_key else None
        self.max_body_bytes = max_body_bytes
        self.timeout = timeout
        self.body_timeout = body_timeout
        #: Enforced below the app, by the HTTP protocol (limits.py), but carried here for it.
        self.max_header_bytes = max_header_bytes
        self.header_timeout = header_timeout
        self.slot = slot

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
            elif all(m.metrics.ready() for m in self.models.values()):
                await self.respond(send, 200, b"ok", route, TEXT)
            else:
                await self.respond(send, 503, b"not ready", route, TEXT)
            return
        if self.key is not None and not self.authorized(scope):
            await self.respond(send, 401, error(UNAUTHORIZED), route)
            return
        method = scope["method"]
        model = self.single if path == "/predict" else None
        if model is None and (path == "/predict" or path.startswith("/models/")):
            model = await self.model_route(send, path, method)
            if model is None:
                return
        if model is not None:
            if method != "POST":
                await self.respond(send, 405, error(f"use POST {path}"), "/predict", started=started,
                                   metrics=model.metrics)
            else:
                await self.predict(model, scope, receive, send, started)
            return
        if route == "other":
            await self.respond(send, 404, error(f"no route {path}; the routes are {', '.join((*ROUTES, *MODEL_ROUTES))}"), route)
            return
        if method not in ("GET", "HEAD"):
            await self.respond(send, 405, error(f"use GET {path}"), route)
            return
        if path == "/metrics":
            await self.respond(send, 200, self.render_metrics().encode(), route, PROMETHEUS)
        elif path == "/info":
            await self.respond(send, 200, orjson.dumps(self.info), route)
        else:
            from .openapi import docs_page, openapi

            if path == "/openapi.json":
                served = [(m.name, m.api.schema, m.info) for m in self.models.values()]
                await self.respond(send, 200, orjson.dumps(openapi(served, self.info)), route)
            else:
                await self.respond(send, 200, docs_page(), route, [(b"content-type", b"text/html; charset=utf-8")])

    async def model_route(self, send: Any, path: str, method: str) -> ServedModel | None:
        """The model a /predict or /models/NAME/... path names, or None once its answer is sent."""
        names = ", ".join(self.models)
        if path == "/predict":  # several models: the path must name one
            await self.respond(send, 404, error(f"{len(self.models)} models are served here: use POST "
                                                f"/models/NAME/predict, NAME one of {names}"), "other")
            return None
        name, _, action = path[len("/models/"):].rpartition("/")
        model = self.models.get(name)
        if model is None:
            await self.respond(send, 404, error(f"no model {name!r} is served here; the models are {names}"), "other")
        elif action == "info":
            if method not in ("GET", "HEAD"):
                await self.respond(send, 405, error(f"use GET {path}"), "/info")
            else:
                body = orjson.dumps({"model": model.info, "server": self.info.get("server", {})})
                await self.respond(send, 200, body, "/info")
        elif action != "predict":
            await self.respond(send, 404, error(f"no route {path}; the routes of model {name} are "
                                                f"/models/{name}/predict and /models/{name}/info"), "other")
        else:
            return model
        return None

    def render_metrics(self) -> str:
        """The /metrics text: one model's series as they always were, or each model's labelled."""
        single = self.single
        if single is not None:
            m = single.metrics
            snapshot = m.snapshot()
            return render(snapshot, single.labels, m.restarts(), m.worker_batches(), m.unseen_totals(snapshot))
        series = []
        for served in self.models.values():
            m = served.metrics
            snapshot = m.snapshot()
            series.append(ModelSeries(served.labels, snapshot, m.restarts(), m.worker_batches(), served.name,
                                      m.unseen_totals(snapshot)))
        return render_models(series, self.metrics.snapshot())

    async def serve_lifespan(self, receive: Any, send: Any) -> None:
        """Fast engine, per HTTP process: open its ZeroMQ end to each model and bind its metrics slot."""
        from .transport import ApiSide

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.metrics.bind(self.slot)
                for model in self.models.values():
                    model.metrics.bind(self.slot)
                    if model.channels is not None:
                        model.side = ApiSide(model.channels, self.slot)
                        model.side.start(model.metrics.batch)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for model in self.models.values():
                    side, model.side = model.side, None
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
        started: float | None = None, metrics: ServerMetrics | None = None,
    ) -> None:
        """Send a whole answer and count it (in ``metrics``: a model's; default the server's)."""
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        (metrics or self.metrics).request(route, status, None if started is None else time.perf_counter() - started)

    async def predict(self, model: ServedModel, scope: dict[str, Any], receive: Any, send: Any, started: float) -> None:
        """POST /predict: limits, validation, then the model (fast: its workers; litserve: LitServe)."""
        metrics = model.metrics
        body = await self.timed_body(scope, receive)
        if body is TIMED_OUT:
            await self.respond(send, 408, error(f"the request body did not arrive within {self.body_timeout:g} s"),
                               "/predict", started=started, metrics=metrics)
            return
        if body is None:
            await self.respond(send, 413, error(too_large(self.max_body_bytes)), "/predict", started=started,
                               metrics=metrics)
            return
        is_csv = content_type(scope) == b"text/csv"
        try:
            matrix = model.api.decode_request(CsvBody(body) if is_csv else body)
        except RequestError as exc:
            await self.respond(send, exc.status, exc.body(), "/predict", started=started, metrics=metrics)
            return
        except Exception:  # a validation bug must still answer in the error shape, and be counted
            logger.exception("validating a request failed")
            await self.respond(send, 500, error("the request could not be validated; the server log has the traceback"),
                               "/predict", started=started, metrics=metrics)
            return
        unseen = unseen_counts(model.api.schema, matrix)  # counted in /metrics once answered 200
        if self.app is not None:
            if is_csv:
                from .formats import csv_records

                # The CSV's own values, not the decoded matrix: an unseen category must reach the
                # worker as itself (scored there by the same rule), not as a null it would refuse.
                body = orjson.dumps({"records": csv_records(model.api.schema, body, model.api.max_rows)})
            # LitServe reads the body by its content type: it is JSON now, whatever the client said;
            # it routes by the model's LitAPI ``api_path``.
            scope = {**scope, "path": model.api_path, "raw_path": model.api_path.encode()}
            await self.passed_on(scope, replay(body), send, "/predict", started, json_body=True, metrics=metrics,
                                 unseen=unseen)
            return
        side = model.side
        if side is None:
            await self.respond(send, 503, error("the server is starting"), "/predict", started=started, metrics=metrics)
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
            metrics.unseen(unseen)
        await self.respond(send, status, payload, "/predict", started=started, metrics=metrics)

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
        json_body: bool = False, metrics: ServerMetrics | None = None, unseen: dict[str, int] | None = None,
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
            metrics = metrics or self.metrics
            if status == 200 and unseen:
                metrics.unseen(unseen)
            metrics.request(route, status, None if started is None else time.perf_counter() - started)




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
