"""Progress of long work: the library reports it through a callback, the CLI draws it (the library
itself never prints). ``gitmlops.cli.progress`` turns a callback into a bar on stderr."""

from __future__ import annotations

from collections.abc import Callable

#: Called as work advances with (units done so far, total units, or None while the total is unknown).
Progress = Callable[[int, int | None], None]
