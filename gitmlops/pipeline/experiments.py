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
    from gitmlops.adapters.dvc_repo import DvcRepo, is_dvc_repo
    from gitmlops.config import compose
    from gitmlops.pipeline.render import render_dvc_yaml
    from gitmlops.pipeline.run import check_deps
    from gitmlops.pipeline.sync import sync

    git = open_repo(repo)
    root = git.root
    if not is_dvc_repo(root):
        raise NotADvcRepoError(str(root))
    if not overrides:
        raise UsageError("--sweep needs at least one override such as 'train.max_depth=3,5,7'")
    if git.head_commit() is None:
        raise GitMLOpsError("experiments need a commit to start from", "commit your project first (`git commit`)")
    points = expand_grid(overrides)
    from gitmlops.config import check_parameter_overrides

    check_parameter_overrides(root, points[0])
    base = compose(root)
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
    if callback:
        callback("log", "", f"running {len(points)} experiment(s), {jobs} at a time")
    with DvcRepo(root) as dvc:
        failures = _run_points(dvc, points, jobs, callback, progress)
    if failures:
        raise ExternalError(
            f"{len(failures)} of {len(points)} experiment(s) failed: " + "; ".join(failures),
            "rerun one by hand to see its output: dvc exp run -S KEY=VALUE",
        )
    return SweepResult(points=points, experiments=show(git))


def _run_points(dvc: Any, points: list[list[str]], jobs: int, callback: ProgressCallback | None,
                progress: Progress | None = None) -> list[str]:
    """Run each point as `dvc exp run --temp -S ...`, ``jobs`` at a time; the failures, described.

    DVC's temporary-directory executor runs an experiment outside the work tree and records it like
    any other experiment. Running them side by side ourselves avoids the Celery queue's worker
    start-up (several seconds each) and its workers that sometimes outlive `--run-all`.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    finished = [0]
    lock = threading.Lock()

    def one(point: list[str]) -> str | None:
        try:
            return attempt_point(point)
        finally:
            with lock:
                finished[0] += 1
                if progress:
                    progress(finished[0], len(points))

    def attempt_point(point: list[str]) -> str | None:
        args = ["exp", "run", "--temp"]
        for item in point:
            args += ["-S", item]
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
        return [failure for failure in pool.map(one, points) if failure]


def _row(entry: dict[str, Any], baseline: bool) -> Experiment:
    data = entry.get("data") or {}
    params: dict[str, Any] = {}
    for file in (data.get("params") or {}).values():
        params.update(flatten(file.get("data") or {}))
    metrics: dict[str, Any] = {}
    for file in (data.get("metrics") or {}).values():
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


def show(repo: str | os.PathLike[str] | GitRepo = ".") -> list[Experiment]:
    """The baseline (HEAD) and its experiments, with params and metrics (`dvc exp show --json`)."""
    import json

    from gitmlops.adapters.dvc_repo import DvcRepo, is_dvc_repo

    git = open_repo(repo)
    if not is_dvc_repo(git.root):
        raise NotADvcRepoError(str(git.root))
    if git.head_commit() is None:
        return []
    with DvcRepo(git.root) as dvc:
        out = dvc.cli("exp", "show", "--json", "--no-fetch").stdout
    result = []
    for commit in json.loads(out or "[]"):
        if commit.get("rev") == "workspace":
            continue
        result.append(_row(commit, baseline=True))
        for group in commit.get("experiments") or []:
            for rev in group.get("revs") or []:
                result.append(_row(rev, baseline=False))
    return result


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
            for key, change in entries.items():
                old, new = change.get("old"), change.get("new")
                delta = change.get("diff")
                if delta is None and isinstance(old, (int, float)) and isinstance(new, (int, float)):
                    delta = new - old
                result[section].append({"file": file, "key": key, "old": old, "new": new, "delta": delta})
    return result
