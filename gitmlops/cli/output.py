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
        click.echo(fit(text.rstrip("\n")))


def fit(text: str, width: int | None = -1) -> str:
    """Wrap prose lines longer than ``width`` (default: :func:`terminal_width`) at word boundaries,
    continuation lines indented two more spaces; tables are fitted by :func:`table` already."""
    import textwrap

    limit = terminal_width() if width == -1 else width
    if limit is None:
        return text
    out: list[str] = []
    for line in text.splitlines():
        if len(line) <= limit:
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        out.extend(textwrap.wrap(line.strip(), width=limit, initial_indent=indent,
                                 subsequent_indent=indent + "  ", break_on_hyphens=False) or [line])
    return "\n".join(out)


def format_value(value: Any) -> str:
    """A cell: floats rounded to 4 significant decimals, None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-3 or abs(value) >= 1e5 else f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def terminal_width() -> int | None:
    """The width to fit: $COLUMNS when set, the terminal's when stdout is one, else no limit (a pipe)."""
    import os
    import shutil
    import sys

    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


MIN_CELL = 8  # a truncated column keeps at least this many characters (or its header's width)


def _truncate(cell: str, width: int) -> str:
    return cell if len(cell) <= width else cell[: max(width - 1, 0)] + "…"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], width: int | None = -1) -> str:
    """A plain aligned text table, fitted to ``width`` (default: :func:`terminal_width`).

    Too wide, the widest columns are shortened (cells end in "…"); if that is not enough, columns are
    dropped from the right and a last line names them. `--json` always has everything.
    """
    limit = terminal_width() if width == -1 else width
    cells = [[format_value(c) for c in row] for row in rows]
    names = list(headers)
    widths = [len(h) for h in names]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    dropped: list[str] = []
    if limit is not None:
        def total() -> int:
            return sum(widths) + 2 * (len(widths) - 1)

        if total() > limit:
            # one cap for all columns (never below a column's floor): the widest give up the most
            floors = [max(len(h), MIN_CELL) for h in names]
            full = list(widths)
            cap = max(full)
            while cap > 0 and total() > limit:
                cap -= 1
                widths = [min(w, max(cap, f)) for w, f in zip(full, floors, strict=True)]
        while total() > limit and len(widths) > 1:
            dropped.insert(0, names.pop())
            widths.pop()
        keep = len(names)
        cells = [[_truncate(c, widths[i]) for i, c in enumerate(row[:keep])] for row in cells]
    lines = ["  ".join(h.ljust(w) for h, w in zip(names, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if dropped:
        lines.append(fit(f"({len(dropped)} column(s) not shown at this width: {', '.join(dropped)}; see --json)",
                         limit))
    return "\n".join(lines)
