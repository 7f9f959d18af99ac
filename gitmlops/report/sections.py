"""The report sections that call other pillars: drift (gitmlops.monitor) and registry events.

Each returns a :class:`Section`; when its pillar is missing or its inputs are not there, the section
says so (``available`` False and a ``reason``) instead of failing the whole report.
"""

from __future__ import annotations

import posixpath
from typing import Any

from gitmlops.adapters import dvc_repo
from gitmlops.adapters.git_repo import GitRepo, changed_since, commits_between, tags_merged
from gitmlops.errors import GitMLOpsError
from gitmlops.report.model import LOCK_FILE, DataChange, Section

DEFAULT_REFERENCE = "models/reference_profile.bin"
SEVERITY = {"no_drift": 0, "possible_drift": 1, "drift": 2}


def _paths(params: dict[str, Any]) -> dict[str, Any]:
    paths = params.get("paths")
    return paths if isinstance(paths, dict) else {}


def _monitor_api() -> tuple[Any, Any, Any] | str:
    """(diff, render_markdown, profile_data) of gitmlops.monitor, or why they are unavailable."""
    try:
        from gitmlops.monitor import diff, profile_data, render_markdown
    except ImportError as exc:
        return f"the monitoring module cannot be used here ({exc})"
    return diff, render_markdown, profile_data


def _under(path: str, folder: str) -> bool:
    folder = folder.rstrip("/")
    return path == folder or path.startswith(folder + "/") or folder.startswith(path.rstrip("/") + "/")


def _in(folder: str, path: str) -> str:
    """``path`` of the project in ``folder`` ("" for the root), relative to the repository root."""
    return posixpath.normpath(posixpath.join(folder, path)) if folder and path else path


def _targets(git: GitRepo, base_sha: str, params_now: dict[str, Any], data: list[DataChange],
             folder: str = "") -> list[tuple[str, str]]:
    """What to compare with the reference: (kind, path) for changed training data and new profiles
    (paths from the repository root; ``folder`` is the project's, "" for the root)."""
    targets: list[tuple[str, str]] = []
    data_path = _in(folder, str((params_now.get("data") or {}).get("path") or ""))
    if data_path and any(c.kind in ("data", "input") and c.status != "removed" and _under(c.path, data_path)
                         for c in data) and (git.root / data_path).exists():
        targets.append(("data", data_path))
    profiles_dir = _in(folder, str((params_now.get("monitor") or {}).get("profiles_dir") or "monitoring"))
    for path in changed_since(git, base_sha, [profiles_dir]):
        if path.endswith(".bin") and (git.root / path).is_file():
            targets.append(("profile", path))
    return targets


def drift_section(git: GitRepo, base_sha: str, params_base: dict[str, Any], params_now: dict[str, Any],
                  data: list[DataChange], folder: str = "") -> Section:
    """Drift of the new data (changed training data, new profiles) against the base's reference profile,
    for the project in ``folder`` (a model's folder of gitmlops.yaml; "" for the root)."""
    api = _monitor_api()
    if isinstance(api, str):
        return Section(False, api)
    diff, render_markdown, profile_data = api
    targets = _targets(git, base_sha, params_now, data, folder)
    if not targets:
        return Section(True, "no new data since the base: the training data and the profiles are unchanged")
    own = str(_paths(params_base).get("reference_profile") or _paths(params_now).get("reference_profile")
              or DEFAULT_REFERENCE)
    reference = _in(folder, own)
    lock = dvc_repo.parse_lock(git.file_at(base_sha, _in(folder, LOCK_FILE)))
    if not any(out["path"] == own for stage in lock.values() for out in stage["outs"]):
        return Section(False, f"the base {base_sha[:12]} has no reference profile ({reference} is not an output "
                              "in its dvc.lock): run the pipeline on the base branch first")
    from gitmlops.monitor import sketches
    from gitmlops.monitor.compare import project_drift
    from gitmlops.monitor.settings import monitor_settings

    try:
        settings = monitor_settings(params_now)
        with dvc_repo.DvcRepo(git.root) as dvc:
            ref_bytes = dvc.read_bytes_at(reference, base_sha)
        ref_view = sketches.view_from_bytes(ref_bytes, f"{reference} at {base_sha[:12]}")
        items, parts = [], []
        for kind, path in targets:
            if kind == "data":
                profiled = profile_data(git.root / path, chunk_size=settings.chunk_size, jobs=settings.jobs)
                view, rows = profiled.views[""], profiled.rows
                for change in data:
                    if _under(change.path, path) and change.kind in ("data", "input"):
                        change.rows = rows
            else:
                view, rows = sketches.read_view(git.root / path), None
            drift, optional = project_drift(params_now)
            result = diff(ref_view, view, drift, reference_label=f"{reference} at {base_sha[:12]}",
                          target_label=path, optional=optional)
            items.append({
                "target": path,
                "kind": kind,
                "verdict": result.verdict,
                "compared": result.compared,
                "drifted": result.drifted,
                "possible": result.possible,
                "rows": rows,
                "columns": [{"column": c.column, "category": c.category, "rule": c.rule, "effect": c.effect}
                            for c in result.columns if c.category != "no_drift"],
                "effects": _effects(result.columns),
                "threshold": _shared_threshold(drift),
            })
            parts.append(render_markdown(result))
    except GitMLOpsError as exc:
        return Section(False, f"drift could not be computed: {exc.message}")
    verdict = max((i["verdict"] for i in items), key=lambda v: SEVERITY.get(v, 0))
    return Section(True, None, items, "\n\n".join(parts), verdict)


def merge_drift(parts: list[tuple[str, Section]]) -> Section:
    """One Drift section from each model's (several models): items of all, the worst verdict; a
    model whose drift could not be computed says why in the reason."""
    items = [i | {"model": name} for name, part in parts for i in part.items]
    markdown = "\n\n".join(f"**{name}**\n\n{part.markdown}" for name, part in parts if part.markdown)
    reasons = [f"{name}: {part.reason}" for name, part in parts if part.reason and not part.items]
    if not items:
        return Section(all(p.available for _, p in parts) if parts else True,
                       "; ".join(reasons) or "no model's data changed since the base")
    verdict = max((i["verdict"] for i in items), key=lambda v: SEVERITY.get(v, 0))
    return Section(True, "; ".join(reasons) or None, items, markdown or None, verdict)


def _effects(columns: list[Any], limit: int = 12) -> list[dict[str, Any]]:
    """The columns that moved most (by effect size, drifted or not), for the drift chart."""
    moved = [c for c in columns if c.effect is not None]
    moved.sort(key=lambda c: (-c.effect, c.column))
    return [{"column": c.column, "effect_size": c.effect_size, "effect": c.effect, "category": c.category}
            for c in moved[:limit]]


def _shared_threshold(drift: Any) -> float | None:
    """The drift threshold of the effect sizes when numeric and categorical columns share one."""
    numeric, categorical = drift.wasserstein.drift, drift.jensen_shannon.drift
    return float(numeric) if numeric == categorical else None


def registry_section(git: GitRepo, base_sha: str) -> Section:
    """The registry events the pull request added: tags on its own commits (reachable from HEAD, not
    from the base). Tags on the base's history, or on commits the default branch gained since, are
    not the pull request's, however recently they were created.

    ``base_versions`` are the versions the base already had: per artifact,
    the greatest version registered on a commit of the base's history and not deregistered.
    """
    try:
        from gitmlops.registry.events import read_events
        from gitmlops.registry.state import order
        from gitmlops.registry.tags import DEREGISTER, REGISTER, version_key
    except ImportError as exc:
        return Section(False, f"the registry module cannot be used here ({exc})")
    own = commits_between(git, base_sha) if git.head_commit() else set()
    try:
        every = read_events(git)
    except GitMLOpsError as exc:
        return Section(False, f"registry events could not be read: {exc.message}")
    # A stage tag names no version: it is the version registered at the same commit (GTO's rule).
    registered = {(e.name, e.commit): e.version for e in every if e.kind == REGISTER}
    events = [e for e in order(every) if e.commit in own]
    keys = ("event", "name", "version", "stage", "tag", "commit", "created_at", "author")
    items = []
    for event in events:
        item = {k: event.to_dict()[k] for k in keys}
        item["version"] = item["version"] or registered.get((event.name, event.commit))
        items.append(item)
    merged = tags_merged(git, base_sha)
    gone = {(e.name, e.version) for e in every if e.kind == DEREGISTER}
    best: dict[str, Any] = {}
    for e in every:
        if e.kind == REGISTER and e.tag in merged and (e.name, e.version) not in gone and e.version and (
                e.name not in best or version_key(e.version) > version_key(best[e.name].version)):
            best[e.name] = e
    base_versions = [{"name": e.name, "version": e.version, "commit": e.commit, "tag": e.tag}
                     for _, e in sorted(best.items())]
    return Section(True, None if items else "no registry events on the pull request's commits", items,
                   base_versions=base_versions)
