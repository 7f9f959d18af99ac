"""`monitor diff`: resolve reference and target, compare them, decide whether to fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitmlops.errors import UsageError
from gitmlops.monitor.drift import DriftReport, diff
from gitmlops.monitor.resolve import default_reference, resolve_profile
from gitmlops.monitor.settings import monitor_settings, project_config
from gitmlops.monitor.settings import root_of as _root_of


def compare(repo: Any, target: str | None, reference: str | None = None) -> DriftReport:
    """Drift of ``target`` against ``reference`` (default: the training data's reference profile).

    Both may be a .bin profile, a data file or folder, a dataset name, or (reference) ``model#stage``.
    Thresholds come from the `monitor` config group of the project.
    """
    root = _root_of(repo)
    if not target:
        raise UsageError("no --target given", "pass --target PROFILE.bin, DATA.csv or a dataset name")
    config = project_config(root)
    settings = monitor_settings(config)
    base = _base(repo)
    if reference:
        ref = resolve_profile(root, reference, settings, "reference", base)
    else:  # the configured reference is a path from the project root
        ref = resolve_profile(root, default_reference(root, config), settings, "reference")
    tgt = resolve_profile(root, target, settings, "target", base)
    drift, optional = project_drift(config)
    return diff(ref.view, tgt.view, drift, reference_label=ref.label, target_label=tgt.label, optional=optional)


def _base(repo: Any) -> Path:
    """Where relative paths the user gives start: the folder ``repo`` names (``-C``)."""
    from gitmlops.adapters.git_repo import user_path

    return user_path(repo, ".")


def project_drift(config: dict[str, Any]) -> tuple[Any, tuple[str, ...]]:
    """(drift thresholds, optional columns) for a project's composed config: the `monitor` group,
    with ``data.drop_columns`` skipped and the label (``data.target``) optional in the target.
    Every caller that compares a project's data uses this, so all report the same verdict."""
    drift = with_dropped_columns_skipped(monitor_settings(config).drift, config)
    label = (config.get("data") or {}).get("target")
    return drift, ((str(label),) if label else ())


def with_dropped_columns_skipped(drift: Any, config: dict[str, Any]) -> Any:
    """Columns the model never sees (``data.drop_columns``: ids and the like) are not compared."""
    import dataclasses

    from gitmlops.monitor.settings import ColumnOverride

    dropped = [str(c) for c in (config.get("data") or {}).get("drop_columns") or []]
    if not dropped:
        return drift
    columns = dict(drift.columns)
    for name in dropped:
        columns.setdefault(name, ColumnOverride(skip=True))
    return dataclasses.replace(drift, columns=columns)


def show(repo: Any, spec: str) -> dict[str, Any]:
    """The summary of one profile (a .bin, a dataset's latest, or data profiled on the fly)."""
    from gitmlops.monitor.summary import summarize

    root = _root_of(repo)
    config = project_config(root)
    found = resolve_profile(root, spec, monitor_settings(config), "profile", _base(repo))
    summary = summarize(found.view, {"source": found.label})
    return summary
