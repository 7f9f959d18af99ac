"""The registry's tag grammar, compatible with GTO 1.x (pure functions, no git).

Tag names (``NAME`` in tag form, where a monorepo name ``dir/sub:name`` is written ``dir/sub=name``):

=======================  ==================================================
``NAME@vX.Y.Z``          register version vX.Y.Z
``NAME@vX.Y.Z!``         deregister it
``NAME#STAGE#N``         assign STAGE (N: the artifact's event counter)
``NAME#STAGE!#N``        unassign STAGE
``NAME@deprecated``      deprecate the artifact
=======================  ==================================================

GTO also writes ``NAME#STAGE`` (no counter), an optional ``#N`` after any event and ``NAME@created``;
they are read too. Anything else is not a registry tag: :func:`parse_tag` returns None for it.
The grammar is a bijection: ``parse_tag(format_tag(t)) == t`` and ``format_tag(parse_tag(s)) == s``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache, total_ordering
from typing import NamedTuple

from gitmlops.errors import RegistryError

REGISTER = "register"
DEREGISTER = "deregister"
ASSIGN = "assign"
UNASSIGN = "unassign"
DEPRECATE = "deprecate"
CREATE = "create"  # GTO's legacy ``NAME@created``: read, never written
KINDS = (REGISTER, DEREGISTER, ASSIGN, UNASSIGN, DEPRECATE, CREATE)

SEPARATOR_IN_NAME = ":"
SEPARATOR_IN_TAG = "="

# GTO's name grammar: letters, digits, '-', '_', '/'; starts and ends with a letter or digit.
_NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9_/-]*[a-zA-Z0-9])?"
# Stricter than GTO's dirname class (whose `9-_` is accidentally a range covering '=', '@', ':'):
# only characters that are safe both in a path and in a git ref name.
_DIRNAME = r"[a-zA-Z0-9_./-]+"
_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
_SEMVER = (
    rf"(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
MAX_NUMBER_DIGITS = 30  # far below Python's int-parsing limit (4,300 digits)
_VERSION_RE = re.compile(rf"^v{_SEMVER}$")
_NAME_RE = re.compile(rf"^{_NAME}$")
_FULLNAME_RE = re.compile(rf"^(?:(?P<dirname>{_DIRNAME}){SEPARATOR_IN_NAME})?(?P<name>{_NAME})$")
# the same semver without named groups, to embed in the tag pattern (one match per tag)
_SEMVER_PLAIN = re.sub(r"\?P<\w+>", "?:", _SEMVER)
_TAG_RE = re.compile(
    rf"^(?P<artifact>(?:(?P<dir>{_DIRNAME}){SEPARATOR_IN_TAG})?{_NAME})"
    rf"(?:(?:#(?P<stage>{_NAME})|@(?P<version>v{_SEMVER_PLAIN}))(?P<cancel>!?)"
    r"|@(?P<special>deprecated|created))"
    r"(?:#(?P<counter>[1-9][0-9]*|0))?$"
)
_REF_RE = re.compile(
    rf"^(?P<artifact>(?:{_DIRNAME}{SEPARATOR_IN_NAME})?{_NAME})"
    rf"(?:#(?P<stage>[^#@]*)|@(?P<version>[^#@]*))$"
)

NAME_RULE = (
    "names use letters, digits, '-', '_' and '/', start and end with a letter or digit "
    "(monorepo artifacts: dir/sub:name)"
)


@total_ordering
@dataclass(frozen=True)
class Version:
    """A semantic version with GTO's mandatory ``v`` prefix, ordered by semver precedence."""

    major: int
    minor: int
    patch: int
    prerelease: str = ""
    build: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``vX.Y.Z[-pre][+build]``; a RegistryError explains what is wrong."""
        match = _VERSION_RE.match(text) if isinstance(text, str) else None
        if not match:
            raise RegistryError(
                f"invalid version {text!r}",
                "write a semantic version with a 'v' prefix, e.g. v1.2.0 (no leading zeros)",
            )
        numbers = [match["major"], match["minor"], match["patch"]]
        numbers += [p for p in (match["pre"] or "").split(".") if p.isdigit()]
        if any(len(number) > MAX_NUMBER_DIGITS for number in numbers):
            raise RegistryError(
                f"invalid version {text[:40]!r}{'...' if len(text) > 40 else ''}: a number has more than "
                f"{MAX_NUMBER_DIGITS} digits",
                "write a semantic version with small numbers, e.g. v1.2.0",
            )
        return cls(
            int(match["major"]),
            int(match["minor"]),
            int(match["patch"]),
            match["pre"] or "",
            match["build"] or "",
        )

    @staticmethod
    def is_valid(text: str) -> bool:
        """Whether ``text`` is a valid ``vX.Y.Z`` version."""
        return isinstance(text, str) and bool(_VERSION_RE.match(text))

    def __str__(self) -> str:
        text = f"v{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.build:
            text += f"+{self.build}"
        return text

    def _key(self) -> tuple[object, ...]:
        # semver precedence: a release ranks above its pre-releases; numeric identifiers rank below
        # alphanumeric ones. Build metadata does not affect precedence; it only breaks ties so
        # that sorting is deterministic.
        pre: tuple[object, ...] = (1,)
        if self.prerelease:
            pre = (0, *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease.split(".")))
        return (self.major, self.minor, self.patch, pre, self.build)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def bump(self, part: str) -> Version:
        """The next version: ``part`` is major, minor or patch."""
        if part == "major":
            return Version(self.major + 1, 0, 0)
        if part == "minor":
            return Version(self.major, self.minor + 1, 0)
        if part == "patch":
            if self.prerelease:  # v1.0.0-rc.1 -> v1.0.0, as semver bumps do
                return Version(self.major, self.minor, self.patch)
            return Version(self.major, self.minor, self.patch + 1)
        raise RegistryError(f"unknown version part {part!r}", "bump one of: major, minor, patch")


FIRST_VERSION = Version(0, 1, 0)


@lru_cache(maxsize=65536)
def version_key(text: str) -> Version:
    """Sort key of a version string (invalid strings sort lowest, e.g. unregistered commits)."""
    try:
        return Version.parse(text)
    except RegistryError:
        return Version(-1, -1, -1)


def is_valid_name(name: str) -> bool:
    """Whether ``name`` is a valid artifact name (optionally ``dir/sub:name``)."""
    if not isinstance(name, str):
        return False
    match = _FULLNAME_RE.match(name)
    if not match or "//" in match["name"]:
        return False
    dirname = match["dirname"]
    if dirname is None:
        return True
    parts = dirname.split("/")
    # the dirname is a folder of the repository and part of a git ref name: no traversal,
    # no empty or hidden segments, nothing git refuses in a ref.
    return all(p and p not in (".", "..") and not p.startswith(".") and not p.endswith(".lock")
               and not p.endswith(".") for p in parts) and ".." not in dirname


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid artifact name; raise RegistryError otherwise."""
    if not is_valid_name(name):
        raise RegistryError(f"invalid artifact name {name!r}", NAME_RULE)
    return name


def is_valid_stage(stage: str) -> bool:
    """Whether ``stage`` is a valid stage name (GTO's name rule)."""
    return isinstance(stage, str) and bool(_NAME_RE.match(stage)) and "//" not in stage


def check_stage(stage: str, allowed: tuple[str, ...] | list[str] | None = None) -> str:
    """Return ``stage`` if it is valid (and among ``allowed`` when given); raise otherwise."""
    if not is_valid_stage(stage):
        raise RegistryError(f"invalid stage name {stage!r}", NAME_RULE.replace("names", "stage names"))
    if allowed is not None and stage not in allowed:
        raise RegistryError(
            f"unknown stage {stage!r}",
            f"stages are: {', '.join(allowed)} (set registry.stages in conf/registry/)",
        )
    return stage


def name_to_tag(name: str) -> str:
    """The tag form of an artifact name (``dir/sub:name`` -> ``dir/sub=name``)."""
    return name.replace(SEPARATOR_IN_NAME, SEPARATOR_IN_TAG)


def tag_to_name(text: str) -> str:
    """The artifact name of its tag form (``dir/sub=name`` -> ``dir/sub:name``)."""
    return text.replace(SEPARATOR_IN_TAG, SEPARATOR_IN_NAME)


def split_name(name: str) -> tuple[str, str]:
    """``dir/sub:name`` -> (``dir/sub``, ``name``); a plain name -> ("", name)."""
    if SEPARATOR_IN_NAME in name:
        dirname, short = name.rsplit(SEPARATOR_IN_NAME, 1)
        return dirname, short
    return "", name


class TagName(NamedTuple):
    """A parsed registry tag name (a named tuple: thousands are built per read)."""

    kind: str
    name: str
    version: str | None = None
    stage: str | None = None
    counter: int | None = None


def format_tag(tag: TagName) -> str:
    """The git tag name of ``tag``; raises RegistryError for inconsistent or invalid parts."""
    check_name(tag.name)
    base = name_to_tag(tag.name)
    if tag.kind in (REGISTER, DEREGISTER):
        if tag.version is None or tag.stage is not None:
            raise RegistryError(f"a {tag.kind} tag needs a version and no stage")
        text = f"{base}@{Version.parse(tag.version)}" + ("!" if tag.kind == DEREGISTER else "")
        if str(Version.parse(tag.version)) != tag.version:
            raise RegistryError(f"invalid version {tag.version!r}")
    elif tag.kind in (ASSIGN, UNASSIGN):
        if tag.stage is None or tag.version is not None:
            raise RegistryError(f"an {tag.kind} tag needs a stage and no version")
        check_stage(tag.stage)
        text = f"{base}#{tag.stage}" + ("!" if tag.kind == UNASSIGN else "")
    elif tag.kind in (DEPRECATE, CREATE):
        if tag.stage is not None or tag.version is not None:
            raise RegistryError(f"a {tag.kind} tag has no version and no stage")
        text = f"{base}@{'deprecated' if tag.kind == DEPRECATE else 'created'}"
    else:
        raise RegistryError(f"unknown registry event {tag.kind!r}", f"events are: {', '.join(KINDS)}")
    if tag.counter is not None:
        if not isinstance(tag.counter, int) or tag.counter < 0:
            raise RegistryError(f"invalid event counter {tag.counter!r}", "counters are integers >= 0")
        text += f"#{tag.counter}"
    return text


def parse_tag(text: str) -> TagName | None:
    """The registry event a tag name encodes, or None when it is not a registry tag."""
    if not isinstance(text, str):
        return None
    if text.startswith("refs/tags/"):
        text = text[len("refs/tags/"):]
    match = _TAG_RE.match(text)
    if not match:
        return None
    name = match["artifact"]
    # the pattern already checked the name's characters; folders need the segment rules too
    if match["dir"] is not None:
        name = tag_to_name(name)
        if not is_valid_name(name):
            return None
    elif "//" in name:
        return None
    if match["counter"] is not None and len(match["counter"]) > MAX_NUMBER_DIGITS:
        return None
    counter = int(match["counter"]) if match["counter"] is not None else None
    cancel = match["cancel"] == "!"
    if match["version"] is not None:
        if not _small_numbers(match["version"]):
            return None
        return TagName(DEREGISTER if cancel else REGISTER, name, match["version"], None, counter)
    if match["stage"] is not None:
        if "//" in match["stage"]:
            return None
        return TagName(UNASSIGN if cancel else ASSIGN, name, None, match["stage"], counter)
    kind = DEPRECATE if match["special"] == "deprecated" else CREATE
    return TagName(kind, name, counter=counter)


def _small_numbers(version: str) -> bool:
    try:
        Version.parse(version)
    except RegistryError:
        return False
    return True


LATEST = "latest"
GREATEST = "greatest"


@dataclass(frozen=True)
class Ref:
    """A reference to one version: ``NAME@vX.Y.Z``, ``NAME@latest``, ``NAME@greatest``, ``NAME#STAGE``."""

    name: str
    version: str | None = None  # vX.Y.Z, "latest" or "greatest"
    stage: str | None = None

    def __str__(self) -> str:
        return f"{self.name}#{self.stage}" if self.stage else f"{self.name}@{self.version}"


REF_HINT = "write NAME@vX.Y.Z, NAME@latest, NAME@greatest or NAME#STAGE (e.g. model#prod)"


def parse_ref(text: str) -> Ref:
    """Parse a version reference; RegistryError says which part is wrong."""
    match = _REF_RE.match(text) if isinstance(text, str) else None
    if not match:
        raise RegistryError(f"cannot read reference {text!r}", REF_HINT)
    name = check_name(match["artifact"])
    if match["stage"] is not None:
        return Ref(name, stage=check_stage(match["stage"]))
    version = match["version"]
    if version in (LATEST, GREATEST):
        return Ref(name, version=version)
    Version.parse(version)
    return Ref(name, version=version)
