"""Progress bars for long commands (tqdm): on stderr, only when stderr is a terminal, never with
``--quiet`` or ``--json``; N of M, elapsed time and ETA. Commands pass :func:`bar`'s callback to the
library as its ``progress`` argument."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from gitmlops.progress import Progress


def shown(quiet: bool = False) -> bool:
    """Whether a bar is drawn: stderr is a terminal and the user did not ask for quiet output."""
    return not quiet and sys.stderr.isatty()


def _ignore(done: int, total: int | None) -> None:
    del done, total  # nothing is drawn: piped, --quiet or --json


@contextlib.contextmanager
def bar(description: str, unit: str, quiet: bool = False) -> Iterator[Progress]:
    """A progress callback drawing one bar for the duration of the block (a no-op when not shown)."""
    if not shown(quiet):
        yield _ignore
        return
    from tqdm import tqdm

    drawn: Any = tqdm(desc=description, unit=f" {unit}", file=sys.stderr, leave=False, dynamic_ncols=True,
                      mininterval=0.2)

    def advance(done: int, total: int | None) -> None:
        if total is not None and drawn.total != total:
            drawn.total = total
        drawn.update(done - drawn.n)

    try:
        yield advance
    finally:
        drawn.close()
