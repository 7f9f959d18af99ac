"""`gitmlops status`: one screen for the repository, fast.

Artifacts and stages come from one ``git for-each-ref``; staleness from reading dvc.yaml, dvc.lock,
params.yaml and .dvc files and hashing the work tree the way DVC does (md5 of files; for folders, md5
of DVC's sorted JSON listing plus ``.dir``), with hashes memoised by size and mtime in
``.dvc/tmp/``; drift verdicts are memoised by the bytes of both profiles. DVC is imported only with
``remote=True`` (is the data pushed?) and whylogs only for a profile pair never compared before.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitmlops.adapters.git_repo import GitRepo, open_repo
from gitmlops.errors import GitMLOpsError
from gitmlops.lineage.compare import StageLock, parse_lock_stages

if TYPE_CHECKING:
    from gitmlops.monitor.drift import Verdict

HASH_MEMO = Path(".dvc") / "tmp" / "gitmlops-status-hashes.json"
DRIFT_MEMO = Path(".dvc") / "tmp" / "gitmlops-status-drift.json"


@dataclass
class StageState:
    """One pipeline stage and what makes it stale (empty ``changes``: up to date)."""

    name: str
    changes: list[str] = field(default_factory=list)


@dataclass
class DataState:
    """A path tracked by a .dvc file or written by a stage: work-tree state and, when checked, remote."""

    path: str
    md5: str | None
    state: str  # unchanged | modified | missing
    in_remote: bool | None = None  # None: not checked (pass remote=True)


@dataclass
class DriftState:
    """The newest profile of one dataset and its verdict against the work tree's reference profile."""

    dataset: str
    profile: str
    rows: int | None
    verdict: Verdict | None
    note: str | None = None


@dataclass
class Status:
    """The `gitmlops status --json` shape (docs/lineage.md)."""

    artifacts: list[dict[str, Any]]
    stages: list[str]
    pipeline: dict[str, Any]
    data: list[DataState]
    pushed: bool | None
    drift: list[DriftState]
    seconds: float = 0.0
    #: In a repository of several models (gitmlops.yaml): one entry per model (see :class:`ModelState`).
    models: list[ModelState] = field(default_factory=list)


@dataclass
class ModelState:
    """One model of a several-model repository in `gitmlops status`."""

    name: str
    dir: str
    artifact: str
    latest: str | None
    stages: dict[str, str | None]  # registry stage -> version
    pipeline: dict[str, Any]  # up_to_date, stale_files, config_error, stages (as Status.pipeline)
    drift: list[DriftState]
    verify: dict[str, Any] | None  # the last `gitmlops verify` of one of its versions in this clone


class _Hasher:
    """md5s of work-tree paths as DVC computes them, memoised by (size, mtime, inode)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / HASH_MEMO
        try:
            self.memo: dict[str, list[Any]] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.memo = {}
        self.dirty = False

    def file(self, full: Path) -> str:
        st = full.stat()
        key = str(full.relative_to(self.root))
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        known = self.memo.get(key)
        if known and known[:3] == stamp:
            return str(known[3])
        digest = hashlib.md5(usedforsecurity=False)
        with full.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        self.memo[key] = [*stamp, digest.hexdigest()]
        self.dirty = True
        return digest.hexdigest()

    def md5(self, rel: str) -> str | None:
        """DVC's md5 of ``rel`` (None when it does not exist)."""
        full = self.root / rel
        if full.is_file():
            return self.file(full)
        if not full.is_dir():
            return None
        entries = []
        for dirpath, dirnames, filenames in os.walk(full):
            dirnames[:] = sorted(d for d in dirnames if d != ".dvc")
            for name in filenames:
                path = Path(dirpath) / name
                entries.append({"md5": self.file(path), "relpath": path.relative_to(full).as_posix()})
        entries.sort(key=lambda e: e["relpath"])
        return hashlib.md5(json.dumps(entries, sort_keys=True).encode(), usedforsecurity=False).hexdigest() + ".dir"

    def save(self) -> None:
        """Write the memo back (only if something was hashed and .dvc/tmp exists)."""
        if self.dirty and self.path.parent.is_dir():
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.memo))
            tmp.replace(self.path)


def _yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if path.is_file() else None
    except yaml.YAMLError:
        return None


def _param(params: dict[str, Any], key: str) -> Any:
    value: Any = params
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _settings(root: Path) -> dict[str, Any]:
    """The project's config with its settings (monitor, paths live in conf/, not params.yaml)."""
    from gitmlops.config import load_params
    from gitmlops.errors import ConfigError

    try:
        return load_params(root)
    except ConfigError:
        return _yaml(root / "params.yaml") or {}


def _stage_states(root: Path, hasher: _Hasher, base: str = "") -> tuple[list[StageState], dict[str, str | None]]:
    """Per stage of dvc.yaml, what changed since dvc.lock (DVC's `status`, read from files); ``base``:
    the project's folder (a model's) relative to the hasher's root."""
    spec = _yaml(root / "dvc.yaml") or {}
    declared = spec.get("stages") if isinstance(spec, dict) else None
    lock = parse_lock_stages((root / "dvc.lock").read_text(), base) if (root / "dvc.lock").is_file() else {}
    params = _yaml(root / "params.yaml") or {}
    outputs: dict[str, str | None] = {}
    states = []
    for name, stage in (declared or {}).items():
        found = StageState(str(name))
        states.append(found)
        recorded: StageLock | None = lock.get(str(name))
        if recorded is None:
            found.changes.append("never run (not in dvc.lock)")
            continue
        cmd = stage.get("cmd") if isinstance(stage, dict) else None
        cmd = " && ".join(map(str, cmd)) if isinstance(cmd, list) else cmd
        if cmd != recorded.cmd:
            found.changes.append("command changed")
        for key, value in recorded.params.items():
            file, _, dotted = key.partition(":")
            current = _param(_yaml(root / file) or {} if file != "params.yaml" else params, dotted)
            if current != value:
                found.changes.append(f"param {dotted} changed")
        for kind, entries in (("dep", recorded.deps), ("out", recorded.outs)):
            for path, md5 in entries.items():
                actual = hasher.md5(path)
                if kind == "out":
                    outputs[path] = md5
                if actual is None:
                    found.changes.append(f"{kind} {path} missing")
                elif actual != md5:
                    found.changes.append(f"{kind} {path} modified")
    return states, outputs


def _tracked(root: Path, git: GitRepo, hasher: _Hasher, outputs: dict[str, str | None]) -> list[DataState]:
    from gitmlops.adapters.git_repo import files_at

    found: dict[str, DataState] = {}
    for dvcfile in files_at(git, "HEAD", ".dvc") if git.head_commit() else []:
        doc = _yaml(root / dvcfile)
        for out in (doc or {}).get("outs") or []:
            if isinstance(out, dict) and isinstance(out.get("path"), str):
                rel = (Path(dvcfile).parent / out["path"]).as_posix()
                found[rel] = DataState(rel, out.get("md5"), "unchanged")
    listed = git.git("ls-files", "-z", "--", *outputs).split("\0") if outputs else []  # one git call
    in_git = {p for p in listed if p}
    for path, md5 in outputs.items():
        if not any(p == path or p.startswith(path + "/") for p in in_git):
            # metrics and plots with cache: false live in git, not the remote
            found[path] = DataState(path, md5, "unchanged")
    for item in found.values():
        actual = hasher.md5(item.path)
        item.state = "missing" if actual is None else "unchanged" if actual == item.md5 else "modified"
    return sorted(found.values(), key=lambda d: d.path)


def _drift(root: Path, memo_root: Path | None = None) -> list[DriftState]:
    """The newest profile per dataset, with a verdict against paths.reference_profile (memoised in
    ``memo_root``'s .dvc/tmp/, default ``root``'s)."""
    from gitmlops.monitor import layout

    params = _settings(root)
    raw = params.get("monitor")
    monitor: dict[str, Any] = raw if isinstance(raw, dict) else {}
    base = root / str(monitor.get("profiles_dir") or "monitoring")
    reference = root / str((params.get("paths") or {}).get("reference_profile") or "models/reference_profile.bin")
    if not base.is_dir():
        return []
    memo_path = (memo_root or root) / DRIFT_MEMO
    try:
        memo: dict[str, Any] = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    results = []
    changed = False
    ref_bytes = reference.read_bytes() if reference.is_file() else None
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        latest = layout.latest_profile(folder)
        if latest is None:
            continue
        try:
            rows = json.loads(latest.with_suffix(".json").read_text())["profile"]["rows"]
        except (OSError, ValueError, KeyError, TypeError):
            rows = None
        item = DriftState(folder.name, latest.relative_to(root).as_posix(), rows, None)
        results.append(item)
        if ref_bytes is None:
            item.note = f"no reference profile at {reference.relative_to(root)} (`gitmlops data pull`)"
            continue
        data_conf = params.get("data") or {}
        # The verdict depends on the thresholds and on which columns are skipped or optional.
        settings_key = json.dumps([monitor.get("drift"), data_conf.get("drop_columns"), data_conf.get("target")],
                                  sort_keys=True)
        digest = hashlib.sha256(ref_bytes + b"\0" + latest.read_bytes() + b"\0" + settings_key.encode()).hexdigest()
        if digest not in memo:
            from gitmlops.monitor import diff
            from gitmlops.monitor.compare import project_drift

            try:
                drift, optional = project_drift(params)
                report = diff(str(reference), str(latest), drift, optional=optional)
            except GitMLOpsError as exc:
                item.note = exc.message
                continue
            memo[digest] = report.verdict
            changed = True
        item.verdict = memo[digest]
    if changed and memo_path.parent.is_dir():
        memo_path.write_text(json.dumps(memo))
    return results


def status(repo: str | os.PathLike[str] | GitRepo = ".", remote: bool = False) -> Status:
    """Artifacts and stages, pipeline staleness, data state (and, with ``remote``, whether pushed), drift."""
    from gitmlops.registry.api import show

    started = time.perf_counter()
    git = open_repo(repo)
    root = git.root
    registry = show(git).to_dict()
    hasher = _Hasher(root)
    from gitmlops.models import current_model, list_models

    models = list_models(git)
    if models:
        chosen = current_model(git)
        return _models_status(git, [chosen] if chosen else models, registry, hasher, remote, started)
    stages, outputs = _stage_states(root, hasher) if (root / "dvc.yaml").is_file() else ([], {})
    stale_files, sync_error = _sync_check(git, root)
    data = _tracked(root, git, hasher, outputs)
    hasher.save()
    pushed = _pushed(root, data) if remote else None
    stale = [s for s in stages if s.changes]
    return Status(
        artifacts=registry["artifacts"],
        stages=registry["stages"],
        pipeline={
            "up_to_date": not stale and not stale_files and sync_error is None,
            "stale_files": stale_files,
            "config_error": sync_error,
            "stages": [{"name": s.name, "changes": s.changes} for s in stages],
        },
        data=data,
        pushed=pushed,
        drift=_drift(root),
        seconds=round(time.perf_counter() - started, 3),
    )


def _sync_check(git: GitRepo, project: Path) -> tuple[list[str], str | None]:
    """(generated files that differ from conf/, or the config error) of the project at ``project``."""
    if not (project / "conf").is_dir():
        return [], None
    from gitmlops.pipeline.sync import sync

    try:
        return sync(open_repo(project) if project != git.root else git, check=True).stale, None
    except GitMLOpsError as exc:
        return [], exc.message


def _pushed(root: Path, data: list[DataState]) -> bool | None:
    """Whether every tracked path is in the DVC remote (sets ``in_remote`` on each)."""
    if not data:
        return None
    from gitmlops.adapters.dvc_repo import DvcRepo, missing_in_remote

    with DvcRepo(root) as dvc:
        for item in data:
            if item.md5:
                item.in_remote = not missing_in_remote(dvc, [(item.md5, "md5")])
    return all(item.in_remote for item in data if item.md5)


def _models_status(git: GitRepo, models: list[Any], registry: dict[str, Any], hasher: _Hasher, remote: bool,
                   started: float) -> Status:
    """`status` of a several-model repository: one :class:`ModelState` per model, data repo-wide."""
    from gitmlops.lineage.reproduce import last_verified

    root = git.root
    artifacts = {a["name"]: a for a in registry["artifacts"]}
    verified = last_verified(root)
    states: list[ModelState] = []
    outputs: dict[str, str | None] = {}
    for model in models:
        base = "" if model.dir == "." else model.dir
        stages, outs = _stage_states(model.path, hasher, base) if (model.path / "dvc.yaml").is_file() else ([], {})
        outputs.update(outs)
        stale_files, sync_error = _sync_check(git, model.path)
        artifact = artifacts.get(model.artifact) or {}
        states.append(ModelState(
            name=model.name, dir=model.dir, artifact=model.artifact, latest=artifact.get("latest"),
            stages={stage: (artifact.get("stages") or {}).get(stage) for stage in registry["stages"]},
            pipeline={
                "up_to_date": not any(s.changes for s in stages) and not stale_files and sync_error is None
                and bool(stages),
                "stale_files": [model.rel(f) for f in stale_files],
                "config_error": sync_error,
                "stages": [{"name": s.name, "changes": s.changes} for s in stages],
            },
            drift=_drift(model.path, root),
            verify=verified.get(model.artifact),
        ))
    data = _tracked(root, git, hasher, outputs)
    hasher.save()
    return Status(
        artifacts=registry["artifacts"],
        stages=registry["stages"],
        pipeline={
            "up_to_date": all(m.pipeline["up_to_date"] for m in states),
            "stale_files": [f for m in states for f in m.pipeline["stale_files"]],
            "config_error": next((f"{m.name}: {m.pipeline['config_error']}" for m in states
                                  if m.pipeline["config_error"]), None),
            "stages": [{"name": f"{m.name}:{s['name']}", "changes": s["changes"]} for m in states
                       for s in m.pipeline["stages"]],
        },
        data=data,
        pushed=_pushed(root, data) if remote else None,
        drift=[],
        seconds=round(time.perf_counter() - started, 3),
        models=states,
    )
