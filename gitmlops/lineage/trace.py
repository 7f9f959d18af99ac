"""`gitmlops lineage REF`: the chain behind one model version.

Data inputs (paths, md5s, the commits that changed them), params (hash, and what differs from the
previous version), the code commit, metrics, the version's registry events, its reference profile, and
the newest production profile with its drift verdict against that reference. Everything but the drift
verdict is read from git objects and tag messages; the verdict reads the reference through DVC.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gitmlops.adapters.git_repo import CommitInfo, GitRepo, commit_info, commits_touching, open_repo
from gitmlops.config import flatten
from gitmlops.errors import GitMLOpsError, MonitorError, RemoteError
from gitmlops.lineage.compare import parse_lock_stages, pipeline_inputs


@dataclass
class DataInput:
    """A pipeline input of the version: its md5 and the commits (newest first) that changed it."""

    path: str
    md5: str | None
    tracked_by: str  # the .dvc file, "git", or "missing"
    commits: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ParamChange:
    """A params value that differs from the previous version's."""

    key: str
    previous: Any
    current: Any


@dataclass
class Production:
    """The newest profile under monitoring/ and its drift verdict against the version's reference."""

    dataset: str
    profile: str
    rows: int | None
    verdict: str | None  # drift | possible_drift | no_drift; None when it could not be computed
    drifted: int | None = None
    compared: int | None = None
    note: str | None = None


@dataclass
class Lineage:
    """The `gitmlops lineage --json` shape (docs/lineage.md)."""

    ref: str
    name: str
    version: str
    tag: str
    commit: str
    code: dict[str, Any]
    artifact: dict[str, Any]
    data: list[DataInput]
    params_hash: str | None
    previous_version: str | None
    params_changed: list[ParamChange]
    metrics: dict[str, Any] | None
    events: list[dict[str, Any]]
    reference_profile: dict[str, Any] | None
    production: Production | None


def _commit_dict(info: CommitInfo) -> dict[str, Any]:
    return {"commit": info.commit, "date": datetime.fromtimestamp(info.timestamp, UTC).isoformat(),
            "author": info.author, "subject": info.subject}


def _tracked_by(git: GitRepo, commit: str, path: str) -> str:
    parts = path.split("/")
    for i in range(len(parts), 0, -1):  # the data may sit inside a tracked folder
        dvcfile = "/".join(parts[:i]) + ".dvc"
        if git.exists_at(commit, dvcfile):
            return dvcfile
    return "git" if git.exists_at(commit, path) else "missing"


def _params(git: GitRepo, commit: str, path: str = "params.yaml") -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(git.file_at(commit, path) or "") or {}
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _previous(repo: GitRepo, name: str, version: str) -> Any:
    """The version registered just before ``version`` (None for the first)."""
    from gitmlops.registry import versions

    ordered = versions(repo, name)  # newest registration first
    found = next((v for v in ordered if v.version == version), None)
    older = [v for v in ordered if v.registered and found is not None and v.position < found.position]
    return older[0] if older else None


def _production(root: Path, reference: str, dataset: str | None) -> Production | None:
    """The newest profile (of ``dataset``, else of any dataset) and its drift against ``reference``."""
    import json

    from gitmlops.monitor import layout
    from gitmlops.monitor.settings import load_settings

    settings = load_settings(root)
    base = root / settings.profiles_dir
    folders = [base / dataset] if dataset else sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    newest: tuple[str, Path, str] | None = None
    for folder in folders:
        latest = layout.latest_profile(folder)
        if latest is not None:
            key = latest.stem  # UTC timestamps: they sort as text
            if newest is None or key > newest[0]:
                newest = (key, latest, folder.name)
    if newest is None:
        if dataset:
            raise MonitorError(f"dataset {dataset!r} has no profiles in {settings.profiles_dir}/",
                               f"profile production data with `gitmlops monitor profile DATA --name {dataset}`")
        return None
    _, path, name = newest
    rel = path.relative_to(root).as_posix()
    rows = None
    try:
        rows = json.loads(path.with_suffix(".json").read_text())["profile"]["rows"]
    except (OSError, ValueError, KeyError, TypeError):
        rows = None
    found = Production(dataset=name, profile=rel, rows=rows, verdict=None)
    try:
        from gitmlops.monitor import compare

        # a str, not a Path: compare() reads `.root` off objects, and Path.root is "/"
        report = compare(str(root), target=str(path), reference=reference)
    except RemoteError:
        raise  # the registered reference profile lives in the remote: its failure is the command's
    except GitMLOpsError as exc:
        found.note = f"no drift verdict: {exc.message}"
        return found
    found.verdict, found.drifted, found.compared = report.verdict, report.drifted, report.compared
    return found


def lineage(repo: str | os.PathLike[str] | GitRepo, ref: str, dataset: str | None = None,
            drift: bool = True) -> Lineage:
    """The chain behind the model version ``ref`` names (see the module docstring)."""
    from gitmlops.config import params_hash
    from gitmlops.models import expand_ref
    from gitmlops.registry import history, resolve
    from gitmlops.registry.tags import split_name

    git = open_repo(repo)
    found = resolve(git, expand_ref(git, ref))
    base = split_name(found.name)[0]  # a model's folder (monorepo artifact): its own dvc.lock, params

    def at(path: str) -> str:
        return posixpath.join(base, path) if base else path

    metadata = found.metadata or {}
    lock = parse_lock_stages(git.file_at(found.commit, at("dvc.lock")))
    recorded = metadata.get("deps")
    deps: dict[str, Any] = recorded if isinstance(recorded, dict) else {
        posixpath.normpath(at(k)): v for k, v in pipeline_inputs(lock).items()}
    data = []
    for path, md5 in sorted(deps.items()):
        tracked_by = _tracked_by(git, found.commit, path)
        watched = [tracked_by] if tracked_by.endswith(".dvc") else [path]
        commits = [_commit_dict(c) for c in commits_touching(git, found.commit, watched, max_count=10)]
        data.append(DataInput(path, md5, tracked_by, commits))

    params = _params(git, found.commit, at("params.yaml"))
    previous = _previous(git, found.name, found.version)
    changes: list[ParamChange] = []
    if previous is not None:
        before, after = flatten(_params(git, previous.commit, at("params.yaml"))), flatten(params)
        changes = [ParamChange(k, before.get(k), after.get(k)) for k in sorted(set(before) | set(after))
                   if before.get(k) != after.get(k)]

    events = [e.to_dict() for e in history(git, found.name)
              if e.version == found.version or (e.version is None and e.commit == found.commit)]
    for event in events:
        event.pop("metadata", None)  # the registration's metadata is this report; keep events short

    profile_path = metadata.get("reference_profile")
    reference = None
    if profile_path:
        in_lock = posixpath.relpath(posixpath.normpath(profile_path), base) if base else posixpath.normpath(profile_path)
        md5 = next((s.outs[in_lock] for s in lock.values() if in_lock in s.outs), None)
        reference = {"path": profile_path, "md5": md5}
    production = None
    if drift:
        reference_ref = f"{found.name}@{found.version}"
        production = _production(git.root / base if base else git.root, reference_ref, dataset)
        if production is not None and not profile_path and production.verdict is None:
            production.note = "this version has no reference profile to compare against"

    return Lineage(
        ref=ref, name=found.name, version=found.version, tag=found.tag, commit=found.commit,
        code=_commit_dict(commit_info(git, found.commit)),
        artifact={"path": found.path, "md5": found.md5},
        data=data,
        params_hash=metadata.get("params_hash") or (params_hash(params) if params else None),
        previous_version=previous.version if previous is not None else None,
        params_changed=changes,
        metrics=metadata.get("metrics") if isinstance(metadata.get("metrics"), dict) else None,
        events=events,
        reference_profile=reference,
        production=production,
    )
