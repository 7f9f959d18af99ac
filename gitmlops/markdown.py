"""The one escaping rule for text from data in GitHub-flavoured Markdown (reports, drift tables,
PR bodies and comments).

GitHub turns ``@name`` into a mention (a notification to a person or team) and ``#123`` into a
cross-reference after the Markdown is rendered, so HTML entities alone do not stop them: a zero-width
space after the sign does, and reads the same.
"""

from __future__ import annotations

import re
from typing import Any

#: Markdown punctuation that can start emphasis, code, links, tables, strikethrough, headings or math.
_MD_SPECIAL = frozenset("\\`*_[]|~!$")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
#: ``@``/``#`` followed by this cannot be a mention or a reference (a zero-width space).
BREAK = "&#8203;"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def escape(value: Any, limit: int | None = None) -> str:
    """Text safe anywhere in Markdown (a table cell included): one line, no HTML, no Markdown
    structure, no live ``@mention`` or ``#reference``; cut to ``limit`` characters when given."""
    text = value if isinstance(value, str) else str(value)
    text = _CONTROL.sub("", text).replace("\r\n", "\n").replace("\r", "\n").replace("\n", " ")
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    # One pass, so the entities written for HTML are not themselves escaped as Markdown.
    return "".join(_escape_char(ch) for ch in text)


def _escape_char(ch: str) -> str:
    if ch in _HTML:
        return _HTML[ch]
    if ch in "@#":
        return ch + BREAK
    return f"\\{ch}" if ch in _MD_SPECIAL else ch


def neutralise_references(text: str) -> str:
    """``text`` (already Markdown) with every ``@mention`` and ``#reference`` made inert."""
    return re.sub(r"(?<!&)([@#])(?=[A-Za-z0-9_])", rf"\1{BREAK}", text)
