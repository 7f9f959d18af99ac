"""Tag messages: GTO's wording first, then an optional user note, then gitmlops metadata.

A message looks like::

    Registering artifact model version v0.2.0

    retrained on March data

    gitmlops-metadata:
    {
      "schema": 1,
      "commit": "...",
      ...
    }

GTO keeps the whole message as the event's message, so it reads our tags unchanged; tags without the
block (written by GTO or by hand) simply have no metadata.
"""

from __future__ import annotations

import json
import os
from typing import Any

from gitmlops.registry.tags import ASSIGN, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN

METADATA_MARKER = "gitmlops-metadata:"
METADATA_SCHEMA = 1


def gto_wording(kind: str, name: str, version: str | None = None, stage: str | None = None) -> str:
    """The first line GTO writes for an event (kept identical so GTO users see the same text)."""
    if kind == REGISTER:
        return f"Registering artifact {name} version {version}"
    if kind == DEREGISTER:
        return f"Deregistering artifact {name} version {version}"
    if kind == ASSIGN:
        return f"Assigning stage {stage} to artifact {name} version {version}"
    if kind == UNASSIGN:
        return f"Unassigning stage '{stage}' to artifact '{name}' version '{version}'"
    if kind == DEPRECATE:
        return f"Deprecating artifact '{name}'"
    raise ValueError(f"no message wording for event kind {kind!r}")


def compose_message(wording: str, note: str | None, metadata: dict[str, Any] | None) -> str:
    """The full tag message."""
    parts = [wording]
    if note and note.strip():
        parts.append(note.strip())
    if metadata is not None:
        # A unique id makes every tag object unique: two writers recording "the same" event in the
        # same second would otherwise create byte-identical tags, and the second push would pass as
        # "up to date" although its event was never recorded separately.
        block = {"schema": METADATA_SCHEMA, "id": os.urandom(16).hex(), **metadata}
        parts.append(METADATA_MARKER + "\n" + json.dumps(block, indent=2, sort_keys=True))
    return "\n\n".join(parts) + "\n"


def parse_metadata(message: str) -> dict[str, Any] | None:
    """The gitmlops metadata block of a tag message, or None if it has none (or it is unreadable)."""
    if not message:
        return None
    _, sep, tail = message.rpartition("\n" + METADATA_MARKER + "\n")
    if not sep:
        if not message.startswith(METADATA_MARKER + "\n"):
            return None
        tail = message[len(METADATA_MARKER) + 1:]
    try:
        data = json.loads(tail)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def note_of(message: str) -> str:
    """The human part of a message: GTO's wording and the user's note, without the metadata."""
    head, sep, _ = message.rpartition("\n" + METADATA_MARKER + "\n")
    return (head if sep else message).strip()
