"""The one exception a request is refused with: an HTTP status, a message and the offending field.

Its own module so the request formats (:mod:`.formats`) and the validator (:mod:`.schema`) can both
raise it without importing each other. Runtime module: carried by deploy bundles.
"""

from __future__ import annotations

import orjson


def printable(text: str) -> str:
    """``text`` without lone surrogates (JSON escapes like "\\ud800" decode to them), so it can be sent."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class RequestError(Exception):
    """A request the server refuses: HTTP ``status``, a message, and the offending ``field``."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        message = printable(message)
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = None if field is None else printable(field)

    def body(self) -> bytes:
        """The JSON error body: ``{"detail": message, "field": field-or-null}``."""
        return orjson.dumps({"detail": self.message, "field": self.field})
