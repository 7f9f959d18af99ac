"""Gather what a pull request changes: params, metrics and DVC-tracked data, base vs the work tree.

Files at the base come from git (:meth:`GitRepo.file_at`); DVC files are read as data through the DVC
adapter's parsers. The drift and registry sections call their pillars (see :mod:`.sections`); the
dataclasses live in :mod:`.model`.
"""

from __future__ import annotations

import json
import math
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
from gitmlops.report import sections
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


# -- params and metrics -------------------------------------------------------------------------


def _yaml(text: str | None) -> dict[str, Any]:
    import yaml

    try:
        doc = yaml.safe_load(text or "")
    except yaml.YAMLError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _json(text: str | None) -> dict[str, Any]:
    try:
        doc = json.loads(text or "{}")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _read(root: Path, relpath: str) -> str | None:
    path = root / relpath
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None


def diff_params(base: dict[str, Any], current: dict[str, Any]) -> list[ParamChange]:
    """Changed keys between two params mappings, sorted by key."""
    old, new = flatten(base), flatten(current)
    changes = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            changes.append(ParamChange(key, "added", None, new[key]))
        elif key not in new:
            changes.append(ParamChange(key, "removed", old[key], None))
        elif old[key] != new[key]:
            changes.append(ParamChange(key, "changed", old[key], new[key]))
    return changes


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def diff_metrics(base: dict[str, Any], current: dict[str, Any]) -> list[MetricChange]:
    """Every metric of either side with its delta and relative change."""
    old, new = flatten(base), flatten(current)
    rows = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        na, nb = _number(a), _number(b)
        # 12 significant digits drop float noise (0.8413 - 0.8512 = -0.009999999999999898).
        delta = float(f"{nb - na:.12g}") if na is not None and nb is not None else None
        relative = float(f"{delta / abs(na):.12g}") if delta is not None and na else None
        rows.append(MetricChange(key, a, b, delta, relative, a != b))
    return rows


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


def collect(repo: str | Path | GitRepo = ".", base: str | None = None, drift: bool = True) -> Report:
    """Build the report of the work tree against ``base`` (default: merge-base with the default branch)."""
    git = open_repo(repo)
    base_rev, base_sha = resolve_base(git, base)
    params_now = _yaml(_read(git.root, PARAMS_FILE))
    params_base = _yaml(git.file_at(base_sha, PARAMS_FILE))
    metrics_path = str((params_now.get("paths") or {}).get("metrics")
                       or (params_base.get("paths") or {}).get("metrics") or DEFAULT_METRICS)
    metrics = diff_metrics(_json(git.file_at(base_sha, metrics_path)), _json(_read(git.root, metrics_path)))
    data = diff_data(git, base_sha)
    drift_section = (sections.drift_section(git, base_sha, params_base, params_now, data) if drift
                     else Section(False, "skipped (--no-drift)"))
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
        registry=sections.registry_section(git, base_sha),
    )
