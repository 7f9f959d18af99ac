"""`gitmlops run`: compose the config (with overrides), sync dvc.yaml, reproduce with DVC.

One run at a time per checkout (a lock taken before anything is written). On failure, Ctrl-C or
SIGTERM the generated files are put back as they were; DVC itself never caches or
records the outputs of a stage that did not finish.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitmlops.adapters.dvc_repo import ProgressCallback
from gitmlops.adapters.git_repo import GitRepo, open_repo
from gitmlops.errors import DataError, NotADvcRepoError, PipelineError
from gitmlops.pipeline.guard import run_lock, terminate_as_interrupt
from gitmlops.pipeline.render import stages_from_config
from gitmlops.pipeline.sync import DVC_YAML, PARAMS_YAML, sync, write_atomic


@dataclass
class RunResult:
    """What a run did."""

    ran: list[str]
    skipped: list[str]
    metrics: dict[str, Any]
    written: list[str]
    seconds: float
    stages: list[str] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)  # conf/ files `run --save` wrote the overrides to
    #: prepare's role table (one entry per column: name, role, used, source, reason), when it ran.
    roles: list[dict[str, Any]] = field(default_factory=list)


def read_roles(root: Path, config: dict[str, Any]) -> list[dict[str, Any]]:
    """The role table prepare wrote next to the train/test files (empty when absent)."""
    path = root / (config.get("paths") or {}).get("prepared", "data/prepared") / "roles.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    roles = data.get("roles") if isinstance(data, dict) else None
    return roles if isinstance(roles, list) else []


def read_metrics(root: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The metrics file named by ``paths.metrics`` (empty when absent)."""
    path = root / (config.get("paths") or {}).get("metrics", "metrics.json")
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def check_deps(root: Path, config: dict[str, Any], targets: Sequence[str] = ()) -> None:
    """Every dependency exists in the work tree or is produced by some stage."""
    stages = stages_from_config(config)
    produced: set[str] = set()
    for spec in stages.values():
        for key in ("outs", "metrics", "plots"):
            for item in spec.get(key) or []:
                produced.update([item] if isinstance(item, str) else list(item))
    for name, spec in stages.items():
        if targets and name not in targets:
            continue
        for item in spec.get("deps") or []:
            for dep in [item] if isinstance(item, str) else list(item):
                if "://" in dep or (root / dep).exists():
                    continue
                if any(dep == out or dep.startswith(out.rstrip("/") + "/") for out in produced):
                    continue
                tracked = (root / f"{dep}.dvc").exists()
                raise DataError(
                    f"dependency {dep} of stage {name!r} is missing",
                    "it is tracked by DVC: run `gitmlops data pull`"
                    if tracked
                    else f"add the data with `gitmlops data add {dep}`, or point data.path at your data",
                )


def check_paths_inside(root: Path, config: dict[str, Any]) -> None:
    """Every ``paths.*`` value and every stage path stays inside the repository (symbolic links
    resolved): a run must never write outside it. PipelineError (exit 2) before anything is written."""
    named = [(f"paths.{k}", v) for k, v in (config.get("paths") or {}).items() if isinstance(v, str)]
    for stage_name, spec in stages_from_config(config).items():
        for key in ("deps", "outs", "metrics", "plots"):
            for item in spec.get(key) or []:
                named += [(f"stage {stage_name!r} {key}", p) for p in ([item] if isinstance(item, str) else list(item))]
    top = root.resolve()
    for where, value in named:
        if "://" in value:
            continue
        if not (top / value).resolve().is_relative_to(top):
            raise PipelineError(
                f"{where} is {value!r}, outside the repository",
                "use a path relative to the repository root (data outside it: copy it in and `gitmlops data add` it)",
            )


def run(
    repo: str | os.PathLike[str] | GitRepo = ".",
    overrides: Sequence[str] = (),
    force: bool = False,
    stage: str | None = None,
    callback: ProgressCallback | None = None,
) -> RunResult:
    """Compose, sync and reproduce; returns the stages run and the metrics."""
    from gitmlops.adapters.dvc_repo import is_dvc_repo

    git = open_repo(repo)
    root = git.root
    if not is_dvc_repo(root):
        raise NotADvcRepoError(str(root))
    with run_lock(root), terminate_as_interrupt():
        return _run_locked(git, root, overrides, force, stage, callback)


def _run_locked(
    git: GitRepo,
    root: Path,
    overrides: Sequence[str],
    force: bool,
    stage: str | None,
    callback: ProgressCallback | None,
) -> RunResult:
    from gitmlops.adapters.dvc_repo import DvcRepo
    from gitmlops.config import compose

    started = time.perf_counter()
    from gitmlops.config import check_parameter_overrides

    check_parameter_overrides(root, overrides)
    config = compose(root, overrides)
    from gitmlops.stages import check_config

    check_config(config)
    from gitmlops.registry.settings import settings_from_config

    settings_from_config(config)  # a bad registry.stages would break every registry command later
    from gitmlops.report.settings import settings_from_config as report_settings

    report_settings(config)  # and a bad report.metrics every pull-request report
    check_paths_inside(root, config)
    stage_names = list(stages_from_config(config))
    if stage and stage not in stage_names:
        raise PipelineError(f"no stage named {stage!r}", f"stages are: {', '.join(stage_names)}")
    check_deps(root, config, [stage] if stage else ())

    backup = {name: (root / name).read_text() if (root / name).exists() else None for name in (DVC_YAML, PARAMS_YAML)}
    synced = sync(git, overrides, config=config)
    ran: list[str] = []
    skipped: list[str] = []

    def _track(event: str, name: str, detail: str) -> None:
        if event == "skip":
            skipped.append(name)
        elif event in ("start", "cached"):
            ran.append(name)
        if callback:
            callback(event, name, detail)

    try:
        with DvcRepo(root) as dvc:
            dvc.reproduce(targets=[stage] if stage else (), force=force, callback=_track)
    except BaseException:
        for name, text in backup.items():
            if name in synced.written:
                if text is None:
                    (root / name).unlink(missing_ok=True)
                else:
                    write_atomic(root / name, text)
        raise
    return RunResult(
        ran=ran,
        skipped=skipped,
        metrics=read_metrics(root, config),
        written=synced.written,
        seconds=time.perf_counter() - started,
        stages=stage_names,
        roles=read_roles(root, config),
    )
