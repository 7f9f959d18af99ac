"""Named steps where a test may stop a command to kill it there (a real process and a real signal).

A command calls :func:`reached` at a step whose interruption matters (between two renames, say).
Nothing happens unless ``GITMLOPS_CRASH_POINT`` names that step: then the process writes its pid to
the file ``GITMLOPS_CRASH_MARKER`` names and waits (up to a minute) for the test to kill it.
"""

from __future__ import annotations

import os
import time

POINT_ENV = "GITMLOPS_CRASH_POINT"
MARKER_ENV = "GITMLOPS_CRASH_MARKER"


def reached(name: str) -> None:
    """Stop here, waiting to be killed, when the environment names this step; otherwise return."""
    if os.environ.get(POINT_ENV) != name:
        return
    marker = os.environ.get(MARKER_ENV)
    if marker:
        with open(marker, "w", encoding="utf-8") as out:
            out.write(str(os.getpid()))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.05)
