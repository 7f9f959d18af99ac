"""Sweeps as DVC experiments, and comparing experiments (`gitmlops exp show|diff`).

A sweep expands a Hydra grid (``train.max_depth=3,5,7 train.eta=0.1,0.3``) into points, composes
every point first (so a bad key fails before anything runs), and runs one DVC experiment per point
with ``dvc exp run --temp -S ...`` (DVC composes the same conf/ for each), ``jobs`` at a time.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitmlops.adapters.dvc_repo import ProgressCallback
from gitmlops.adapters.git_repo import GitRepo, open_repo
from gitmlops.config import flatten
from gitmlops.errors import ConfigError, ExternalError, GitMLOpsError, NotADvcRepoError, UsageError
from gitmlops.progress import Progress


@dataclass
class Experiment:
    """One row of `exp show`: an experiment or its baseline commit."""

    name: str
    rev: str
    baseline: bool
    state: str | None
    created: str | None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class SweepResult:
    """The points queued and run, and the experiments table afterwards."""

    points: list[list[str]]
    experiments: list[Experiment]


def expand_grid(overrides: Sequence[str]) -> list[list[str]]:
    """Hydra sweep overrides -> one list of plain overrides per grid point (cartesian product)."""
    from gitmlops.config import validate_overrides

    parsed = validate_overrides(overrides, allow_sweep=True)
    axes: list[list[str]] = []
    for text, override in zip(overrides, parsed, strict=True):
        key = override.get_key_element()
        if override.is_sweep_override():
            if override.is_discrete_sweep():
                values = list(override.sweep_string_iterator())
            else:
                raise ConfigError(
                    f"override {text!r}: only lists of values (a,b,c) or range(start,stop) can be swept here",
                    "write the values out: key=1,2,3",
                )
            axes.append([f"{key}={v}" for v in values])
        else:
            axes.append([text])
    return [list(point) for point in itertools.product(*axes)]


def sweep(
    repo: str | os.PathLike[str] | GitRepo,
    overrides: Sequence[str],
    jobs: int = 1,
    callback: ProgressCallback | None = None,
    progress: Progress | None = None,
) -> SweepResult:
    """Run one DVC experiment per grid point (``jobs`` at a time); the experiments table after.

    ``progress`` hears (experiments finished, experiments in the sweep) as each one ends."""
    from gitmlops.adapters.dvc_repo import is_dvc_repo
    from gitmlops.models import project_root

    git = open_repo(repo)
    if not is_dvc_repo(git.root):
        raise NotADvcRepoError(str(git.root))
    root = project_root(git)
    if not overrides:
        raise UsageError("--sweep needs at least one override such as 'train.max_depth=3,5,7'")
    if git.head_commit() is None:
        raise GitMLOpsError("experiments need a commit to start from", "commit your project first (`git commit`)")
    from gitmlops.pipeline.guard import run_lock

    # The sweep writes params.yaml and dvc.yaml (its baseline) and DVC reads them: like `run`, it
    # holds the checkout's run lock from before it writes until its last experiment ends.
    with run_lock(git.root):
        return _sweep_locked(git, root, overrides, jobs, callback, progress)


def _sweep_locked(git: GitRepo, root: Path, overrides: Sequence[str], jobs: int,
                  callback: ProgressCallback | None, progress: Progress | None) -> SweepResult:
    from gitmlops.adapters.dvc_repo import DvcRepo
    from gitmlops.config import compose
    from gitmlops.pipeline.render import render_dvc_yaml
    from gitmlops.pipeline.run import check_deps
    from gitmlops.pipeline.sync import sync

    points = expand_grid(overrides)
    from gitmlops.config import check_parameter_overrides

    check_parameter_overrides(root, points[0])
    base = compose(root)
    _refuse_environment_parameters(root, base)
    base_dvc = render_dvc_yaml(base)
    from gitmlops.stages import check_config

    for point in points:
        config = compose(root, point)
        check_config(config)
        if render_dvc_yaml(config) != base_dvc:
            raise ConfigError(
                f"the sweep point {' '.join(point)} changes the pipeline's stages (dvc.yaml)",
                "sweep only parameters; change paths and stages in conf/ and commit them first",
            )
    check_deps(root, base)
    sync(git, config=base)
    args = [point_args(point) for point in points]
    if root != git.root:
        # DVC composes conf/ with Hydra for the root's params.yaml only: a model's point is given as
        # the changes it makes to the model's params.yaml, which `-S FILE:KEY=VALUE` applies.
        from gitmlops.config import overrides_between, parameters_of

        rel = root.relative_to(git.root).as_posix()
        params = parameters_of(root, base)
        args = [[rel + "/dvc.yaml"] + [a for change in overrides_between(params, parameters_of(root, compose(root, point)))
                                       for a in ("-S", f"{rel}/params.yaml:{change}")] for point in points]
    if callback:
        callback("log", "", f"running {len(points)} experiment(s), {jobs} at a time")
    with DvcRepo(git.root) as dvc:
        failures = _run_points(dvc, points, args, jobs, callback, progress)
    if failures:
        raise ExternalError(
            f"{len(failures)} of {len(points)} experiment(s) failed: " + "; ".join(failures),
            "rerun one by hand to see its output: dvc exp run -S KEY=VALUE",
        )
    return SweepResult(points=points, experiments=show(git))


def _refuse_environment_parameters(root: Path, base: dict[str, Any]) -> None:
    """DVC composes each experiment's params.yaml itself and resolves every interpolation, so a
    parameter read from the environment (often a secret) would be written in clear into it."""
    from gitmlops.config import environment_references, parameters_of

    parameters = parameters_of(root, base)
    references = environment_references(root)
    reading = [key for key in references if key.split(".")[0] in parameters]
    if reading:
        raise ConfigError(
            f"the parameter {reading[0]} reads an environment variable ({references[reading[0]]}): "
            "DVC would write its value in clear into each experiment's params.yaml",
            "read it as a setting in conf/config.yaml or give it to the stage through its environment; "
            "`gitmlops run` keeps it as ${oc.env:...} in params.yaml",
        )


def point_args(point: list[str]) -> list[str]:
    """`dvc exp run` arguments of one grid point of the root project: ``-S OVERRIDE`` each."""
    return [a for item in point for a in ("-S", item)]


def _run_points(dvc: Any, points: list[list[str]], point_args: list[list[str]], jobs: int,
                callback: ProgressCallback | None, progress: Progress | None = None) -> list[str]:
    """Run each point as `dvc exp run --temp -S ...`, ``jobs`` at a time; the failures, described.

    DVC's temporary-directory executor runs an experiment outside the work tree and records it like
    any other experiment. Running them side by side ourselves avoids the Celery queue's worker
    start-up (several seconds each) and its workers that sometimes outlive `--run-all`.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    finished = [0]
    lock = threading.Lock()

    def one(index: int) -> str | None:
        try:
            return attempt_point(index)
        finally:
            with lock:
                finished[0] += 1
                if progress:
                    progress(finished[0], len(points))

    def attempt_point(index: int) -> str | None:
        point = points[index]
        args = ["exp", "run", "--temp", *point_args[index]]
        for attempt in range(3):
            proc = dvc.cli(*args, check=False)
            output = (proc.stderr or "") + (proc.stdout or "")
            if proc.returncode == 0:
                if callback:
                    callback("log", "", "done " + " ".join(point))
                return None
            if "Unable to acquire lock" not in output or attempt == 2:
                break
            time.sleep(1.0 + attempt)  # another experiment holds the repo lock while it starts
        lines = [line for line in output.strip().splitlines() if line.strip()]
        return f"{' '.join(point)}: {lines[-1] if lines else f'exit {proc.returncode}'}"

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return [failure for failure in pool.map(one, range(len(points))) if failure]


def _mine(path: str, folder: str) -> bool:
    """Whether a params or metrics file of DVC's output belongs to the project in ``folder``."""
    return not folder or path.startswith(folder + "/")


def _row(entry: dict[str, Any], baseline: bool, folder: str = "") -> Experiment:
    data = entry.get("data") or {}
    params: dict[str, Any] = {}
    for path, file in (data.get("params") or {}).items():
        if _mine(path, folder):
            params.update(flatten(file.get("data") or {}))
    metrics: dict[str, Any] = {}
    for path, file in (data.get("metrics") or {}).items():
        if _mine(path, folder):
            metrics.update(flatten(file.get("data") or {}))
    return Experiment(
        name=str(entry.get("name") or entry.get("rev") or ""),
        rev=str(entry.get("rev") or ""),
        baseline=baseline,
        state=None if baseline else "success" if not entry.get("error") else "failed",
        created=data.get("timestamp"),
        params=params,
        metrics=metrics,
    )


def show(repo: str | os.PathLike[str] | GitRepo = ".", revs: Sequence[str] = ()) -> list[Experiment]:
    """The baseline (HEAD, else each of ``revs``) and its experiments, with params and metrics
    (`dvc exp show --json`); each baseline row comes right before its experiments."""
    git = open_repo(repo)
    folder = _folder(git) if git.head_commit() is not None else ""
    return show_folders(git, revs, [folder])[folder]


def show_folders(repo: str | os.PathLike[str] | GitRepo, revs: Sequence[str], folders: Sequence[str]
                 ) -> dict[str, list[Experiment]]:
    """:func:`show` for each model folder of ``folders`` ("" for the root project) from ONE
    `dvc exp show`: each folder's rows carry its own params and metrics, and an experiment of another
    model (which leaves this one's params and metrics as its baseline's) is left out."""
    import json

    from gitmlops.adapters.dvc_repo import DvcRepo, is_dvc_repo

    git = open_repo(repo)
    if not is_dvc_repo(git.root):
        raise NotADvcRepoError(str(git.root))
    result: dict[str, list[Experiment]] = {f: [] for f in folders}
    if git.head_commit() is None:
        return result
    with DvcRepo(git.root) as dvc:
        out = dvc.cli("exp", "show", "--json", "--no-fetch", *(a for rev in revs for a in ("--rev", rev))).stdout
    for commit in json.loads(out or "[]"):
        if commit.get("rev") == "workspace":
            continue
        for folder in folders:
            base = _row(commit, baseline=True, folder=folder)
            result[folder].append(base)
            for group in commit.get("experiments") or []:
                for rev in group.get("revs") or []:
                    row = _row(rev, baseline=False, folder=folder)
                    # in a several-model repository, another model's experiments leave this one's alone
                    if not folder or (row.params, row.metrics) != (base.params, base.metrics):
                        result[folder].append(row)
    return result


def _folder(git: GitRepo) -> str:
    """The folder of the model a command acts on ("" for the root project)."""
    from gitmlops.models import is_multi, project_root

    if not is_multi(git):
        return ""
    root = project_root(git)
    return "" if root == git.root else root.relative_to(git.root).as_posix()


def varying_params(experiments: Sequence[Experiment]) -> list[str]:
    """Param keys whose values differ between rows (what a sweep changed)."""
    keys = sorted({k for e in experiments for k in e.params})
    return [k for k in keys if len({repr(e.params.get(k)) for e in experiments}) > 1]


def diff(repo: str | os.PathLike[str] | GitRepo, a: str | None = None, b: str | None = None) -> dict[str, Any]:
    """Params and metrics that differ between two experiments or commits (DVC's `exp diff`).

    No argument: HEAD against the work tree; one: that experiment against the work tree
    (DVC's semantics).
    """
    from gitmlops.adapters.dvc_repo import DvcRepo, is_dvc_repo

    git = open_repo(repo)
    if not is_dvc_repo(git.root):
        raise NotADvcRepoError(str(git.root))
    for rev in (a, b):
        if rev is not None and rev.startswith("-"):
            raise UsageError(f"invalid experiment or revision {rev!r}")
    folder = _folder(git)
    with DvcRepo(git.root) as dvc:
        raw = dvc.exp_diff(a, b)
    if a is None:
        labels = ("HEAD", "workspace")
    elif b is None:
        labels = (a, "workspace")
    else:
        labels = (a, b)
    result: dict[str, Any] = {"a": labels[0], "b": labels[1], "params": [], "metrics": []}
    for section in ("params", "metrics"):
        for file, entries in (raw.get(section) or {}).items():
            if not _mine(file, folder):
                continue
            for key, change in entries.items():
                old, new = change.get("old"), change.get("new")
                delta = change.get("diff")
                if delta is None and isinstance(old, (int, float)) and isinstance(new, (int, float)):
                    delta = new - old
                result[section].append({"file": file, "key": key, "old": old, "new": new, "delta": delta})
    return result
