"""Per-artifact registry state computed from events (pure: no git).

Ordering: stage events carry the artifact's counter and are ordered by it, never by timestamps
(git records whole seconds, so two promotions in one second would otherwise tie; GTO can pick the
wrong current version there). Events without a counter (registrations, deregistrations,
deprecations, GTO's simple ``NAME#STAGE`` tags) are ordered by tag time and merged into the counter
sequence: exactly, by the counter value gitmlops records in their metadata (``counter_at``) when
messages were read, else by time, where on equal times the event without a counter comes first (a
version is registered before it is promoted).

Semantics follow GTO: a stage holds, per version, "assigned" or "not assigned" (the version's last
stage event for it); the current version of a stage is the assigned, non-deregistered version
assigned most recently. ``latest`` is the version registered most recently, ``greatest`` the
highest semantic version (they differ only after ``register --force`` of a lower version).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gitmlops.registry.events import Event
from gitmlops.registry.tags import (
    ASSIGN,
    CREATE,
    DEPRECATE,
    DEREGISTER,
    REGISTER,
    UNASSIGN,
    Version,
    version_key,
)

_PRIORITY = {CREATE: 0, REGISTER: 1, ASSIGN: 2, UNASSIGN: 3, DEREGISTER: 4, DEPRECATE: 5}


@dataclass
class VersionState:
    """One version of an artifact."""

    version: str
    commit: str
    tag: str | None = None  # the registration tag; None for a stage assigned to an unregistered commit
    registered_ts: int | None = None  # tag time of the registration (unix seconds)
    deregistered: bool = False
    stages: list[str] = field(default_factory=list)  # stages this version is current in
    position: int = -1  # index of its registration in the artifact's ordered events
    forced: list[str] = field(default_factory=list)  # problems `register --force` overrode (read from the tag)

    @property
    def registered_at(self) -> str | None:
        """When the version was registered (ISO 8601, UTC)."""
        if self.registered_ts is None:
            return None
        return datetime.datetime.fromtimestamp(self.registered_ts, datetime.UTC).isoformat()

    @property
    def registered(self) -> bool:
        """Whether a registration tag exists for this version."""
        return self.tag is not None

    @property
    def active(self) -> bool:
        """Registered and not deregistered."""
        return self.registered and not self.deregistered

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of a version (docs/registry.md)."""
        return {
            "version": self.version,
            "commit": self.commit,
            "tag": self.tag,
            "registered_at": self.registered_at,
            "active": self.active,
            "deregistered": self.deregistered,
            "stages": list(self.stages),
            "forced": list(self.forced),
        }


@dataclass
class ArtifactState:
    """Everything the registry knows about one artifact."""

    name: str
    events: list[Event]
    versions: dict[str, VersionState]
    stages: dict[str, str | None]  # stage -> current version (None: nothing assigned now)
    assigned: dict[str, list[str]]  # stage -> every version assigned to it now, oldest first
    deprecated: bool
    counter: int  # the highest event counter used so far (0: none)

    @property
    def latest(self) -> VersionState | None:
        """The active version registered most recently."""
        active = [v for v in self.versions.values() if v.active]
        return max(active, key=lambda v: v.position) if active else None

    @property
    def greatest(self) -> VersionState | None:
        """The active version with the highest semantic version."""
        active = [v for v in self.versions.values() if v.active]
        return max(active, key=lambda v: version_key(v.version)) if active else None

    @property
    def greatest_ever(self) -> Version | None:
        """The highest version ever registered, deregistered ones included (new versions go above it)."""
        registered = [Version.parse(v.version) for v in self.versions.values() if v.registered]
        return max(registered) if registered else None

    def version_at(self, commit: str) -> VersionState | None:
        """The registered version at ``commit`` (active ones first)."""
        found = [v for v in self.versions.values() if v.commit == commit and v.registered]
        if not found:
            return None
        return max(found, key=lambda v: (v.active, version_key(v.version)))

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of an artifact in `registry show` (docs/registry.md)."""
        latest, greatest = self.latest, self.greatest
        return {
            "name": self.name,
            "latest": latest.version if latest else None,
            "greatest": greatest.version if greatest else None,
            "stages": dict(self.stages),
            "deprecated": self.deprecated,
            "versions": sum(1 for v in self.versions.values() if v.active),
            "counter": self.counter,
        }


def order(events: Iterable[Event]) -> list[Event]:
    """Events of one artifact in registry order (see the module docstring)."""
    chain: list[Event] = []
    loose: list[Event] = []
    for event in events:
        (chain if event.counter is not None and event.kind in (ASSIGN, UNASSIGN) else loose).append(event)
    chain.sort(key=lambda e: (e.counter, e.timestamp, e.tag))
    loose.sort(key=lambda e: (e.timestamp, _PRIORITY[e.kind], version_key(e.version or ""), e.tag))
    merged: list[Event] = []
    i = j = 0
    while i < len(loose) and j < len(chain):
        after = loose[i].counter_at
        first = after < (chain[j].counter or 0) if after is not None else loose[i].timestamp <= chain[j].timestamp
        if first:
            merged.append(loose[i])
            i += 1
        else:
            merged.append(chain[j])
            j += 1
    merged.extend(loose[i:])
    merged.extend(chain[j:])
    return merged


def build_artifact(name: str, events: Iterable[Event]) -> ArtifactState:
    """The state of artifact ``name`` from its events (any order)."""
    ordered = order(events)
    versions: dict[str, VersionState] = {}
    by_commit: dict[str, str] = {}
    for event in ordered:
        if event.kind == REGISTER and event.version is not None:
            # GTO maps a stage tag to a version through the commit both tags point to.
            by_commit.setdefault(event.commit, event.version)
    assigned: dict[str, dict[str, int]] = {}  # stage -> version -> position of its last assignment
    deprecated = False
    counter = 0
    result: list[Event] = []
    for position, event in enumerate(ordered):
        if event.counter is not None:
            counter = max(counter, event.counter)
        if event.kind in (ASSIGN, UNASSIGN):
            version = by_commit.get(event.commit, event.commit)
            event.version = version  # events are built fresh by every read, so this is ours to set
            if version not in versions:
                versions[version] = VersionState(version=version, commit=event.commit)
            stage = event.stage or ""
            holders = assigned.setdefault(stage, {})
            if event.kind == ASSIGN:
                holders[version] = position
            else:
                holders.pop(version, None)
        elif event.kind == REGISTER and event.version is not None:
            state = versions.setdefault(event.version, VersionState(version=event.version, commit=event.commit))
            state.commit, state.tag = event.commit, event.tag
            state.registered_ts, state.position = event.timestamp, position
            forced = (event.metadata or {}).get("forced") if event.message else None
            state.forced = [str(p) for p in forced] if isinstance(forced, list) else []
        elif event.kind == DEREGISTER and event.version is not None:
            state = versions.setdefault(event.version, VersionState(version=event.version, commit=event.commit))
            state.deregistered = True
        result.append(event)
        # Deprecated until a later registration revives it (GTO: while its latest event is a
        # deprecation; stage events cannot follow one here, as promote refuses deprecated artifacts).
        if event.kind == DEPRECATE:
            deprecated = True
        elif event.kind in (REGISTER, CREATE):
            deprecated = False
    stages: dict[str, str | None] = {}
    holding: dict[str, list[str]] = {}
    for stage, holders in assigned.items():
        live = sorted((pos, v) for v, pos in holders.items() if not versions[v].deregistered)
        holding[stage] = [v for _, v in live]
        current = live[-1][1] if live else None
        stages[stage] = current
        if current is not None:
            versions[current].stages.append(stage)
    return ArtifactState(name, result, versions, stages, holding, deprecated, counter)


def build(events: Iterable[Event]) -> dict[str, ArtifactState]:
    """Registry state of every artifact, by name (sorted)."""
    grouped: dict[str, list[Event]] = {}
    for event in events:
        grouped.setdefault(event.name, []).append(event)
    return {name: build_artifact(name, grouped[name]) for name in sorted(grouped)}
