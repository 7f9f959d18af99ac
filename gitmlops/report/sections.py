"""The report sections that call other pillars: drift (gitmlops.monitor) and registry events.

Each returns a :class:`Section`; when its pillar is missing or its inputs are not there, the section
says so (``available`` False and a ``reason``) instead of failing the whole report.
"""

from __future__ import annotations

from typing import Any

from gitmlops.adapters import dvc_repo
from gitmlops.adapters.git_repo import GitRepo, changed_since, commit_timestamp
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


def _targets(git: GitRepo, base_sha: str, params_now: dict[str, Any], data: list[DataChange]) -> list[tuple[str, str]]:
    """What to compare with the reference: (kind, path) for changed training data and new profiles."""
    targets: list[tuple[str, str]] = []
    data_path = str((params_now.get("data") or {}).get("path") or "")
    if data_path and any(c.kind in ("data", "input") and c.status != "removed" and _under(c.path, data_path)
                         for c in data) and (git.root / data_path).exists():
        targets.append(("data", data_path))
    profiles_dir = str((params_now.get("monitor") or {}).get("profiles_dir") or "monitoring")
    for path in changed_since(git, base_sha, [profiles_dir]):
        if path.endswith(".bin") and (git.root / path).is_file():
            targets.append(("profile", path))
    return targets


def drift_section(git: GitRepo, base_sha: str, params_base: dict[str, Any], params_now: dict[str, Any],
                  data: list[DataChange]) -> Section:
    """Drift of the new data (changed training data, new profiles) against the base's reference profile."""
    api = _monitor_api()
    if isinstance(api, str):
        return Section(False, api)
    diff, render_markdown, profile_data = api
    targets = _targets(git, base_sha, params_now, data)
    if not targets:
        return Section(True, "no new data since the base: the training data and the profiles are unchanged")
    reference = str(_paths(params_base).get("reference_profile") or _paths(params_now).get("reference_profile")
                     or DEFAULT_REFERENCE)
    lock = dvc_repo.parse_lock(git.file_at(base_sha, LOCK_FILE))
    if not any(out["path"] == reference for stage in lock.values() for out in stage["outs"]):
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
            })
            parts.append(render_markdown(result))
    except GitMLOpsError as exc:
        return Section(False, f"drift could not be computed: {exc.message}")
    verdict = max((i["verdict"] for i in items), key=lambda v: SEVERITY.get(v, 0))
    return Section(True, None, items, "\n\n".join(parts), verdict)


def registry_section(git: GitRepo, base_sha: str) -> Section:
    """Registry events (git tags) created since the base commit."""
    try:
        from gitmlops.registry.events import read_events
        from gitmlops.registry.state import order
    except ImportError as exc:
        return Section(False, f"the registry module cannot be used here ({exc})")
    since = commit_timestamp(git, base_sha)
    try:
        events = [e for e in order(read_events(git)) if e.timestamp > since]
    except GitMLOpsError as exc:
        return Section(False, f"registry events could not be read: {exc.message}")
    keys = ("event", "name", "version", "stage", "tag", "commit", "created_at", "author")
    return Section(True, None if events else "no registry events since the base",
                   [{k: e.to_dict()[k] for k in keys} for e in events])

