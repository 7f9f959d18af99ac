"""`gitmlops verify REF`: rebuild a registered model from its commit and prove it is byte-identical.

Steps: resolve REF to a commit; check the stored copies of the artifact (DVC cache and remote) still
hash to the registered md5; check the commit out into an isolated work tree with an empty cache; pull
the pipeline's input data from the remote; rerun every stage (``dvc repro --force``); compare every
output's md5 with the commit's dvc.lock and the artifact's with the tag's metadata; compare metrics.

The library returns a :class:`VerifyReport` whether or not the model reproduces; the command line
prints it and exits 1 (``CheckFailed``) when ``report.reproduced`` is False.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from gitmlops.adapters.git_repo import GitRepo, has_commit, open_repo
from gitmlops.errors import GitMLOpsError, RegistryError, RemoteError
from gitmlops.lineage.compare import (
    MetricCheck,
    StageLock,
    compare_metrics,
    compare_summaries,
    explain,
    parse_lock_stages,
    pipeline_inputs,
    producers,
)
from gitmlops.progress import Progress

# Output statuses (docs/lineage.md).
#: How one output compares after the rebuild (the values are what --json prints).
OutputStatus = Literal["match", "differs", "equivalent", "not comparable", "not run"]
MATCH: Final = "match"
DIFFERS: Final = "differs"
EQUIVALENT: Final = "equivalent"
NOT_COMPARABLE: Final = "not comparable"
NOT_RUN: Final = "not run"
InputSource = Literal["dvc", "git", "missing"]
StoreKind = Literal["cache", "remote"]


@dataclass
class OutputCheck:
    """One pipeline output: md5 recorded in dvc.lock at the commit vs md5 after re-running."""

    path: str
    stage: str
    expected: str | None
    actual: str | None
    status: OutputStatus
    registered: bool = False  # the registry artifact itself
    by_design: bool = False  # non-deterministic by design (whylogs profiles), compared on their summary
    note: str | None = None


@dataclass
class InputCheck:
    """One pipeline input (a dependency no stage produces): where it comes from, whether the remote has it."""

    path: str
    md5: str | None
    source: InputSource  # dvc (pulled from the remote) | git (checked out) | missing
    in_remote: bool | None = None


@dataclass
class StoredCopy:
    """A stored copy of the registered artifact (what `serve` and `deploy` would ship)."""

    where: StoreKind
    present: bool
    md5: str | None
    match: bool | None


@dataclass
class Problem:
    """Something that keeps the model from reproducing (kinds listed in docs/lineage.md)."""

    kind: str
    message: str
    path: str | None = None


@dataclass
class VerifyReport:
    """Everything `gitmlops verify` found; ``reproduced`` decides the exit code."""

    ref: str
    name: str
    version: str
    tag: str
    commit: str
    artifact: str | None
    registered_md5: str | None  # in the registration tag's metadata
    lock_md5: str | None  # in dvc.lock at the commit
    reproduced_md5: str | None  # after re-running the pipeline
    reproduced: bool
    problems: list[Problem]
    outputs: list[OutputCheck]
    inputs: list[InputCheck]
    stored: list[StoredCopy]
    metrics: list[MetricCheck]
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    worktree: str | None = None  # kept with --keep


def _md5(data: bytes, hash_name: str = "md5") -> str:
    if hash_name == "md5-dos2unix" and b"\x00" not in data[:8000]:  # DVC 2 hashed text with LF endings
        data = data.replace(b"\r\n", b"\n")
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _environment() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    env = {"python": platform.python_version()}
    for package in ("gitmlops", "dvc", "xgboost", "pandas", "numpy"):
        try:
            env[package] = version(package)
        except PackageNotFoundError:
            continue
    return env


def _check_commit(git: GitRepo, commit: str, ref: str) -> None:
    if not has_commit(git, commit):
        raise RegistryError(
            f"{ref} points at commit {commit[:12]}, which is missing from this clone",
            f"fetch it: `git fetch origin {commit}` (or `git fetch --unshallow` in a shallow clone)",
        )


def _stored_copies(git: GitRepo, md5: str, hash_name: str, scratch: Path) -> list[StoredCopy]:
    """Hash the artifact as the user's DVC cache and the DVC remote hold it."""
    from gitmlops.adapters.dvc_repo import DvcRepo, cached_object_path, download_from_remote, is_dvc_repo

    if not is_dvc_repo(git.root) or md5.endswith(".dir"):
        return []
    copies = []
    with DvcRepo(git.root) as dvc:
        cached = cached_object_path(dvc, md5, hash_name)
        if cached is None:
            copies.append(StoredCopy("cache", False, None, None))
        else:
            actual = _md5(Path(cached).read_bytes(), hash_name)
            copies.append(StoredCopy("cache", True, actual, actual == md5))
        dest = scratch / "remote-copy"
        if download_from_remote(dvc, md5, hash_name, dest):
            actual = _md5(dest.read_bytes(), hash_name)
            copies.append(StoredCopy("remote", True, actual, actual == md5))
            dest.unlink()
        else:
            copies.append(StoredCopy("remote", False, None, None))
    return copies


def _expected_bytes(git: GitRepo, md5: str, scratch: Path) -> bytes | None:
    """The bytes of object ``md5`` from the user's cache or the remote (None when neither has it)."""
    from gitmlops.adapters.dvc_repo import DvcRepo, fetch_object

    dest = scratch / f"expected-{md5}"
    try:
        with DvcRepo(git.root) as dvc:
            fetch_object(dvc, md5, "md5", dest)
    except RemoteError as exc:
        if exc.kind != "object_missing":
            raise  # an unreachable or refusing remote is an environmental fault, not a difference
        return None
    except GitMLOpsError:
        return None
    data = dest.read_bytes()
    dest.unlink()
    return data if _md5(data) == md5 else None


def _inputs(root: Path, stages: dict[str, StageLock]) -> tuple[list[InputCheck], list[str]]:
    """Classify the pipeline inputs of the isolated tree and find which .dvc files to pull."""
    from gitmlops.adapters.dvc_repo import DvcRepo, missing_in_remote, parse_dvcfile

    checks: list[InputCheck] = []
    dvcfiles: dict[str, list[InputCheck]] = {}
    for path, md5 in pipeline_inputs(stages).items():
        owner = None
        parts = Path(path).parts
        for i in range(len(parts), 0, -1):  # the data may sit inside a tracked folder
            candidate = Path(*parts[:i])
            tracker = candidate.with_name(candidate.name + ".dvc")
            if (root / tracker).is_file():
                owner = tracker.as_posix()
                break
        if owner is not None:
            check = InputCheck(path, md5, "dvc")
            dvcfiles.setdefault(owner, []).append(check)
        else:
            check = InputCheck(path, md5, "git" if (root / path).exists() else "missing")
        checks.append(check)
    if dvcfiles:
        with DvcRepo(root) as dvc:
            for dvcfile, owned in dvcfiles.items():
                entries = parse_dvcfile((root / dvcfile).read_text(), dvcfile)
                objects = [(str(e["md5"]), "md5") for e in entries if e.get("md5")]
                missing = set(missing_in_remote(dvc, objects)) if objects else set()
                for check in owned:
                    check.in_remote = bool(objects) and not missing
    return checks, sorted(dvcfiles)


def _metrics_at(git: GitRepo, commit: str, path: str) -> dict[str, Any] | None:
    text = git.file_at(commit, path)
    try:
        data = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _by_design(root: Path, base: str = "") -> dict[str, str | None]:
    """Outputs that are non-deterministic by design: the whylogs reference profile (whose summary
    is compared instead) and its summary. Maps each to the summary that stands for it (paths from the
    root; ``base``: the model's folder, whose conf/ names them)."""
    from gitmlops.config import load_params
    from gitmlops.errors import ConfigError

    try:
        params = load_params(root / base if base else root)  # paths are settings: in conf/, not params.yaml
    except ConfigError:
        params = {}
    paths = params.get("paths") if isinstance(params, dict) else None
    paths = paths if isinstance(paths, dict) else {}
    profile = str(paths.get("reference_profile") or "models/reference_profile.bin")
    summary = str(paths.get("reference_summary") or str(Path(profile).with_suffix(".json")))
    if base:
        import posixpath

        profile, summary = (posixpath.normpath(posixpath.join(base, p)) for p in (profile, summary))
    return {profile: summary, summary: summary}


def _compare_outputs(
    git: GitRepo, root: Path, expected: dict[str, StageLock], actual: dict[str, StageLock], artifact: str | None,
    scratch: Path, ran: bool, base: str = "",
) -> tuple[list[OutputCheck], list[Problem]]:
    made = producers(actual)
    by_design = _by_design(root, base)
    summaries: dict[str, list[str] | None] = {}  # summary path -> differences (None: not comparable)
    checks: list[OutputCheck] = []
    problems: list[Problem] = []
    for stage in expected.values():
        for path, want in stage.outs.items():
            got = actual[made[path]].outs.get(path) if path in made else None
            check = OutputCheck(path, stage.name, want, got, MATCH, registered=path == artifact,
                                by_design=path in by_design and path != artifact)
            checks.append(check)
            if not ran:
                check.status = NOT_RUN
            elif got is None:
                check.status = NOT_RUN
                problems.append(Problem("output_missing", f"{path} was not produced by re-running the pipeline",
                                        path))
            elif got != want and check.by_design:
                summary = by_design[path] or path
                if summary not in summaries:
                    old = _expected_bytes(git, str(expected_md5(expected, summary)), scratch)
                    new = root / summary
                    summaries[summary] = (compare_summaries(old.decode(), new.read_text())
                                          if old is not None and new.is_file() else None)
                found = summaries[summary]
                if found is None:
                    check.status = NOT_COMPARABLE
                    check.note = f"whylogs profile (random sketches); the recorded {summary} could not be fetched"
                elif found:
                    check.status = DIFFERS
                    check.note = "; ".join(found[:5])
                    problems.append(Problem("profile_differs", f"{path} describes different data: {check.note}",
                                            path))
                else:
                    check.status = EQUIVALENT
                    check.note = f"whylogs profile (random sketches): exact statistics in {summary} agree"
            elif got != want:
                check.status = DIFFERS
                cause = explain(path, stage.name, expected, actual)
                check.note = cause.kind
                problems.append(Problem(cause.kind, cause.message, path))
    return checks, problems


def expected_md5(stages: dict[str, StageLock], path: str) -> str | None:
    """The md5 dvc.lock records for output ``path`` (None when no stage writes it)."""
    for stage in stages.values():
        if path in stage.outs:
            return stage.outs[path]
    return None


def verify(repo: str | os.PathLike[str] | GitRepo, ref: str, keep: bool = False, jobs: int | None = None,
           progress: Progress | None = None) -> VerifyReport:
    """Rebuild the model version ``ref`` names in an isolated work tree and compare it byte for byte.

    ``progress`` hears (steps done, steps in all): the stored copies, the checkout and pull, each
    pipeline stage re-run, and the comparison."""
    from gitmlops.adapters.dvc_repo import DvcRepo
    from gitmlops.errors import StageFailedError
    from gitmlops.lineage.isolate import isolated_tree
    from gitmlops.registry import resolve

    started = time.perf_counter()
    from gitmlops.models import expand_ref
    from gitmlops.registry.tags import split_name

    git = open_repo(repo)
    found = resolve(git, expand_ref(git, ref))
    _check_commit(git, found.commit, ref)
    base = split_name(found.name)[0]  # a model's folder: its dvc.lock; paths below are from the root
    lock_file = f"{base}/dvc.lock" if base else "dvc.lock"
    metadata = found.metadata or {}
    info = metadata.get("artifact") if isinstance(metadata.get("artifact"), dict) else {}
    hash_name = str((info or {}).get("hash") or "md5")
    expected = parse_lock_stages(git.file_at(found.commit, lock_file), base)
    lock_md5 = expected_md5(expected, found.path) if found.path else None
    problems: list[Problem] = []
    phases: dict[str, float] = {}
    steps = [0, 3 + len(expected)]

    def step(event: str = "start", name: str = "", detail: str = "") -> None:
        del name, detail
        if event in ("start", "cached") and progress:
            steps[0] = min(steps[0] + 1, steps[1])
            progress(*steps)
    if found.md5 and lock_md5 and found.md5 != lock_md5:
        problems.append(Problem("metadata_mismatch", f"the tag {found.tag} records md5 {found.md5} for {found.path}, "
                                f"but dvc.lock at {found.commit[:8]} records {lock_md5}", found.path))
    if not found.path or not found.md5:
        problems.append(Problem("no_artifact", f"{found.name}@{found.version} has no DVC-tracked file at "
                                f"{found.commit[:8]} (not declared under `artifacts:` in dvc.yaml there)"))
    elif lock_md5 is None:
        problems.append(Problem("not_a_pipeline_output", f"{found.path} is not written by any pipeline stage at "
                                f"{found.commit[:8]}, so it cannot be rebuilt (was it added with `dvc add`?)",
                                found.path))

    scratch = Path(tempfile.mkdtemp(prefix="gitmlops-verify-scratch-"))
    try:
        mark = time.perf_counter()
        stored = _stored_copies(git, found.md5, hash_name, scratch) if found.md5 else []
        for copy in stored:
            if copy.present and not copy.match:
                problems.append(Problem("stored_copy_corrupt", f"the {copy.where} copy of {found.path} hashes to "
                                        f"{copy.md5}, not the registered {found.md5}: it was altered", found.path))
        if not any(c.where == "remote" and c.present for c in stored) and stored:
            problems.append(Problem("artifact_missing_from_remote", f"the DVC remote has no copy of {found.path} "
                                    f"({found.md5}); `serve` and `deploy` elsewhere cannot fetch it", found.path))
        phases["stored_copies"] = time.perf_counter() - mark
        step()

        with isolated_tree(git, found.commit, keep=keep) as tree:
            mark = time.perf_counter()
            inputs, dvcfiles = _inputs(tree.root, expected)
            for check in inputs:
                if check.source == "missing":
                    problems.append(Problem("input_missing", f"input {check.path} is neither in git nor tracked by "
                                            f"DVC at {found.commit[:8]}", check.path))
                elif check.in_remote is False:
                    problems.append(Problem("data_missing_from_remote", f"input {check.path} ({check.md5}) is "
                                            "missing from the DVC remote: push it from a clone that has it "
                                            "(`gitmlops data push`)", check.path))
            runnable = not any(p.kind in ("input_missing", "data_missing_from_remote") for p in problems)
            ran = False
            if runnable and dvcfiles:
                with DvcRepo(tree.root) as dvc:
                    try:
                        dvc.pull(targets=dvcfiles, jobs=jobs)
                    except RemoteError as exc:
                        if exc.kind != "object_missing":
                            raise
                        runnable = False
                        problems.append(Problem("data_missing_from_remote", f"pulling the inputs failed: {exc.message}"))
                    except GitMLOpsError as exc:
                        runnable = False
                        problems.append(Problem("data_missing_from_remote", f"pulling the inputs failed: {exc.message}"))
            phases["checkout_and_pull"] = time.perf_counter() - mark
            step()
            mark = time.perf_counter()
            if runnable and expected:
                with DvcRepo(tree.root) as dvc:
                    try:
                        dvc.reproduce(force=True, callback=step, dvcfiles=[f"{base}/dvc.yaml"] if base else [])
                        ran = True
                    except StageFailedError as exc:
                        problems.append(Problem("stage_failed", f"re-running the pipeline failed: {exc.message}"))
            phases["reproduce"] = time.perf_counter() - mark
            mark = time.perf_counter()
            actual = parse_lock_stages((tree.root / lock_file).read_text(), base) if ran else {}
            outputs, found_problems = _compare_outputs(git, tree.root, expected, actual, found.path, scratch, ran, base)
            problems.extend(found_problems)
            steps[0] = steps[1] - 1
            step()
            metrics_path = str(metadata.get("metrics_path") or (f"{base}/metrics.json" if base else "metrics.json"))
            recorded = metadata.get("metrics") if isinstance(metadata.get("metrics"), dict) else None
            if recorded is None:
                recorded = _metrics_at(git, found.commit, metrics_path)
            reproduced_metrics = None
            if ran and (tree.root / metrics_path).is_file():
                try:
                    reproduced_metrics = json.loads((tree.root / metrics_path).read_text())
                except ValueError:
                    reproduced_metrics = None
            metrics = compare_metrics(recorded, reproduced_metrics) if ran else []
            phases["compare"] = time.perf_counter() - mark
            worktree = str(tree.root) if keep else None
    finally:
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)
    reproduced_md5 = next((o.actual for o in outputs if o.registered), None)
    if not expected:
        problems.append(Problem("no_pipeline", f"there is no dvc.lock at {found.commit[:8]}: nothing to rerun"))
    report = VerifyReport(
        ref=ref, name=found.name, version=found.version, tag=found.tag, commit=found.commit, artifact=found.path,
        registered_md5=found.md5, lock_md5=lock_md5, reproduced_md5=reproduced_md5,
        reproduced=not problems and reproduced_md5 is not None and reproduced_md5 == found.md5,
        problems=problems, outputs=outputs, inputs=inputs, stored=stored, metrics=metrics,
        seconds=round(time.perf_counter() - started, 3), phases={k: round(v, 3) for k, v in phases.items()},
        environment=_environment(), worktree=worktree,
    )
    _remember(git.root, report)
    return report


VERIFY_MEMO = Path(".dvc") / "tmp" / "gitmlops-verify.json"


def _remember(root: Path, report: VerifyReport) -> None:
    """Keep the outcome of the newest verify per artifact in .dvc/tmp/ (what `status` shows)."""
    memo = last_verified(root)
    memo[report.name] = {"version": report.version, "commit": report.commit, "reproduced": report.reproduced,
                         "problems": sorted({p.kind for p in report.problems}),
                         "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path = root / VERIFY_MEMO
    if path.parent.is_dir():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo, sort_keys=True))
        tmp.replace(path)


def last_verified(root: Path) -> dict[str, dict[str, Any]]:
    """Artifact name -> the last `gitmlops verify` of one of its versions in this clone (empty if none)."""
    try:
        data = json.loads((root / VERIFY_MEMO).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
