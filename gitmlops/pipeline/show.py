"""`gitmlops pipeline show`: the stages of dvc.yaml, their deps and outs, and which are stale."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from gitmlops.adapters.git_repo import GitRepo, open_repo
from gitmlops.errors import NotADvcRepoError, PipelineError


@dataclass
class StageView:
    """One stage as DVC sees it."""

    name: str
    cmd: str
    deps: list[str]
    outs: list[str]
    params: list[str]
    metrics: list[str]
    plots: list[str]
    stale: bool
    changes: list[str] = field(default_factory=list)


@dataclass
class PipelineView:
    """All stages plus whether the generated files match conf/."""

    stages: list[StageView]
    in_sync: bool
    stale_files: list[str]


def _paths(items: Any) -> list[str]:
    result = []
    for item in items or []:
        result.extend([item] if isinstance(item, str) else list(item))
    return result


def _describe(change: Any) -> list[str]:
    if isinstance(change, str):
        return [change]
    if isinstance(change, dict):
        out: list[str] = []
        for key, value in change.items():
            if isinstance(value, dict):
                out.extend(f"{key}: {k} {v}" for k, v in value.items())
            else:
                out.append(f"{key}: {value}")
        return out
    return [str(change)]


def show(repo: str | os.PathLike[str] | GitRepo = ".") -> PipelineView:
    """Describe the pipeline; stale stages come from DVC's own status."""
    import yaml

    from gitmlops.adapters.dvc_repo import DvcRepo, is_dvc_repo
    from gitmlops.models import project_root
    from gitmlops.pipeline.sync import sync

    git = open_repo(repo)
    if not is_dvc_repo(git.root):
        raise NotADvcRepoError(str(git.root))
    root = project_root(git)
    dvcfile = (root / "dvc.yaml").relative_to(git.root).as_posix()
    dvc_path = root / "dvc.yaml"
    if not dvc_path.is_file():
        raise PipelineError("dvc.yaml does not exist", "run `gitmlops pipeline sync` to generate it")
    stale_files = sync(git, check=True).stale
    doc = yaml.safe_load(dvc_path.read_text()) or {}
    with DvcRepo(git.root) as dvc:
        status = dvc.status()
    stages = []
    for name, spec in (doc.get("stages") or {}).items():
        changes = (status.get(name) if dvcfile == "dvc.yaml" else None) or status.get(f"{dvcfile}:{name}") or []
        described = [text for change in changes for text in _describe(change)]
        stages.append(
            StageView(
                name=name,
                cmd=spec.get("cmd", ""),
                deps=_paths(spec.get("deps")),
                outs=_paths(spec.get("outs")),
                params=[p if isinstance(p, str) else str(p) for p in spec.get("params") or []],
                metrics=_paths(spec.get("metrics")),
                plots=_paths(spec.get("plots")),
                stale=bool(changes),
                changes=described,
            )
        )
    return PipelineView(stages=stages, in_sync=not stale_files, stale_files=stale_files)
