"""Limits on what a client may send before a request reaches the app: header size and read timeouts.

uvicorn's httptools protocol has neither: it buffers a header line of any length and holds a
connection that never finishes its request for ever. :func:`guarded_protocol` makes the asyncio
protocol class both engines give uvicorn (its public ``http=`` option; LitServe passes it on from
``LitServer.run``). It wraps uvicorn's own ``httptools`` implementation, passing every protocol
call on, and watches the same bytes with a second httptools parser of its own:

- request line and headers larger than ``max_header_bytes``: answered 431 and closed; uvicorn
  never holds more than the limit plus one read of the socket;
- request line and headers not complete ``header_timeout`` seconds after the connection opened (or
  after the request's first byte, on a kept-alive connection): answered 408 and closed;
- a body not complete ``body_timeout`` (+1 s) after its headers: closed (POST /predict answers 408
  itself at ``body_timeout``; the extra second lets that answer go out first).

Idle kept-alive connections are closed by uvicorn's ``timeout_keep_alive``. One timer per process
checks every connection's deadline (to within a quarter of the timeout, at most 0.5 s), so the fast
path costs two parser callbacks and a few attribute writes per request.
Runtime module: carried by deploy bundles.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

import httptools
import orjson

#: What the timer adds to ``body_timeout`` before it closes a connection still sending its body.
BODY_GRACE = 1.0
_HEADERS, _BODY, _WAITING = 1, 2, 3
_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def refusal(status: int, message: str) -> bytes:
    """A whole HTTP/1.1 answer in the error shape of the front door, closing the connection."""
    body = orjson.dumps({"detail": message, "field": None})
    return (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % (status, _REASONS[status], len(body))) + body


class _Watch:
    """The per-process timer: every ``tick`` seconds, the connections past their deadline are refused.

    ``now`` is the time of the last tick: the fast path reads it instead of the clock.
    """

    def __init__(self, tick: float) -> None:
        self.tick = tick
        self.now = time.monotonic()
        self.connections: set[Any] = set()
        self.handle: asyncio.TimerHandle | None = None

    def add(self, connection: Any) -> None:
        self.connections.add(connection)
        if self.handle is None:
            self.now = time.monotonic()
            self.handle = asyncio.get_running_loop().call_later(self.tick, self.check)

    def check(self) -> None:
        self.now = now = time.monotonic()
        for connection in [c for c in self.connections if c.deadline < now]:
            connection.expired()
        self.handle = (asyncio.get_running_loop().call_later(self.tick, self.check)
                       if self.connections else None)


def guarded_protocol(
    max_header_bytes: int, header_timeout: float, body_timeout: float,
    refused: Callable[[int], None] | None = None,
) -> type[asyncio.Protocol]:
    """The protocol class for ``uvicorn.Config(http=...)`` that enforces these limits.

    ``refused(status)`` is called for each connection answered 431 or 408 (to count it in /metrics).
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    watch = _Watch(max(0.05, min(0.5, header_timeout / 4, body_timeout / 4)))
    too_large = refusal(431, f"request headers too large: the request line and headers may have at most "
                             f"{max_header_bytes} bytes")
    too_slow = refusal(408, f"the request headers did not arrive within {header_timeout:g} s")

    class GuardedHttpProtocol(asyncio.Protocol):
        """uvicorn's httptools protocol, with a header size limit and header/body read timeouts."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.inner = HttpToolsProtocol(*args, **kwargs)
            self.parser: Any = httptools.HttpRequestParser(self)
            self.transport: asyncio.Transport | None = None
            self.phase = _HEADERS
            self.deadline = math.inf
            self.unparsed = 0  # bytes of earlier reads holding this request's incomplete headers
            self.chunk = b""
            self.oversized = False

        # asyncio.Protocol, passed on to uvicorn's protocol
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            watch.add(self)
            self.deadline = time.monotonic() + header_timeout
            self.inner.connection_made(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            watch.connections.discard(self)
            self.transport = None
            self.inner.connection_lost(exc)

        def eof_received(self) -> bool | None:
            self.inner.eof_received()
            return None  # close the connection (uvicorn's protocol does the same)

        def pause_writing(self) -> None:
            self.inner.pause_writing()

        def resume_writing(self) -> None:
            self.inner.resume_writing()

        def data_received(self, data: bytes) -> None:
            parser = self.parser
            if parser is not None:
                if self.phase == _WAITING:  # the last request was whole: these bytes begin the next
                    self.phase = _HEADERS
                    self.deadline = watch.now + header_timeout
                    self.unparsed = 0
                self.chunk = data
                try:
                    parser.feed_data(data)
                except httptools.HttpParserUpgrade:
                    self.stop_watching()  # a protocol switch: no longer HTTP/1.1 requests
                except httptools.HttpParserError:
                    self.stop_watching()  # malformed: uvicorn answers it (400)
                else:
                    if self.phase == _HEADERS:
                        self.unparsed += len(data)
                        if self.unparsed > max_header_bytes:
                            self.refuse(431, too_large)
                            return
                    elif self.oversized:
                        self.refuse(431, too_large)
                        return
            if self.transport is not None:
                self.inner.data_received(data)

        # the watching parser's callbacks (per request: two calls and a few attribute writes)
        def on_headers_complete(self) -> None:
            chunk = self.chunk
            if self.unparsed + len(chunk) > max_header_bytes:  # a big read: measure the headers
                end = chunk.find(b"\r\n\r\n")
                self.oversized = end < 0 or self.unparsed + end + 4 > max_header_bytes
            self.phase = _BODY
            self.deadline = watch.now + body_timeout + BODY_GRACE

        def on_message_complete(self) -> None:
            self.phase = _WAITING  # the answer is the app's; an idle connection is uvicorn's keep-alive
            self.deadline = math.inf

        def stop_watching(self) -> None:
            self.parser = None
            self.deadline = math.inf
            watch.connections.discard(self)

        def expired(self) -> None:
            if self.phase == _HEADERS:
                self.refuse(408, too_slow)
            else:  # a body still arriving: the app has answered (or answers 408) by now
                self.refuse(None, b"")

        def refuse(self, status: int | None, answer: bytes) -> None:
            transport, self.transport = self.transport, None
            self.stop_watching()
            if transport is None:
                return
            if answer:
                transport.write(answer)
            transport.close()
            if status is not None and refused is not None:
                refused(status)

    return GuardedHttpProtocol
