"""Writing the registry: register, promote, deprecate (create annotated tags, optionally push them).

Pushing is atomic and safe under concurrency. Each write fetches the remote's tags first, computes
its tag from that state, creates it locally and pushes it with ``git push --atomic``. Events with a
counter (stage assignments) also move ``refs/gitmlops/counters/<artifact>`` on the remote with a
compare-and-swap lease (``--force-with-lease``), so two clones that computed the same counter cannot
both win, even when they assign different stages (whose tag names differ). The loser deletes its
local tag, refetches, recomputes and retries a bounded number of times, then fails clearly. Any
failure removes the local tag: nothing is left behind locally or remotely. Within one clone, a
counter value is claimed by creating ``refs/gitmlops/claims/<artifact>/<N>`` (git refuses to
create an existing ref), so concurrent commands without ``--push`` never share a counter either.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitmlops.adapters.git_repo import GitRepo, open_repo
from gitmlops.errors import ExternalError, PushRejected, RegistryError, UsageError
from gitmlops.registry.api import Repo, find_artifact
from gitmlops.registry.events import Event, event_from_record, read_events
from gitmlops.registry.messages import compose_message, gto_wording
from gitmlops.registry.settings import registry_settings
from gitmlops.registry.state import ArtifactState, VersionState, build
from gitmlops.registry.tags import (
    ASSIGN,
    DEPRECATE,
    DEREGISTER,
    FIRST_VERSION,
    GREATEST,
    LATEST,
    REGISTER,
    UNASSIGN,
    TagName,
    Version,
    check_name,
    check_stage,
    format_tag,
    name_to_tag,
    split_name,
)

COUNTER_REFS = "refs/gitmlops/counters"
CLAIM_REFS = "refs/gitmlops/claims"  # local only: which command of this clone took a counter value
FETCH_REFSPECS = ("refs/tags/*:refs/tags/*", f"+{COUNTER_REFS}/*:{COUNTER_REFS}/*")
DEFAULT_ATTEMPTS = 12
BUMPS = ("major", "minor", "patch")


@dataclass
class TagWritten:
    """A registry tag that was created (and pushed, when asked)."""

    event: Event
    pushed: bool
    remote: str | None
    attempts: int

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of write commands (docs/registry.md)."""
        return {**self.event.to_dict(), "pushed": self.pushed, "remote": self.remote, "attempts": self.attempts}


@dataclass
class _Plan:
    tag: TagName
    commit: str
    message: str
    version: str | None = None  # the version a stage event is about (its tag does not say)


def counter_ref(name: str) -> str:
    """The remote ref serialising counter values of artifact ``name`` ('/' escaped so that
    artifacts ``a`` and ``a/b`` do not collide as ref folders)."""
    return f"{COUNTER_REFS}/{name_to_tag(name).replace('/', '%2F')}"


def _write(
    git: GitRepo,
    name: str,
    plan: Callable[[ArtifactState | None], _Plan],
    push: bool,
    remote: str,
    attempts: int,
) -> TagWritten:
    """Plan a tag from the current state, create it, and push it (retrying when the remote moved on)."""
    if push and git.remote_url(remote) is None:
        raise UsageError(f"no git remote named {remote!r}", "add it with `git remote add NAME URL` or pass --remote")
    finished: list[str] = []
    for attempt in range(1, max(1, attempts) + 1):
        if push:
            git.fetch_refs(remote, FETCH_REFSPECS)
            if attempt == 1:
                finished = _finish_pending_push(git, name, remote)
        artifacts = build(read_events(git))
        try:
            step = plan(artifacts.get(name))
        except RegistryError:
            state = artifacts.get(name)
            done = [e for e in (state.events if state else []) if e.tag in finished]
            if done:  # the rerun of an interrupted push: finishing it was all there was to do
                return TagWritten(done[-1], True, remote, attempt)
            raise
        tag = format_tag(step.tag)
        if git.ref_value(f"refs/tags/{tag}") is not None:
            if attempt < attempts:  # a racing command of this clone wrote it after we read: plan again
                time.sleep(random.uniform(0.01, 0.05))
                continue
            raise RegistryError(f"tag {tag!r} already exists", "`gitmlops registry history` shows the events")
        try:
            obj = git.create_tag(tag, step.commit, step.message)
        except ExternalError:
            if git.ref_value(f"refs/tags/{tag}") is None:
                raise
            continue  # a racing command of this clone created the same tag: plan again
        if step.tag.counter is not None and not _claim_counter(git, name, step.tag.counter, obj):
            git.delete_tag(tag)  # another command in this clone took the counter first: plan again
            time.sleep(random.uniform(0.01, 0.05))
            continue
        try:
            if push:
                refspecs = [f"refs/tags/{tag}:refs/tags/{tag}"]
                leases: dict[str, str | None] = {}
                if step.tag.counter is not None:
                    ref = counter_ref(name)
                    leases[ref] = git.ref_value(ref)
                    refspecs.append(f"{obj}:{ref}")
                git.push_atomic(remote, refspecs, leases)
                for ref in leases:
                    git.set_ref(ref, obj)
        except PushRejected as exc:
            _drop_tag(git, name, tag, step.tag.counter, obj)
            if attempt >= attempts:
                raise ExternalError(
                    f"gave up after {attempt} attempts: {exc.message}",
                    "others keep writing registry tags to the remote; retry in a moment",
                ) from exc
            # Randomised, growing back-off so racing clones do not collide again in lock-step.
            time.sleep(random.uniform(0.02, 0.1) * attempt)
            continue
        except BaseException:
            _drop_tag(git, name, tag, step.tag.counter, obj)
            raise
        records = git.annotated_tags(with_messages=True, patterns=(f"refs/tags/{tag}",))
        event = event_from_record(records[0])
        if event is None:  # format_tag and parse_tag are inverse; this cannot happen for our tags
            raise RegistryError(f"created tag {tag!r} does not parse back")
        if step.version is not None:
            event = dataclasses.replace(event, version=step.version)
        return TagWritten(event, push, remote if push else None, attempt)
    raise ExternalError(
        f"gave up after {max(1, attempts)} attempts: other commands in this clone keep taking the counter",
        "retry in a moment",
    )


def _claim_ref(name: str, counter: int) -> str:
    return f"{CLAIM_REFS}/{name_to_tag(name).replace('/', '%2F')}/{counter}"


def _claim_counter(git: GitRepo, name: str, counter: int, obj: str) -> bool:
    """Take counter value ``counter`` of ``name`` in this clone for tag object ``obj``.

    Two commands in one clone that planned the same counter (for different stages, so different
    tag names) cannot both create the claim ref: git creates a ref that must not exist under its
    ref lock. A claim whose tag is gone (a failed push deleted it) is stale and taken over.
    """
    ref = _claim_ref(name, counter)
    if git.create_ref(ref, obj):
        return True
    held = git.ref_value(ref)
    if held is not None and held not in git.tag_targets():
        git.delete_ref(ref, held)
        return git.create_ref(ref, obj)
    return False


def _drop_tag(git: GitRepo, name: str, tag: str, counter: int | None, obj: str) -> None:
    git.delete_tag(tag)
    if counter is not None:
        git.delete_ref(_claim_ref(name, counter), obj)


def _finish_pending_push(git: GitRepo, name: str, remote: str) -> list[str]:
    """Push this artifact's registry tags that exist here but not on ``remote`` (a push that was
    killed after the tag was created); returns their names. A pending counter value the remote
    already holds (another clone wrote meanwhile) is refused with the tags to delete; otherwise the
    counter ref moves with them under the same lease as a normal push."""
    on_remote = git.remote_tag_names(remote)
    events = [e for e in read_events(git) if e.name == name]
    pending = sorted((e for e in events if e.tag not in on_remote), key=lambda e: (e.counter or 0, e.timestamp))
    if not pending:
        return []
    refspecs = [f"refs/tags/{e.tag}:refs/tags/{e.tag}" for e in pending]
    leases: dict[str, str | None] = {}
    counted = [e for e in pending if e.counter is not None]
    tags = ", ".join(e.tag for e in pending)
    # The fetch just moved the local counter ref to the remote's, so the lease alone would let a
    # pending tag through whose counter another clone took meanwhile: compare the values themselves.
    taken = max((e.counter for e in events if e.tag in on_remote and e.counter is not None), default=0)
    if any(e.counter <= taken for e in counted if e.counter is not None):
        raise ExternalError(
            f"registry tag(s) {tags} exist only in this clone and {remote!r} already has counter {taken}"
            f" of {name!r}",
            f"another clone wrote to the registry meanwhile; remove them with `git tag -d {pending[0].tag}` "
            "(each one) and run the command again",
        )
    if counted:
        ref = counter_ref(name)
        leases[ref] = git.ref_value(ref)
        top = git.ref_value(f"refs/tags/{counted[-1].tag}")
        refspecs.append(f"{top}:{ref}")
    try:
        git.push_atomic(remote, refspecs, leases)
    except PushRejected as exc:
        raise ExternalError(
            f"registry tag(s) {tags} exist only in this clone and {remote!r} refused them: {exc.message}",
            f"another clone wrote to the registry meanwhile; remove them with `git tag -d {pending[0].tag}` "
            "(each one) and run the command again",
        ) from exc
    for ref in leases:
        git.set_ref(ref, refspecs[-1].split(":", 1)[0])
    return [e.tag for e in pending]


def _active_version(artifact: ArtifactState, text: str) -> VersionState:
    if text in (LATEST, GREATEST):
        found = artifact.latest if text == LATEST else artifact.greatest
        if found is None:
            raise RegistryError(f"artifact {artifact.name!r} has no active version", "register one first")
        return found
    version = str(Version.parse(text))
    found = artifact.versions.get(version)
    if found is None or not found.registered:
        active = sorted((v.version for v in artifact.versions.values() if v.active), reverse=True)
        raise RegistryError(
            f"version {version} of {artifact.name!r} is not registered (active: {', '.join(active) or 'none'})",
            f"register it first: `gitmlops registry register {artifact.name} --version {version}`",
        )
    if found.deregistered:
        raise RegistryError(f"version {version} of {artifact.name!r} was deregistered", "pick an active version")
    return found


# -- register -------------------------------------------------------------------------------------
def register(
    repo: Repo,
    name: str,
    ref: str | None = None,
    version: str | None = None,
    bump: str | None = None,
    message: str | None = None,
    force: bool = False,
    push: bool = False,
    remote: str = "origin",
    attempts: int = DEFAULT_ATTEMPTS,
) -> TagWritten:
    """Register a version of artifact ``name`` at commit ``ref`` (tag ``NAME@vX.Y.Z``).

    The artifact must be declared in dvc.yaml at that commit, committed (md5 in dvc.lock or a .dvc
    file) and present in the DVC remote. The first version is v0.1.0; later ones bump the patch
    (or ``bump``) of the greatest version ever registered. A given ``version`` must be new and (unless
    ``force``) greater than every registered one. One version per commit per artifact. A pipeline
    output is refused when the commit's dvc.lock disagrees with its dvc.yaml or params.yaml or is
    stale (see :func:`gitmlops.pipeline.consistency.lock_problems`); ``force`` registers it anyway and
    records the problems in the tag (``forced``).
    """
    from gitmlops.registry.artifacts import artifact_at, lineage_metadata

    check_name(name)
    if version is not None and bump is not None:
        raise UsageError("give either --version or --bump, not both")
    if bump is not None and bump not in BUMPS:
        raise UsageError(f"unknown bump {bump!r}", f"bump one of: {', '.join(BUMPS)}")
    wanted = Version.parse(version) if version is not None else None
    git = open_repo(repo)
    explicit = ref is not None
    ref = ref or "HEAD"
    commit = git.resolve_commit(ref)
    artifact = artifact_at(git, commit, name)
    if not artifact.md5:
        raise RegistryError(
            f"artifact {name!r} ({artifact.path}) is not committed at {ref} ({commit[:8]}): no md5 for it in "
            "dvc.lock or a .dvc file",
            f"produce and commit it first: `gitmlops run` (or `gitmlops data add {artifact.path}`), then "
            "`git commit` dvc.lock / the .dvc file",
        )
    if not explicit and commit == git.head_commit():
        # Without --ref the user means "what I have"; with it, the commit as it was committed.
        watched = [p for p in (artifact.source, "dvc.yaml", "params.yaml") if p]
        dirty = git.dirty_paths(watched)
        if dirty:
            raise RegistryError(
                f"uncommitted changes in {', '.join(sorted(dirty))}: the tag would point at a commit without them",
                "commit them first, or pass --ref HEAD (or another REV) to register the commit as it was committed",
            )
    from gitmlops.adapters.dvc_repo import DvcRepo, missing_in_remote

    with DvcRepo(git.root) as dvc:
        if missing_in_remote(dvc, [(artifact.md5, artifact.hash)]):
            raise RegistryError(
                f"artifact {artifact.path} (md5 {artifact.md5}) at {commit[:8]} is not in the DVC remote",
                "push it first: `gitmlops data push` (or `dvc push`)",
            )
    metadata = lineage_metadata(git, artifact)
    if artifact.source and artifact.source.endswith("dvc.lock"):
        from gitmlops.pipeline.consistency import lock_problems

        problems = lock_problems(git, commit, split_name(name)[0])
        if problems and not force:
            raise RegistryError(
                f"the pipeline at {commit[:8]} does not match what produced {artifact.path}: " + "; ".join(problems),
                "rerun it and commit the result (`gitmlops run`, then `git commit`), or pass --force to register "
                "anyway (the tag records why)",
            )
        if problems:
            metadata["forced"] = problems

    def plan(state: ArtifactState | None) -> _Plan:
        if state is not None:
            existing = state.version_at(commit)
            if existing is not None:
                what = "is registered" if existing.active else "was registered and deregistered"
                raise RegistryError(
                    f"commit {commit[:8]} {what} as {name}@{existing.version} already (one version per commit)",
                    "promote that version, or commit a new model and register that commit",
                )
        greatest = state.greatest_ever if state else None
        if wanted is not None:
            chosen = wanted
            if state is not None and str(chosen) in state.versions and state.versions[str(chosen)].registered:
                raise RegistryError(f"version {chosen} of {name!r} exists already", "pick a new version or --bump")
            if greatest is not None and not chosen > greatest and not force:
                raise RegistryError(
                    f"version {chosen} is not greater than {greatest}, the greatest version of {name!r}",
                    "pick a greater version, or pass --force to register it anyway",
                )
        elif greatest is None:
            chosen = Version(0, 0, 0).bump(bump) if bump else FIRST_VERSION
        else:
            chosen = greatest.bump(bump or "patch")
        text = str(chosen)
        return _Plan(
            TagName(REGISTER, name, version=text),
            commit,
            compose_message(
                gto_wording(REGISTER, name, version=text),
                message,
                {**metadata, "counter_at": state.counter if state else 0},
            ),
        )

    return _write(git, name, plan, push, remote, attempts)


# -- promote --------------------------------------------------------------------------------------
def promote(
    repo: Repo,
    name: str,
    version: str,
    stage: str,
    message: str | None = None,
    force: bool = False,
    push: bool = False,
    remote: str = "origin",
    attempts: int = DEFAULT_ATTEMPTS,
) -> TagWritten:
    """Assign ``stage`` to ``version`` (vX.Y.Z, latest or greatest): tag ``NAME#STAGE#N``."""
    check_name(name)
    git = open_repo(repo)
    check_stage(stage, registry_settings(git.root / split_name(name)[0]).stages)  # a model's own settings
    if version not in (LATEST, GREATEST):
        Version.parse(version)

    def plan(state: ArtifactState | None) -> _Plan:
        artifact = find_artifact({name: state} if state else {}, name)
        if artifact.deprecated:
            raise RegistryError(f"artifact {name!r} is deprecated", "register a new version to revive it")
        found = _active_version(artifact, version)
        if artifact.stages.get(stage) == found.version and not force:
            raise RegistryError(
                f"{name}@{found.version} is already the version in stage {stage!r}",
                "nothing to do (pass --force to record the assignment again)",
            )
        counter = artifact.counter + 1
        return _Plan(
            TagName(ASSIGN, name, stage=stage, counter=counter),
            found.commit,
            compose_message(
                gto_wording(ASSIGN, name, version=found.version, stage=stage),
                message,
                {"version": found.version, "stage": stage, "counter": counter},
            ),
            found.version,
        )

    return _write(git, name, plan, push, remote, attempts)


# -- deprecate ------------------------------------------------------------------------------------
def deprecate(
    repo: Repo,
    name: str,
    version: str | None = None,
    stage: str | None = None,
    message: str | None = None,
    push: bool = False,
    remote: str = "origin",
    attempts: int = DEFAULT_ATTEMPTS,
) -> TagWritten:
    """Retire something: with ``stage``, unassign it (``NAME#STAGE!#N``; from ``version``, default the
    stage's current version); with only ``version``, deregister it (``NAME@vX.Y.Z!``); with
    neither, deprecate the whole artifact (``NAME@deprecated``)."""
    check_name(name)
    git = open_repo(repo)
    if stage is not None:
        check_stage(stage)
    if version is not None and version not in (LATEST, GREATEST):
        Version.parse(version)

    def plan(state: ArtifactState | None) -> _Plan:
        artifact = find_artifact({name: state} if state else {}, name)
        if stage is not None:
            holders = artifact.assigned.get(stage, [])
            chosen = version or artifact.stages.get(stage)
            if chosen in (LATEST, GREATEST):
                chosen = _active_version(artifact, chosen).version
            if chosen is None or chosen not in holders:
                raise RegistryError(
                    f"stage {stage!r} of {name!r} is not assigned to {chosen or 'any version'} "
                    f"(assigned now: {', '.join(holders) or 'none'})",
                    f"`gitmlops registry show {name}` lists the stages",
                )
            found = artifact.versions[chosen]
            counter = artifact.counter + 1
            return _Plan(
                TagName(UNASSIGN, name, stage=stage, counter=counter),
                found.commit,
                compose_message(
                    gto_wording(UNASSIGN, name, version=chosen, stage=stage),
                    message,
                    {"version": chosen, "stage": stage, "counter": counter},
                ),
                chosen,
            )
        if version is not None:
            found = _active_version(artifact, version)
            return _Plan(
                TagName(DEREGISTER, name, version=found.version),
                found.commit,
                compose_message(
                    gto_wording(DEREGISTER, name, version=found.version),
                    message,
                    {"version": found.version, "counter_at": artifact.counter},
                ),
            )
        if artifact.deprecated:
            raise RegistryError(f"artifact {name!r} is deprecated already")
        latest = artifact.latest
        commit = latest.commit if latest else artifact.events[-1].commit
        # GTO writes NAME@deprecated once; a second deprecation (after a revival) needs a counter.
        taken = any(e.kind == DEPRECATE and e.counter is None for e in artifact.events)
        return _Plan(
            TagName(DEPRECATE, name, counter=artifact.counter + 1 if taken else None),
            commit,
            compose_message(gto_wording(DEPRECATE, name), message, {"counter_at": artifact.counter}),
        )

    return _write(git, name, plan, push, remote, attempts)
