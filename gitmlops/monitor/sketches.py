"""The one place gitmlops reads and writes its profiles (whylogs' binary format, on its own core).

Profiles are built, merged and (de)serialized by :mod:`gitmlops.monitor.profile_view` on Apache
DataSketches and protobuf; whylogs itself is not imported at run time (it is a test-only dependency,
used to check that the two read each other's files).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gitmlops.errors import MonitorError


def view_class() -> Any:
    """The profile class (:class:`gitmlops.monitor.profile_view.Profile`)."""
    from gitmlops.monitor.profile_view import Profile

    return Profile


def profile_dataframe(df: Any, schema: Any = None) -> Any:
    """Profile a pandas DataFrame; returns a :class:`~gitmlops.monitor.profile_view.Profile`."""
    from gitmlops.monitor.profile_view import profile_dataframe as build

    del schema  # one metric set for every column (whylogs' standard resolver)
    return build(df)


def view_from_bytes(data: bytes, source: str = "profile") -> Any:
    """A profile from whylogs' binary format; a clear error when it is not one."""
    if not data:
        raise MonitorError(f"{source} is empty, not a whylogs profile", _REWRITE_HINT)
    try:
        return view_class().deserialize(data)
    except MonitorError as exc:
        raise MonitorError(f"{source} is not a readable whylogs profile (corrupted or truncated): {exc.message}",
                           _REWRITE_HINT) from None
    except (ValueError, RuntimeError) as exc:  # a sketch's own check of its bytes
        raise MonitorError(f"{source} is not a readable whylogs profile (corrupted or truncated): {exc}",
                           _REWRITE_HINT) from None


def read_view(path: str | os.PathLike[str]) -> Any:
    """Read a profile written by :func:`write_view` (or by whylogs itself)."""
    file = Path(path)
    if not file.is_file():
        raise MonitorError(f"profile {file} does not exist", "check the path (`ls monitoring/`)")
    return view_from_bytes(file.read_bytes(), str(file))


def view_to_bytes(view: Any) -> bytes:
    """whylogs' binary format of a profile (what ``DatasetProfileView.read`` reads)."""
    return bytes(view.serialize())


def merge_views(views: list[Any]) -> Any:
    """Merge profiles (sketches merge exactly as if the rows had been profiled together)."""
    if not views:
        return view_class().zero()
    merged = views[0]
    for view in views[1:]:
        merged = merged.merge(view)
    return merged


_REWRITE_HINT = "profile the data again with `gitmlops monitor profile`, or restore the file from git"
