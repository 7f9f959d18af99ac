"""The Monitoring data of the site: per dataset, the drift verdict of every committed profile.

Each profile committed under ``<profiles_dir>/<DATASET>/`` is compared with the project's reference
profile (``paths.reference_profile``, as ``gitmlops status`` does) and its HTML drift report (the
one ``gitmlops monitor diff --format html`` writes) is written next to the pages. Verdicts and
reports are remembered by a hash of both profiles and the drift settings, so a rebuild compares
only new profiles; the comparisons of a first build run in parallel processes.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitmlops.adapters.git_repo import GitRepo, files_at
from gitmlops.errors import GitMLOpsError
from gitmlops.site.addresses import drift_report

#: Comparisons below this count run in this process (starting workers costs more than they save).
PARALLEL_FROM = 16


@dataclass
class Comparison:
    """One profile to compare: where it is, where its report goes, and the cache key."""

    dataset: str
    profile: str  # relative to the repository root
    stamp: str
    digest: str | None  # None: no reference profile to compare with
    report: str  # the report's path inside the site folder


def _settings(root: Path) -> dict[str, Any]:
    from gitmlops.monitor.settings import project_config

    try:
        return project_config(root)
    except GitMLOpsError:
        return project_config(None)


def _reference(root: Path, config: dict[str, Any]) -> Path:
    paths = config.get("paths") if isinstance(config.get("paths"), dict) else {}
    return root / str((paths or {}).get("reference_profile") or "models/reference_profile.bin")


def _compare(root: str, reference: str, target: str, config: dict[str, Any], title: str) -> dict[str, Any]:
    """Verdict and HTML report of one profile (runs in a worker process for a first build); the
    report names both profiles by their paths in the repository, not on the building machine."""
    from gitmlops.monitor import diff, render_html
    from gitmlops.monitor.compare import project_drift

    try:
        drift, optional = project_drift(config)
        report = diff(str(Path(root) / reference), str(Path(root) / target), drift, optional=optional,
                      reference_label=reference, target_label=target)
    except GitMLOpsError as exc:
        return {"verdict": None, "note": exc.message, "html": None}
    return {"verdict": report.verdict, "drifted": report.drifted, "compared": report.compared,
            "possible": report.possible, "drift_share": round(report.drift_share, 4), "note": None,
            "html": render_html(report, title=title)}


def _rows(path: Path) -> int | None:
    try:
        rows = json.loads(path.with_suffix(".json").read_text())["profile"]["rows"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return rows if isinstance(rows, int) else None


@dataclass
class Project:
    """One model folder's monitoring settings (the repository root, or ``models/NAME/`` and the like)."""

    base: str  # relative to the repository root; "" for the root
    config: dict[str, Any]
    profiles_dir: str  # relative to the repository root
    reference: Path
    ref_bytes: bytes | None
    key: bytes  # what the verdict depends on besides the target: reference bytes and drift settings


def _project(root: Path, base: str) -> Project:
    folder = root / base if base else root
    config = _settings(folder)
    monitor = config.get("monitor") if isinstance(config.get("monitor"), dict) else {}
    profiles_dir = str((monitor or {}).get("profiles_dir") or "monitoring").strip("/")
    reference = _reference(folder, config)
    ref_bytes = reference.read_bytes() if reference.is_file() else None
    data_conf = config.get("data") if isinstance(config.get("data"), dict) else {}
    settings = json.dumps([(monitor or {}).get("drift"), (data_conf or {}).get("drop_columns"),
                           (data_conf or {}).get("target")], sort_keys=True, default=str).encode()
    key = (hashlib.sha256(ref_bytes).digest() if ref_bytes is not None else b"") + settings
    return Project(base, config, f"{base}/{profiles_dir}" if base else profiles_dir, reference, ref_bytes, key)


def monitoring(git: GitRepo, out: Path, cache: dict[str, Any], bases: list[str] | None = None,
               jobs: int | None = None) -> dict[str, Any]:
    """Datasets with one point per committed profile, for the root and each model folder of
    ``bases``: ``{reference, profiles_dir, datasets: [{name, base, reference, profiles}]}``.

    ``cache`` maps a digest to its verdict; reports missing from ``out`` are written again.
    """
    from gitmlops.models import is_multi
    from gitmlops.monitor.layout import STAMP_RE

    root = git.root
    # the root is a project unless gitmlops.yaml lists the models and none of them lives there
    root_is_project = not is_multi(git) or (root / "params.yaml").is_file()
    projects = [_project(root, b) for b in dict.fromkeys(["", *(bases or [])])
                if (not b and root_is_project) or (b and (root / b / "params.yaml").is_file())]
    committed = files_at(git, "HEAD", ".bin") if git.head_commit() else []
    todo: list[tuple[Project, Comparison]] = []
    for project in projects:
        depth = len(project.profiles_dir.split("/")) + 2
        for rel in committed:
            parts = rel.split("/")
            if not rel.startswith(project.profiles_dir + "/") or len(parts) != depth:
                continue  # reference profiles and segment folders are not a dataset's time series
            if not STAMP_RE.match(Path(rel).stem) or not (root / rel).is_file():
                continue
            dataset, stamp = parts[-2], Path(rel).stem
            digest = None
            if project.ref_bytes is not None:
                body = hashlib.sha256((root / rel).read_bytes()).digest()
                digest = hashlib.sha256(project.key + body).hexdigest()
            todo.append((project, Comparison(dataset, rel, stamp, digest, drift_report(dataset, stamp, project.base))))

    fresh = [(p, c) for p, c in todo if c.digest is not None
             and (c.digest not in cache or (cache[c.digest].get("verdict") and not (out / c.report).is_file()))]
    args = [(str(root), p.reference.relative_to(root).as_posix(), c.profile, p.config,
             f"Data drift: {c.dataset} {c.stamp}") for p, c in fresh]
    workers = jobs if jobs is not None else min(2, os.cpu_count() or 1)
    if len(args) >= PARALLEL_FROM and workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_compare, *zip(*args, strict=True), chunksize=8))
    else:
        results = [_compare(*a) for a in args]
    for (_, item), result in zip(fresh, results, strict=True):
        html = result.pop("html")
        if html is not None:
            target = out / item.report
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(html, encoding="utf-8")
        cache[item.digest] = result  # type: ignore[index]

    datasets: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for project, item in todo:
        found = cache.get(item.digest or "", {}) if item.digest else {}
        note = found.get("note") if found else (
            f"no reference profile at {project.reference.relative_to(root).as_posix()} (`gitmlops data pull`)")
        datasets.setdefault((project.base, item.dataset), []).append({
            "profile": item.profile, "stamp": item.stamp, "rows": _rows(root / item.profile),
            "verdict": found.get("verdict"), "drifted": found.get("drifted"), "compared": found.get("compared"),
            "drift_share": found.get("drift_share"), "note": note,
            "report": item.report if found.get("verdict") else None,
        })
    references = {p.base: p.reference.relative_to(root).as_posix() if p.ref_bytes is not None else None
                  for p in projects}
    return {
        "reference": references.get(""),
        "profiles_dir": projects[0].profiles_dir if projects else None,
        "datasets": [{"name": name, "base": base, "reference": references[base],
                      "profiles": sorted(rows, key=lambda r: r["stamp"])}
                     for (base, name), rows in sorted(datasets.items())],
    }
