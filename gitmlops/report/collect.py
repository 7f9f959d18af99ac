"""Gather what a pull request changes: params, metrics and DVC-tracked data, base vs the work tree.

Files at the base come from git (:meth:`GitRepo.file_at`); DVC files are read as data through the DVC
adapter's parsers. The drift and registry sections call their pillars (see :mod:`.sections`); the
dataclasses live in :mod:`.model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitmlops.adapters import dvc_repo
from gitmlops.adapters.git_repo import (
    GitRepo,
    changed_since,
    default_branch_ref,
    files_at,
    merge_base,
    open_repo,
)
from gitmlops.config import flatten
from gitmlops.errors import UsageError
from gitmlops.report import links, sections
from gitmlops.report.diffs import _json, _read, _yaml, diff_metrics, diff_params
from gitmlops.report.model import (
    DEFAULT_METRICS,
    LOCK_FILE,
    PARAMS_FILE,
    DataChange,
    DataKind,
    DataStatus,
    MetricChange,
    ParamChange,
    Report,
    Section,
)
from gitmlops.report.models import model_locks, model_reports
from gitmlops.report.settings import load_settings

__all__ = [  # the report's dataclasses are importable from here too, as before
    "DataChange",
    "MetricChange",
    "ParamChange",
    "Report",
    "Section",
    "collect",
    "diff_data",
    "diff_metrics",
    "diff_params",
    "flatten",
    "resolve_base",
]

# -- the base -----------------------------------------------------------------------------------


def resolve_base(git: GitRepo, base: str | None) -> tuple[str, str]:
    """(name, sha) of the base: ``base`` if given, else the merge-base with the default branch."""
    if base:
        return base, git.resolve_commit(base)
    ref = default_branch_ref(git)
    if ref is None:
        raise UsageError(
            "cannot find the default branch to compare with (no origin/HEAD, main or master)",
            "pass --base REV (in a workflow: --base origin/${{ github.base_ref }} after a full fetch)",
        )
    sha = merge_base(git, ref)
    if sha is None:
        raise UsageError(
            f"HEAD shares no history with {ref}",
            "fetch the full history (actions/checkout with fetch-depth: 0) or pass --base REV",
        )
    return f"merge-base({ref})", sha


# -- data ---------------------------------------------------------------------------------------


def _tracked(git: GitRepo, rev: str | None) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(data from .dvc files, stage inputs, stage outputs) at ``rev`` (None: the work tree)."""
    def read(rel: str) -> str | None:
        return _read(git.root, rel) if rev is None else git.file_at(rev, rel)

    if rev is None:
        dvcfiles = sorted(p.relative_to(git.root).as_posix() for p in git.root.rglob("*.dvc")
                          if ".dvc" not in p.relative_to(git.root).parts[:-1] and p.is_file())
    else:
        dvcfiles = files_at(git, rev, ".dvc")
    data: dict[str, dict[str, Any]] = {}
    for dvcfile in dvcfiles:
        for entry in dvc_repo.parse_dvcfile(read(dvcfile), dvcfile):
            data[entry["path"]] = entry
    lock = dvc_repo.parse_lock(read(LOCK_FILE))

    lock.update(model_locks(git, read))  # the dvc.lock of every model's folder, paths from the root
    outs = {e["path"]: e for stage in lock.values() for e in stage["outs"]}
    inputs = {e["path"]: e for stage in lock.values() for e in stage["deps"]
              if e["path"] not in outs and e["path"] not in data}
    return data, inputs, outs


def diff_data(git: GitRepo, base_sha: str) -> list[DataChange]:
    """DVC-tracked data, stage inputs and stage outputs whose hash differs between base and now."""
    before, after = _tracked(git, base_sha), _tracked(git, None)
    changes = []
    kinds: tuple[DataKind, ...] = ("data", "input", "output")
    for kind, old, new in zip(kinds, before, after, strict=True):
        for path in sorted(set(old) | set(new)):
            a, b = old.get(path), new.get(path)
            if a and b and a["md5"] == b["md5"]:
                continue
            status: DataStatus = "added" if a is None else "removed" if b is None else "modified"
            a, b = a or {}, b or {}
            changes.append(DataChange(
                path=path, kind=kind, status=status,
                base_md5=a.get("md5"), current_md5=b.get("md5"),
                base_size=a.get("size"), current_size=b.get("size"),
                base_files=a.get("nfiles"), current_files=b.get("nfiles"),
            ))
    return changes


# -- the whole report ---------------------------------------------------------------------------


def _models_drift(git: GitRepo, base_sha: str, models: list[Any], data: list[DataChange],
                  site_url: str | None) -> Section:
    """Several models: the drift of each touched model's new data against its own reference profile,
    each profile linked to its report under the model's folder on the site."""
    parts = []
    for model in models:
        params_now = _yaml(_read(git.root, f"{model.dir}/{PARAMS_FILE}"))
        params_base = _yaml(git.file_at(base_sha, f"{model.dir}/{PARAMS_FILE}"))
        part = sections.drift_section(git, base_sha, params_base, params_now, data, folder=model.dir)
        profiles_dir = str((params_now.get("monitor") or {}).get("profiles_dir") or "monitoring")
        links.attach(part.items, [], [], site_url, profiles_dir, base=model.dir)
        parts.append((model.name, part))
    return sections.merge_drift(parts)


def collect(repo: str | Path | GitRepo = ".", base: str | None = None, drift: bool = True,
            site_url: str | None = None) -> Report:
    """Build the report of the work tree against ``base`` (default: merge-base with the default branch);
    ``site_url`` overrides the ``report.site_url`` setting."""
    git = open_repo(repo)
    settings = load_settings(git.root, site_url)
    base_rev, base_sha = resolve_base(git, base)
    params_now = _yaml(_read(git.root, PARAMS_FILE))
    params_base = _yaml(git.file_at(base_sha, PARAMS_FILE))
    metrics_path = str((params_now.get("paths") or {}).get("metrics")
                       or (params_base.get("paths") or {}).get("metrics") or DEFAULT_METRICS)
    metrics = diff_metrics(_json(git.file_at(base_sha, metrics_path)), _json(_read(git.root, metrics_path)), settings)
    data = diff_data(git, base_sha)

    models = model_reports(git, base_sha, data, site_url)
    registry = sections.registry_section(git, base_sha)
    profiles_dir = str((params_now.get("monitor") or {}).get("profiles_dir") or "monitoring")
    if not drift:
        drift_section = Section(False, "skipped (--no-drift)")
    elif models and not (git.root / PARAMS_FILE).is_file():
        drift_section = _models_drift(git, base_sha, models, data, settings.site_url)
    else:
        drift_section = sections.drift_section(git, base_sha, params_base, params_now, data)
        links.attach(drift_section.items, [], [], settings.site_url, profiles_dir)
    links.attach([], registry.items, registry.base_versions, settings.site_url, profiles_dir)
    return Report(
        base_rev=base_rev,
        base_sha=base_sha,
        head_sha=git.head_commit(),
        dirty=bool(changed_since(git, "HEAD")) if git.head_commit() else True,
        params=diff_params(params_base, params_now),
        metrics=metrics,
        metrics_path=metrics_path,
        data=data,
        drift=drift_section,
        registry=registry,
        settings=settings,
        models=models,
    )
