"""The git diff driver: `gitmlops monitor textconv FILE` turns a binary profile into diffable text."""

from __future__ import annotations

import os
from pathlib import Path

from gitmlops.monitor import sketches
from gitmlops.monitor.summary import render_text, summarize


def textconv(path: str | os.PathLike[str]) -> str:
    """The text git shows for a profile (git passes a temporary copy of the blob)."""
    file = Path(path)
    return render_text(summarize(sketches.view_from_bytes(file.read_bytes() if file.is_file() else b"",
                                                           str(file))))

