"""Data ingestion: track files and folders with DVC, push and pull them to the remote.

Every check happens before anything is changed, so a refused `add` leaves the repo as it was.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitmlops.adapters.git_repo import GitRepo, open_repo
from gitmlops.errors import DataError, NotADvcRepoError


@dataclass
class AddResult:
    """Paths tracked, the .dvc files written, constraint checks run and profiles filed."""

    paths: list[str]
    dvc_files: list[str]
    checks: list[Any] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)


TABULAR = (".csv", ".parquet", ".pq")


def _is_tabular(path: Path) -> bool:
    if path.is_file():
        return path.suffix.lower() in TABULAR
    return path.is_dir() and any(p.suffix.lower() in TABULAR for p in path.rglob("*") if p.is_file())


def _failures(outcome: Any) -> str:
    failed = [r for r in getattr(outcome, "results", []) if not r.passed]
    return "; ".join(f"{r.column}: {r.constraint} (expected {r.expected}, found {r.observed})" for r in failed)


@dataclass
class TrackedData:
    """One DVC-tracked file or folder and its state."""

    path: str
    dvcfile: str
    md5: str | None
    size: int | None
    nfiles: int | None
    state: str  # "unchanged", "modified", "missing", "not in cache"
    in_remote: bool


@dataclass
class DataStatus:
    """The state of all data tracked with .dvc files."""

    remote: str | None
    tracked: list[TrackedData]

    @property
    def clean(self) -> bool:
        """True when everything is committed and pushed."""
        return all(t.state == "unchanged" and t.in_remote for t in self.tracked)


def _dvc(git: GitRepo) -> Any:
    from gitmlops.adapters.dvc_repo import DvcRepo, is_dvc_repo

    if not is_dvc_repo(git.root):
        raise NotADvcRepoError(str(git.root))
    return DvcRepo(git.root)


def _constraints(git: GitRepo) -> dict[str, Any]:
    params = git.root / "params.yaml"
    if not params.is_file():
        return {}
    from gitmlops.config import load_params

    return (load_params(git.root).get("data") or {}).get("constraints") or {}


def add(
    repo: str | os.PathLike[str] | GitRepo, paths: list[str], check: bool = True, profile: bool = True
) -> AddResult:
    """Track ``paths`` (absolute, or relative to the repo root) with DVC and stage the .dvc files.

    With ``check`` and constraints configured under ``data.constraints``, data that fails them is
    refused (see :mod:`gitmlops.monitor`). With ``profile``, tabular data (CSV/Parquet) is profiled
    into ``monitoring/<name>/`` and the profile staged in git, so every data set added has a profile.
    """
    git = open_repo(repo)
    if not paths:
        raise DataError("no path given", "name the files or folders to track")
    dvc = _dvc(git)
    rels: list[str] = []
    for raw in paths:
        full = Path(raw) if Path(raw).is_absolute() else git.root / raw
        rel = git.relpath(full)
        if not full.exists():
            raise DataError(f"{raw} does not exist", "check the path (relative to the repository root)")
        if not full.resolve().is_relative_to(git.root.resolve()):
            raise DataError(
                f"{raw} is a symbolic link to {full.resolve()}, outside the repository",
                "copy the data into the repository (DVC would track, and pull into, the link's target)",
            )
        if rel in ("", ".") or rel.split("/")[0] in (".git", ".dvc"):
            raise DataError(f"{raw} cannot be tracked", "name a data file or folder inside the repository")
        if git.is_tracked(rel):
            raise DataError(
                f"{rel} is already tracked by git",
                f"stop tracking it in git first: `git rm -r --cached {rel}` and commit, then add it again",
            )
        rels.append(rel)
    with dvc:
        outs = dvc.outs_of_stages()
        for rel in rels:
            for out, stage in outs.items():
                if rel == out or rel.startswith(out + "/") or out.startswith(rel + "/"):
                    raise DataError(
                        f"{rel} is an output of pipeline stage {stage!r}",
                        "DVC already versions stage outputs through dvc.lock; no need to add them",
                    )
        checks: list[Any] = []
        constraints = _constraints(git) if check else {}
        if constraints:
            from gitmlops.monitor import check as check_constraints

            for rel in rels:
                outcome = check_constraints(git, rel, constraints)
                checks.append(outcome)
                if not outcome.passed:
                    raise DataError(
                        f"{rel} fails the data constraints: {_failures(outcome)}",
                        "fix the data or conf/data/ constraints, or pass --no-check to track it anyway",
                    )
        written: list[str] = []
        try:
            if profile:
                from gitmlops.monitor import profile as profile_data

                for rel in rels:
                    if _is_tabular(git.root / rel):
                        result = profile_data(git, rel)
                        written += [p for f in result.profiles for p in (f.path, f.summary)]
            dvc_files = dvc.add(rels)
        except BaseException:
            for rel in written:  # nothing half-done: drop the profiles of data that was not added
                (git.root / rel).unlink(missing_ok=True)
            raise
    to_stage = list(dvc_files) + written
    for rel in rels:
        ignore = str(Path(rel).parent / ".gitignore") if Path(rel).parent != Path(".") else ".gitignore"
        to_stage.append(ignore)
    git.add(to_stage)
    return AddResult(paths=rels, dvc_files=dvc_files, checks=checks, profiles=written)


def status(repo: str | os.PathLike[str] | GitRepo = ".", remote: bool = True) -> DataStatus:
    """Tracked data, whether it changed in the work tree and whether the remote has it."""
    git = open_repo(repo)
    with _dvc(git) as dvc:
        tracked = dvc.tracked_files()
        raw = dvc.data_status(not_in_remote=remote) if tracked else {}
        default = dvc.config_get("core", "remote")

    def _keys(section: str) -> set[str]:
        value = raw.get(section) or {}
        if isinstance(value, dict):
            return {k for v in value.values() for k in (v if isinstance(v, list) else [v])}
        return set(value)

    uncommitted = raw.get("uncommitted") or {}
    modified = set(uncommitted.get("modified", [])) | set(uncommitted.get("added", []))
    missing = set(uncommitted.get("deleted", [])) | set(uncommitted.get("unknown", []))
    not_in_cache = set(raw.get("not_in_cache") or [])
    not_in_remote = set(raw.get("not_in_remote") or [])

    def _matches(names: set[str], path: str) -> bool:
        return any(n.rstrip("/") == path or n.startswith(path.rstrip("/") + "/") for n in names)

    items = []
    for t in tracked:
        path = t["path"]
        if _matches(missing, path) or not (git.root / path).exists():
            state = "missing"
        elif _matches(modified, path):
            state = "modified"
        elif _matches(not_in_cache, path):
            state = "not in cache"
        else:
            state = "unchanged"
        items.append(
            TrackedData(
                path=path,
                dvcfile=t["dvcfile"],
                md5=t["md5"],
                size=t["size"],
                nfiles=t["nfiles"],
                state=state,
                in_remote=remote and not _matches(not_in_remote, path),
            )
        )
    return DataStatus(remote=default, tracked=items)


@dataclass
class Transfer:
    """What `data push` / `data pull` moved: data files and their bytes, DVC's object count (files
    plus folder manifests), the remote used, and (pull) the work-tree paths checked out."""

    remote: dict[str, str | None]
    files: int
    bytes: int
    objects: int
    paths: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    created_remote: str | None = None  # the local default remote created by this push


def push(repo: str | os.PathLike[str] | GitRepo = ".", targets: list[str] | None = None,
         jobs: int | None = None, bars: bool = False) -> Transfer:
    """Push tracked data and pipeline outputs to the default remote; what was sent.

    A clone without any remote gets the local default first (in ``.dvc/config.local``). ``bars``
    lets DVC draw its transfer progress bars on a terminal's stderr (the CLI's choice).
    """
    from gitmlops.remote import ensure_default

    git = open_repo(repo)
    with _dvc(git) as dvc:
        created = ensure_default(dvc)
        stats = dvc.push(targets or [], jobs=jobs, bars=bars)
    return Transfer(created_remote=created, **stats)


def pull(repo: str | os.PathLike[str] | GitRepo = ".", targets: list[str] | None = None,
         jobs: int | None = None, bars: bool = False) -> Transfer:
    """Pull tracked data and pipeline outputs from the default remote into the work tree.

    Without targets, outputs of stages that never ran (nothing recorded in dvc.lock) are skipped.
    RemoteError (exit 3) names every output the work tree needs that could not be fetched. ``bars``:
    as for :func:`push`.
    """
    git = open_repo(repo)
    with _dvc(git) as dvc:
        stats = dvc.pull(targets or [], jobs=jobs, allow_missing=not targets, bars=bars)
    return Transfer(**stats)
