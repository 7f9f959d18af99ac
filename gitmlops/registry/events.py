"""Registry events: every annotated registry tag of a repository, read in one ``for-each-ref`` pass."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from gitmlops.adapters.git_repo import GitRepo, TagRecord
from gitmlops.registry.messages import note_of, parse_metadata
from gitmlops.registry.tags import TagName, parse_tag


@dataclass(slots=True)  # not frozen: frozen dataclasses are slow to build, and we build thousands
class Event:
    """One registry event (one annotated tag).

    ``version`` of a stage event is the version registered at the tag's commit (GTO's rule), or
    the commit itself when no version is registered there; it is filled in by
    :func:`gitmlops.registry.state.build`.
    """

    kind: str
    name: str
    tag: str
    commit: str
    timestamp: int
    author: str
    author_email: str
    version: str | None = None
    stage: str | None = None
    counter: int | None = None
    message: str | None = None

    @property
    def created_at(self) -> str:
        """When the tag was created (ISO 8601, UTC; git records whole seconds)."""
        return datetime.datetime.fromtimestamp(self.timestamp, datetime.UTC).isoformat()

    @property
    def metadata(self) -> dict[str, Any] | None:
        """The gitmlops metadata block of the tag message (None if absent or not read)."""
        return parse_metadata(self.message) if self.message else None

    @property
    def counter_at(self) -> int | None:
        """The artifact's counter when a counter-less tag was written (recorded by gitmlops), which
        places it exactly among the stage events; None for tags without that record."""
        value = (self.metadata or {}).get("counter_at") if self.message else None
        return value if isinstance(value, int) else None

    def to_dict(self) -> dict[str, Any]:
        """The event's JSON shape (documented in docs/registry.md)."""
        return {
            "event": self.kind,
            "name": self.name,
            "version": self.version,
            "stage": self.stage,
            "counter": self.counter,
            "tag": self.tag,
            "commit": self.commit,
            "created_at": self.created_at,
            "author": self.author,
            "author_email": self.author_email,
            "message": note_of(self.message) if self.message is not None else None,
            "metadata": self.metadata,
        }


def event_from_record(record: TagRecord, parsed: TagName | None = None) -> Event | None:
    """The event an annotated tag records, or None for a tag outside the registry grammar."""
    parsed = parsed or parse_tag(record.name)
    if parsed is None:
        return None
    return Event(
        kind=parsed.kind,
        name=parsed.name,
        tag=record.name,
        commit=record.commit,
        timestamp=record.timestamp,
        author=record.tagger,
        author_email=record.tagger_email,
        version=parsed.version,
        stage=parsed.stage,
        counter=parsed.counter,
        message=record.message,
    )


def read_events(git: GitRepo, with_messages: bool = False) -> list[Event]:
    """All registry events of the repository, unordered (see :func:`state.order`)."""
    events = []
    for record in git.annotated_tags(with_messages=with_messages):
        event = event_from_record(record)
        if event is not None:
            events.append(event)
    return events
