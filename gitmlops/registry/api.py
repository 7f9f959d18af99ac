"""Reading the registry: show, history, resolve, get, check_ref.

Every function takes ``repo`` as a path or a :class:`~gitmlops.adapters.git_repo.GitRepo` and reads
all tags in one ``git for-each-ref`` pass. Nothing here imports DVC except :func:`get`, which fetches
bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitmlops.adapters.git_repo import GitRepo, open_repo
from gitmlops.errors import DataError, RegistryError
from gitmlops.registry.events import Event, read_events
from gitmlops.registry.settings import registry_settings
from gitmlops.registry.state import ArtifactState, VersionState, build
from gitmlops.registry.tags import GREATEST, LATEST, check_name, parse_ref, parse_tag, split_name

Repo = str | os.PathLike[str] | GitRepo


@dataclass
class Resolved:
    """One artifact version a reference points to."""

    name: str
    version: str
    tag: str  # the registration tag, NAME@vX.Y.Z
    commit: str
    path: str | None  # the artifact's path in the repository (None if the commit does not declare it)
    md5: str | None  # its DVC md5 at that commit
    stage: str | None  # the stage the reference named (NAME#STAGE), else None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Registry:
    """The registry of a repository: artifact states in name order, and the configured stages."""

    artifacts: dict[str, ArtifactState]
    stages: list[str]

    def to_dict(self) -> dict[str, Any]:
        """The `registry show --json` shape (docs/registry.md)."""
        return {"stages": self.stages, "artifacts": [_ordered(a, self.stages) for a in self.artifacts.values()]}


def _ordered(artifact: ArtifactState, stages: list[str]) -> dict[str, Any]:
    data = artifact.to_dict()
    found = data["stages"]
    data["stages"] = {s: found.get(s) for s in stages} | {s: v for s, v in found.items() if s not in stages}
    return data


def load(repo: Repo, with_messages: bool = False) -> dict[str, ArtifactState]:
    """State of every artifact in the repository (one ``git for-each-ref``)."""
    return build(read_events(open_repo(repo), with_messages=with_messages))


def find_artifact(artifacts: dict[str, ArtifactState], name: str) -> ArtifactState:
    """The artifact ``name``; RegistryError naming the known ones when it has no registry tags."""
    check_name(name)
    if name not in artifacts:
        known = ", ".join(artifacts) or "none yet"
        raise RegistryError(
            f"artifact {name!r} has no registry tags (known artifacts: {known})",
            f"register a version first: `gitmlops registry register {name}`; or `git fetch --tags`",
        )
    return artifacts[name]


def show(repo: Repo, name: str | None = None) -> Registry:
    """Per artifact: latest and greatest version, and the version in each stage (all stages
    configured, plus any others found in tags)."""
    git = open_repo(repo)
    artifacts = load(git)
    if name is not None:
        artifacts = {name: find_artifact(artifacts, name)}
    seen = [s for a in artifacts.values() for s in a.stages]
    configured: list[str] = []
    folders = {split_name(n)[0] for n in artifacts} or {""}
    for folder in sorted(folders):  # each model (folder) of a several-model repository has its own
        configured += [s for s in registry_settings(git.root / folder).stages if s not in configured]
    stages = configured + sorted(set(seen) - set(configured))
    return Registry(artifacts, stages)


def versions(repo: Repo, name: str) -> list[VersionState]:
    """Every version of ``name`` (active and deregistered), newest registration first."""
    artifact = find_artifact(load(repo, with_messages=True), name)
    return sorted(artifact.versions.values(), key=lambda v: v.position, reverse=True)


def history(repo: Repo, name: str) -> list[Event]:
    """Every event of artifact ``name`` in registry order (stage events by counter)."""
    return find_artifact(load(repo, with_messages=True), name).events


def check_ref(repo: Repo, tag: str) -> Event | None:
    """What registry event git tag ``tag`` records (for CI on tag pushes).

    None when the name is not in the registry grammar, or the tag is lightweight (GTO ignores those
    too); RegistryError when it has the grammar but no such tag exists.
    """
    name = tag[len("refs/tags/"):] if tag.startswith("refs/tags/") else tag
    parsed = parse_tag(name)
    if parsed is None:
        return None
    git = open_repo(repo)
    artifacts = load(git, with_messages=True)
    artifact = artifacts.get(parsed.name)
    for event in artifact.events if artifact else []:
        if event.tag == name:
            return event
    if git.ref_value(f"refs/tags/{name}") is not None:
        return None  # a lightweight tag: not a registry event
    raise RegistryError(f"tag {name!r} does not exist", "fetch tags first: `git fetch --tags`")


def _pick(artifact: ArtifactState, text: str) -> tuple[VersionState, str | None]:
    ref = parse_ref(text)
    if ref.stage is not None:
        if artifact.deprecated:
            raise RegistryError(f"artifact {artifact.name!r} is deprecated", "register a new version to revive it")
        version = artifact.stages.get(ref.stage)
        if version is None:
            known = ", ".join(f"{s}={v}" for s, v in artifact.stages.items() if v) or "none"
            raise RegistryError(
                f"no version of {artifact.name!r} is in stage {ref.stage!r} (stages now: {known})",
                f"promote one: `gitmlops registry promote {artifact.name} VERSION --stage {ref.stage}`",
            )
        found = artifact.versions[version]
        if not found.registered:
            raise RegistryError(
                f"stage {ref.stage!r} of {artifact.name!r} points at commit {version[:8]}, which has no "
                "registered version",
                f"register it: `gitmlops registry register {artifact.name} --ref {version[:8]}`",
            )
        return found, ref.stage
    if ref.version in (LATEST, GREATEST):
        if artifact.deprecated:
            raise RegistryError(f"artifact {artifact.name!r} is deprecated", "register a new version to revive it")
        picked = artifact.latest if ref.version == LATEST else artifact.greatest
        if picked is None:
            raise RegistryError(f"artifact {artifact.name!r} has no active version", "register one first")
        return picked, None
    named = artifact.versions.get(str(ref.version))
    if named is None or not named.registered:
        active = sorted((v.version for v in artifact.versions.values() if v.active), reverse=True)
        raise RegistryError(
            f"version {ref.version} of {artifact.name!r} is not registered (active: {', '.join(active) or 'none'})",
            f"`gitmlops registry history {artifact.name}` lists every event",
        )
    if named.deregistered:
        raise RegistryError(
            f"version {ref.version} of {artifact.name!r} was deregistered",
            "resolve another version, or register the model again under a new version",
        )
    return named, None


def resolve(repo: Repo, ref: str) -> Resolved:
    """Resolve ``NAME@vX.Y.Z``, ``NAME@latest``, ``NAME@greatest`` or ``NAME#STAGE`` to one version.

    Path, md5 and metadata come from the registration tag's gitmlops metadata; for tags without it
    (written by GTO) they are read from dvc.yaml / dvc.lock / .dvc files at the version's commit.
    """
    git = open_repo(repo)
    text = ref.strip() if isinstance(ref, str) else ref
    parsed = parse_ref(text)
    artifact = find_artifact(load(git, with_messages=True), parsed.name)
    version, stage = _pick(artifact, text)
    registration = next(e for e in artifact.events if e.tag == version.tag)
    metadata = registration.metadata or {}
    info = metadata.get("artifact") if isinstance(metadata.get("artifact"), dict) else None
    if info is None:
        from gitmlops.registry.artifacts import artifact_at, lineage_metadata

        try:
            found = artifact_at(git, version.commit, artifact.name)
        except RegistryError:
            found = None
        if found is not None:
            metadata = lineage_metadata(git, found)
            info = metadata["artifact"]
    return Resolved(
        name=artifact.name,
        version=version.version,
        tag=str(version.tag),
        commit=version.commit,
        path=info.get("path") if info else None,
        md5=info.get("md5") if info else None,
        stage=stage,
        metadata=metadata,
    )


def _md5_of(path: Path, dos2unix: bool = False) -> str:
    import hashlib

    digest = hashlib.md5(usedforsecurity=False)
    data = path.read_bytes()
    if dos2unix and b"\x00" not in data[:8000]:  # DVC 2 hashed text files with CRLF turned into LF
        data = data.replace(b"\r\n", b"\n")
    digest.update(data)
    return digest.hexdigest()


def get(repo: Repo, ref: str, output: str | os.PathLike[str] | None = None, force: bool = False) -> Path:
    """Fetch the artifact file of ``ref`` (from the DVC cache, else the DVC remote) to ``output``.

    ``output`` defaults to the file's name in the current directory. The bytes are checked against
    the registered md5 before they are moved into place; an existing different file is kept unless
    ``force``. Returns the path written.
    """
    import tempfile

    from gitmlops.adapters.dvc_repo import DvcRepo, fetch_object

    git = open_repo(repo)
    found = resolve(git, ref)
    if not found.path or not found.md5:
        raise RegistryError(
            f"{found.name}@{found.version} has no DVC-tracked file at commit {found.commit[:8]}",
            "the artifact must be declared in dvc.yaml and committed with dvc.lock or a .dvc file",
        )
    if found.md5.endswith(".dir"):
        raise RegistryError(
            f"{found.name}@{found.version} is a folder ({found.path}); `registry get` fetches files",
            f"use `dvc get {git.root} {found.path} --rev {found.commit}`",
        )
    info = found.metadata.get("artifact") or {}
    hash_name = str(info.get("hash") or "md5")
    dest = Path(output) if output is not None else Path.cwd() / Path(found.path).name
    if dest.is_dir():
        dest = dest / Path(found.path).name
    legacy = hash_name == "md5-dos2unix"
    if dest.exists() and not force:
        if dest.is_file() and _md5_of(dest, legacy) == found.md5:
            return dest
        raise RegistryError(f"{dest} already exists and differs", "pass --force to overwrite it, or -o PATH")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with DvcRepo(git.root) as dvc:
            fetch_object(dvc, found.md5, hash_name, tmp)
        actual = _md5_of(tmp, legacy)
        if actual != found.md5:
            raise DataError(
                f"{found.path} of {found.name}@{found.version} has md5 {actual}, but {found.md5} was registered",
                "the DVC cache or remote holds a corrupt copy: delete it there and push the right file "
                "again from a clone that has it (`gitmlops data push`)",
            )
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
