"""The pull-request report of a repository of several models: one section per model the change touches.

A model is touched when a file of its folder changed since the base, or when data one of its stages
reads changed (a table shared by several models touches each of them).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from gitmlops.adapters import dvc_repo
from gitmlops.adapters.git_repo import GitRepo, changed_since
from gitmlops.report.diffs import _json, _read, _yaml, diff_metrics, diff_params
from gitmlops.report.model import (
    DEFAULT_METRICS,
    LOCK_FILE,
    PARAMS_FILE,
    DataChange,
    MetricChange,
    ParamChange,
)
from gitmlops.report.settings import ReportSettings, load_settings


@dataclass
class ModelReport:
    """The params and metrics one model's change moves (paths from the repository root)."""

    name: str
    dir: str
    artifact: str
    reasons: list[str] = field(default_factory=list)  # why the model is in the report
    params: list[ParamChange] = field(default_factory=list)
    metrics: list[MetricChange] = field(default_factory=list)
    metrics_path: str = DEFAULT_METRICS
    settings: ReportSettings = field(default_factory=ReportSettings)  # the model's own `report` group


def model_locks(git: GitRepo, read: Any) -> dict[str, dict[str, Any]]:
    """Every model's dvc.lock stages (``read``: relpath -> text), paths given from the repository root."""
    from gitmlops.models import list_models

    stages: dict[str, dict[str, Any]] = {}
    for model in list_models(git):
        if model.dir == ".":
            continue
        for name, stage in dvc_repo.parse_lock(read(model.rel(LOCK_FILE))).items():
            rebased = {key: [{**e, "path": posixpath.normpath(posixpath.join(model.dir, e["path"]))} for e in stage[key]]
                       for key in ("deps", "outs")}
            stages[f"{model.dir}:{name}"] = {**stage, **rebased}
    return stages


def model_reports(git: GitRepo, base_sha: str, data: list[DataChange], site_url: str | None = None) -> list[ModelReport]:
    """One :class:`ModelReport` per model the work tree changes against ``base_sha``, in gitmlops.yaml's
    order; each judges its metrics by its own folder's report settings (``site_url`` overrides theirs)."""
    from gitmlops.models import list_models

    changed = changed_since(git, base_sha)
    moved = {d.path for d in data}
    reports = []
    for model in list_models(git):
        inside = model.dir == "." or None
        reasons = []
        files = [p for p in changed if inside or p.startswith(model.dir + "/")]
        if files:
            reasons.append(f"{len(files)} file(s) of {model.dir}/ changed")
        lock = dvc_repo.parse_lock(_read(model.path, LOCK_FILE))
        reads = {posixpath.normpath(posixpath.join(model.dir, e["path"])) for s in lock.values() for e in s["deps"]}
        shared = sorted(p for p in moved if any(r == p or r.startswith(p.rstrip("/") + "/") for r in reads)
                        and not p.startswith(model.dir + "/"))
        if shared:
            reasons.append(f"its input {', '.join(shared)} changed")
        if not reasons:
            continue
        settings = load_settings(model.path, site_url)
        params_now = _yaml(_read(model.path, PARAMS_FILE))
        params_base = _yaml(git.file_at(base_sha, model.rel(PARAMS_FILE)))
        metrics_path = model.rel(str((params_now.get("paths") or {}).get("metrics")
                                     or (params_base.get("paths") or {}).get("metrics") or DEFAULT_METRICS))
        reports.append(ModelReport(
            name=model.name, dir=model.dir, artifact=model.artifact, reasons=reasons,
            params=diff_params(params_base, params_now),
            metrics=diff_metrics(_json(git.file_at(base_sha, metrics_path)), _json(_read(git.root, metrics_path)),
                                 settings),
            metrics_path=metrics_path, settings=settings,
        ))
    return reports
