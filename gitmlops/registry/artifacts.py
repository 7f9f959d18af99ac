"""What an artifact is at a commit: its path, DVC md5 and lineage metadata, read from git objects.

An artifact ``NAME`` is declared in ``dvc.yaml`` under ``artifacts:`` (DVC's format,
``artifacts: {NAME: {path: ..., type: model}}``); a monorepo artifact ``dir/sub:NAME`` in
``dir/sub/dvc.yaml``. Its md5 comes from ``dvc.lock`` (a stage output) or from ``PATH.dvc``, all read
at the commit with ``git show``, so registering never depends on the work tree.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

from gitmlops.adapters.git_repo import GitRepo
from gitmlops.errors import RegistryError
from gitmlops.registry.tags import split_name

DEFAULT_METRICS = "metrics.json"
DEFAULT_REFERENCE_PROFILE = "models/reference_profile.bin"


@dataclass
class ArtifactAtCommit:
    """An artifact as committed: paths are relative to the repository root."""

    name: str
    commit: str
    path: str
    md5: str | None
    hash: str = "md5"  # DVC's hash name; "md5-dos2unix" for DVC 2 era files
    size: int | None = None
    type: str | None = None
    source: str | None = None  # the file the md5 came from (dvc.lock or PATH.dvc)
    deps: dict[str, str | None] = field(default_factory=dict)

    @property
    def is_dir(self) -> bool:
        """Whether the artifact is a folder (DVC md5 ending in .dir)."""
        return bool(self.md5 and self.md5.endswith(".dir"))


def _yaml(git: GitRepo, commit: str, path: str) -> Any:
    text = git.file_at(commit, path)
    if text is None:
        return None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegistryError(
            f"{path} at {commit[:8]} is not valid YAML: {str(exc).splitlines()[0]}",
            "fix the file and commit it",
        ) from None


def _join(base: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(base, path)) if base else posixpath.normpath(path)


def declared_artifacts(git: GitRepo, commit: str, base: str = "") -> dict[str, Any]:
    """The ``artifacts:`` mapping of ``BASE/dvc.yaml`` at ``commit`` (empty when there is none)."""
    doc = _yaml(git, commit, _join(base, "dvc.yaml"))
    artifacts = doc.get("artifacts") if isinstance(doc, dict) else None
    return artifacts if isinstance(artifacts, dict) else {}


def artifact_at(git: GitRepo, commit: str, name: str) -> ArtifactAtCommit:
    """Read artifact ``name`` at ``commit``; RegistryError when it is not declared there."""
    base, short = split_name(name)
    dvc_yaml = _join(base, "dvc.yaml")
    declared = declared_artifacts(git, commit, base)
    spec = declared.get(short)
    if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
        known = ", ".join(sorted(str(k) for k in declared)) or "none"
        raise RegistryError(
            f"artifact {name!r} is not declared in {dvc_yaml} at commit {commit[:8]} (declared: {known})",
            f"declare it under `artifacts:` in {dvc_yaml} ({short}: {{path: PATH, type: model}}) and commit",
        )
    rel = posixpath.normpath(spec["path"])
    if rel.startswith("../") or rel == ".." or posixpath.isabs(rel):
        raise RegistryError(f"artifact {name!r} has a path outside its folder: {spec['path']!r}")
    found = ArtifactAtCommit(name=name, commit=commit, path=_join(base, rel), md5=None, type=spec.get("type"))

    from gitmlops.adapters.dvc_repo import parse_dvcfile, parse_lock

    stages = parse_lock(git.file_at(commit, _join(base, "dvc.lock")))
    produced = {out["path"] for stage in stages.values() for out in stage["outs"]}
    for stage in stages.values():
        for out in stage["outs"]:
            if out["path"] == rel:
                found.md5, found.size, found.hash = out["md5"], out["size"], out["hash"]
                found.source = _join(base, "dvc.lock")
    # the pipeline's inputs: deps no stage produces (the data, and any code listed as a dep)
    for stage in stages.values():
        for dep in stage["deps"]:
            if dep["path"] not in produced:
                found.deps[_join(base, dep["path"])] = dep["md5"]
    if found.md5 is None:
        dvcfile = _join(base, rel + ".dvc")
        outs = parse_dvcfile(git.file_at(commit, dvcfile))
        if outs:
            found.md5, found.size, found.hash = outs[0]["md5"], outs[0]["size"], outs[0]["hash"]
            found.source = dvcfile
    return found


def lineage_metadata(git: GitRepo, artifact: ArtifactAtCommit) -> dict[str, Any]:
    """The metadata block of a registration: commit, artifact, data deps, params hash, metrics,
    reference profile (each None when the commit does not have it)."""
    from gitmlops.config import params_hash

    base, _ = split_name(artifact.name)
    params = _yaml(git, artifact.commit, _join(base, "params.yaml"))
    params = params if isinstance(params, dict) else None
    paths = (params or {}).get("paths") or {}
    metrics_path = _join(base, str(paths.get("metrics") or _declared_metrics(git, artifact.commit, base)
                                   or DEFAULT_METRICS))
    metrics_text = git.file_at(artifact.commit, metrics_path)
    metrics: Any = None
    if metrics_text is not None:
        try:
            metrics = json.loads(metrics_text)
        except ValueError:
            metrics = None
    profile = _join(base, str(paths.get("reference_profile") or DEFAULT_REFERENCE_PROFILE))
    return {
        "commit": artifact.commit,
        "artifact": {
            "path": artifact.path,
            "md5": artifact.md5,
            "hash": artifact.hash,
            "size": artifact.size,
            "type": artifact.type,
            "source": artifact.source,
        },
        "deps": dict(sorted(artifact.deps.items())),
        "params_hash": params_hash(params) if params is not None else None,
        "metrics": metrics,
        "metrics_path": metrics_path if metrics is not None else None,
        "reference_profile": profile if _present(git, artifact.commit, profile, base) else None,
    }


def _present(git: GitRepo, commit: str, path: str, base: str) -> bool:
    """Whether ``path`` exists at ``commit``: in git, as a .dvc file, or as a dvc.lock output."""
    if git.exists_at(commit, path) or git.exists_at(commit, path + ".dvc"):
        return True
    from gitmlops.adapters.dvc_repo import parse_lock

    stages = parse_lock(git.file_at(commit, _join(base, "dvc.lock")))
    return any(_join(base, out["path"]) == path for stage in stages.values() for out in stage["outs"])


def _declared_metrics(git: GitRepo, commit: str, base: str) -> str | None:
    """The first metrics file a stage of dvc.yaml declares (params.yaml holds no paths)."""
    doc = _yaml(git, commit, _join(base, "dvc.yaml"))
    stages = doc.get("stages") if isinstance(doc, dict) else None
    for spec in (stages or {}).values() if isinstance(stages, dict) else []:
        for item in (spec.get("metrics") or []) if isinstance(spec, dict) else []:
            path = item if isinstance(item, str) else next(iter(item), None) if isinstance(item, dict) else None
            if isinstance(path, str):
                return path
    return None
