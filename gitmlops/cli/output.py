"""Output helpers shared by every command: `--json` and plain tables.

The library returns values (dataclasses, dicts, lists); commands hand them to :func:`emit`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    """Add `--json` (machine-readable output with a stable, documented shape)."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(func)


def to_jsonable(value: Any) -> Any:
    """Turn dataclasses (and containers of them) into plain JSON types."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return to_jsonable(value.to_dict())
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON with stable key order."""
    click.echo(json.dumps(to_jsonable(value), indent=2, sort_keys=False, default=str))


def emit(value: Any, as_json: bool, render: Callable[[Any], str | None]) -> None:
    """Print ``value`` as JSON or through ``render`` (which returns text)."""
    if as_json:
        print_json(value)
        return
    text = render(value)
    if text:
        click.echo(text.rstrip("\n"))


def format_value(value: Any) -> str:
    """A cell: floats rounded to 4 significant decimals, None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-3 or abs(value) >= 1e5 else f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain aligned text table."""
    cells = [[format_value(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)
