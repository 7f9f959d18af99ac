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


def check_paths_inside(root: Path, config: dict[str, Any], top: Path | None = None) -> None:
    """Every ``paths.*`` value and every stage path (relative to ``root``, the project's folder)
    stays inside the repository ``top`` (default ``root``; symbolic links resolved): a run must never
    write outside it. PipelineError (exit 2) before anything is written."""
    named = [(f"paths.{k}", v) for k, v in (config.get("paths") or {}).items() if isinstance(v, str)]
    for stage_name, spec in stages_from_config(config).items():
        for key in ("deps", "outs", "metrics", "plots"):
            for item in spec.get(key) or []:
                named += [(f"stage {stage_name!r} {key}", p) for p in ([item] if isinstance(item, str) else list(item))]
    base = root.resolve()
    top = (top or root).resolve()
    for where, value in named:
        if "://" in value:
            continue
        if not (base / value).resolve().is_relative_to(top):
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
    """Compose, sync and reproduce; returns the stages run and the metrics (of one model: the one
    ``repo`` lies in; :func:`run_all` runs every model of a several-model repository)."""
    from gitmlops.adapters.dvc_repo import is_dvc_repo
    from gitmlops.models import project_root

    git = open_repo(repo)
    if not is_dvc_repo(git.root):
        raise NotADvcRepoError(str(git.root))
    root = project_root(git)
    with run_lock(git.root), terminate_as_interrupt():
        return _run_locked(git, root, overrides, force, stage, callback)


@dataclass
class ModelsRunResult:
    """What a run over every model did: one :class:`RunResult` per model, in gitmlops.yaml's order."""

    models: dict[str, RunResult]
    seconds: float

    @property
    def ran(self) -> list[str]:
        """The models that ran a stage."""
        return [name for name, result in self.models.items() if result.ran]


def _prepare(git: GitRepo, root: Path, overrides: Sequence[str], stage: str | None) -> dict[str, Any]:
    """Compose and check one project's config before anything is written."""
    from gitmlops.config import check_parameter_overrides, compose

    check_parameter_overrides(root, overrides)
    config = compose(root, overrides)
    if not _checked_before(git.root, config):
        from gitmlops.stages import check_config

        check_config(config)
        _remember_checked(git.root, config)
    from gitmlops.registry.settings import settings_from_config

    settings_from_config(config)  # a bad registry.stages would break every registry command later
    from gitmlops.report.settings import settings_from_config as report_settings

    report_settings(config)  # and a bad report.metrics every pull-request report
    check_paths_inside(root, config, git.root)
    stage_names = list(stages_from_config(config))
    if stage and stage not in stage_names:
        raise PipelineError(f"no stage named {stage!r}", f"stages are: {', '.join(stage_names)}")
    check_deps(root, config, [stage] if stage else ())
    return config


CHECKED_FILE = Path(".dvc") / "tmp" / "gitmlops-checked.json"
CHECKED_ENTRIES = 64


def _check_key(config: dict[str, Any]) -> str:
    """What the stage settings check depends on: the config, gitmlops' and XGBoost's versions."""
    from importlib.metadata import PackageNotFoundError, version

    from gitmlops import __version__
    from gitmlops.config import params_hash

    try:
        xgb = version("xgboost")
    except PackageNotFoundError:
        xgb = ""
    return params_hash({"config": config, "gitmlops": __version__, "xgboost": xgb})


def _checked_before(top: Path, config: dict[str, Any]) -> bool:
    """Whether this exact config passed the stage settings check before (a no-op run over ten models
    must not probe XGBoost ten times)."""
    try:
        return _check_key(config) in json.loads((top / CHECKED_FILE).read_text())
    except (OSError, ValueError, TypeError):
        return False


def _remember_checked(top: Path, config: dict[str, Any]) -> None:
    path = top / CHECKED_FILE
    if not path.parent.is_dir():
        return
    try:
        known = [k for k in json.loads(path.read_text()) if isinstance(k, str)]
    except (OSError, ValueError, TypeError):
        known = []
    key = _check_key(config)
    known = [*[k for k in known if k != key][-(CHECKED_ENTRIES - 1):], key]
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(known))
    tmp.replace(path)


def _dvcfile(git: GitRepo, root: Path) -> list[str]:
    """The dvc.yaml to reproduce: the project's, in a several-model repository; all otherwise."""
    from gitmlops.models import is_multi

    return [(root / DVC_YAML).relative_to(git.root).as_posix()] if is_multi(git) else []


def _reproduce(git: GitRepo, projects: dict[Path, dict[str, Any]], stage: str | None, force: bool,
               callback: ProgressCallback | None, overrides: Sequence[str] = ()
               ) -> tuple[dict[Path, list[str]], dict[Path, list[str]], dict[Path, list[str]]]:
    """Sync every project's files, then one `dvc repro` over their pipelines; per project the files
    written, the stages run and the stages skipped. Files written are put back when it fails.
    ``overrides`` (the composed ones of a one-project run) let sync keep ${oc.env:...} unresolved."""
    from gitmlops.adapters.dvc_repo import DvcRepo

    backups = {root: {name: (root / name).read_text() if (root / name).exists() else None
                      for name in (DVC_YAML, PARAMS_YAML)} for root in projects}
    written: dict[Path, list[str]] = {}
    ran: dict[Path, list[str]] = {root: [] for root in projects}
    skipped: dict[Path, list[str]] = {root: [] for root in projects}
    folders = {("" if root == git.root else root.relative_to(git.root).as_posix()): root for root in projects}

    def _track(event: str, name: str, detail: str) -> None:
        folder, _, short = name.rpartition(":")
        root = folders.get(folder)
        if root is not None:
            if event == "skip":
                skipped[root].append(short)
            elif event in ("start", "cached"):
                ran[root].append(short)
        if callback:
            callback(event, name if len(projects) > 1 else short, detail)

    try:
        for root, config in projects.items():
            written[root] = sync(open_repo(root), overrides, config=config).written
        dvcfiles = [f for root in projects for f in _dvcfile(git, root)]
        with DvcRepo(git.root) as dvc:
            dvc.reproduce(targets=[stage] if stage else (), force=force, callback=_track, dvcfiles=dvcfiles)
    except BaseException:
        for root, backup in backups.items():
            for name, text in backup.items():
                if name in written.get(root, []):
                    if text is None:
                        (root / name).unlink(missing_ok=True)
                    else:
                        write_atomic(root / name, text)
        raise
    return written, ran, skipped


def _run_locked(
    git: GitRepo,
    root: Path,
    overrides: Sequence[str],
    force: bool,
    stage: str | None,
    callback: ProgressCallback | None,
) -> RunResult:
    started = time.perf_counter()
    config = _prepare(git, root, overrides, stage)
    written, ran, skipped = _reproduce(git, {root: config}, stage, force, callback, overrides)
    return RunResult(
        ran=ran[root],
        skipped=skipped[root],
        metrics=read_metrics(root, config),
        written=written[root],
        seconds=time.perf_counter() - started,
        stages=list(stages_from_config(config)),
        roles=read_roles(root, config),
    )


def run_all(
    repo: str | os.PathLike[str] | GitRepo = ".",
    force: bool = False,
    callback: ProgressCallback | None = None,
) -> ModelsRunResult:
    """Run what changed for every model of gitmlops.yaml: each config composed and checked (and no
    two models writing one path or declaring one artifact) before anything is written, then ONE
    `dvc repro` over all their pipelines, so DVC's own graph decides what runs."""
    from gitmlops.adapters.dvc_repo import is_dvc_repo
    from gitmlops.models import check_models, list_models

    git = open_repo(repo)
    if not is_dvc_repo(git.root):
        raise NotADvcRepoError(str(git.root))
    models = list_models(git)
    with run_lock(git.root), terminate_as_interrupt():
        started = time.perf_counter()
        configs = {model.name: _prepare(git, model.path, (), None) for model in models}
        check_models(git.root, configs)
        projects = {model.path: configs[model.name] for model in models}
        written, ran, skipped = _reproduce(git, projects, None, force, callback)
        results = {
            model.name: RunResult(
                ran=ran[model.path], skipped=skipped[model.path], metrics=read_metrics(model.path, configs[model.name]),
                written=[model.rel(p) for p in written[model.path]], seconds=0.0,
                stages=list(stages_from_config(configs[model.name])), roles=read_roles(model.path, configs[model.name]),
            )
            for model in models
        }
        return ModelsRunResult(models=results, seconds=time.perf_counter() - started)
