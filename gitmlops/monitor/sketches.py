"""The one place gitmlops imports whylogs, reads and writes its profiles.

whylogs sends usage telemetry unless told not to, so the opt-out is set here, before the first import,
and every other module gets whylogs through :func:`whylogs` (imported lazily: `gitmlops --help`
must not pay for it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gitmlops.errors import MonitorError


def whylogs() -> Any:
    """The ``whylogs`` module, imported with telemetry off."""
    os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "True")
    import whylogs as why

    return why


def view_class() -> Any:
    """``whylogs.core.DatasetProfileView``."""
    whylogs()
    from whylogs.core import DatasetProfileView

    return DatasetProfileView


def profile_dataframe(df: Any, schema: Any = None) -> Any:
    """Profile a pandas DataFrame with whylogs and return its ``DatasetProfileView``."""
    why = whylogs()
    return why.log(pandas=df, schema=schema).view()


def view_from_bytes(data: bytes, source: str = "profile") -> Any:
    """A ``DatasetProfileView`` from whylogs' binary format; a clear error when it is not one."""
    if not data:
        raise MonitorError(f"{source} is empty, not a whylogs profile", _REWRITE_HINT)
    try:
        view = view_class().deserialize(data)
    except Exception as exc:  # noqa: BLE001 - whylogs raises several types for bad bytes
        raise MonitorError(
            f"{source} is not a readable whylogs profile (corrupted or truncated): {_first_line(exc)}",
            _REWRITE_HINT,
        ) from None
    return view


def read_view(path: str | os.PathLike[str]) -> Any:
    """Read a profile written by :func:`write_view` (or by whylogs itself)."""
    file = Path(path)
    if not file.is_file():
        raise MonitorError(f"profile {file} does not exist", "check the path (`ls monitoring/`)")
    return view_from_bytes(file.read_bytes(), str(file))


def view_to_bytes(view: Any) -> bytes:
    """whylogs' binary format of a view (what ``DatasetProfileView.read`` reads)."""
    return bytes(view.serialize())


def merge_views(views: list[Any]) -> Any:
    """Merge profiles (whylogs merges sketches exactly as if the rows had been logged together)."""
    if not views:
        return view_class().zero()
    merged = views[0]
    for view in views[1:]:
        merged = merged.merge(view)
    return merged


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_REWRITE_HINT = "profile the data again with `gitmlops monitor profile`, or restore the file from git"
