"""From a REF to a checked bundle folder: a local folder as is, a registry reference fetched via DVC.

For a registry reference (``model#prod``, ``model@v1.2.0``, ``model@latest``) the model file is
fetched through DVC at the version's commit and md5-checked against the registry's record (by
``gitmlops.registry.get``); its ``schema.json`` (the model's sibling at the same commit) is read
through DVC the same way, the training metrics from git, and a ``metadata.json`` records where the
model came from.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from gitmlops.errors import GitMLOpsError, RemoteError, ServeError
from gitmlops.serve.model import (
    MANIFEST_FILE,
    METADATA_FILE,
    MODEL_FILE,
    SCHEMA_FILE,
    Bundle,
    BundleError,
    load_bundle,
    load_bundles,
)

METRICS_PATH = "metrics.json"


def serve_error(exc: BundleError) -> ServeError:
    """The gitmlops error for a runtime BundleError."""
    return ServeError(exc.message, exc.hint)


def is_registry_ref(ref: str) -> bool:
    """Whether ``ref`` has the shape of a registry reference (NAME@VERSION or NAME#STAGE, NAME
    possibly a monorepo ``dir/sub:name``): a ``#`` or ``@`` after the last ``/``, or a ``:``."""
    return ("@" in ref or "#" in ref) and ("/" not in ref or ":" in ref)


def ref_name(ref: str) -> str | None:
    """The artifact name of a registry reference (``churn`` of ``churn#prod``); None for a folder."""
    if not is_registry_ref(ref.strip()):
        return None
    return re.split(r"[#@]", ref.strip(), maxsplit=1)[0]


def find_folder(repo: str, ref: str) -> Path | None:
    """The bundle folder ``ref`` names (relative to the current directory, else to the repo)."""
    for base in (Path.cwd(), Path(repo)):
        candidate = (base / ref) if not Path(ref).is_absolute() else Path(ref)
        if candidate.is_dir():
            return candidate
    return None


def open_bundle(repo: str, ref: str, workdir: Path | None = None) -> Bundle:
    """A checked bundle for ``ref``; registry artifacts are fetched into ``workdir`` (default: a temp dir)."""
    if not ref or not ref.strip():
        raise ServeError("empty model reference", "pass NAME#STAGE, NAME@vX.Y.Z, NAME@latest or a bundle folder")
    folder = None if is_registry_ref(ref) else find_folder(repo, ref)
    try:
        if folder is not None:
            return load_bundle(folder)
        if not is_registry_ref(ref):
            raise ServeError(
                f"{ref!r} is neither a folder nor a registry reference",
                "pass NAME#STAGE, NAME@vX.Y.Z, NAME@latest, or a folder holding model.ubj and schema.json",
            )
        return _fetch(repo, ref.strip(), workdir)
    except BundleError as exc:
        raise serve_error(exc) from None


def open_bundles(repo: str, ref: str, workdir: Path | None = None) -> list[Bundle]:
    """The bundles ``ref`` names: one, or each model of a deploy bundle folder of several."""
    folder = None if is_registry_ref(ref) else find_folder(repo, ref)
    if folder is not None and (folder / MANIFEST_FILE).is_file():
        try:
            return load_bundles(folder)
        except BundleError as exc:
            raise serve_error(exc) from None
    return [open_bundle(repo, ref, workdir)]


def _fetch(repo: str, ref: str, workdir: Path | None) -> Bundle:
    from gitmlops import registry
    from gitmlops.models import expand_ref

    ref = expand_ref(repo, ref)  # a model's short name (churn#prod) in a repository of several
    resolved = registry.resolve(repo, ref)
    if not resolved.path or not resolved.md5:
        raise ServeError(
            f"{resolved.name}@{resolved.version} has no DVC-tracked model file at commit {resolved.commit[:8]}",
            "the model must be a DVC output (dvc.yaml/dvc.lock) committed with the registration",
        )
    target = workdir or Path(tempfile.mkdtemp(prefix="gitmlops-serve-"))
    target.mkdir(parents=True, exist_ok=True)
    registry.get(repo, ref, output=target / MODEL_FILE, force=True)
    schema_rel = str(PurePosixPath(resolved.path).parent / SCHEMA_FILE)
    (target / SCHEMA_FILE).write_bytes(_read_at(repo, schema_rel, resolved.commit))
    metadata: dict[str, Any] = {
        "name": resolved.name,
        "version": resolved.version,
        "tag": resolved.tag,
        "commit": resolved.commit,
        "stage": resolved.stage,
        "md5": resolved.md5,
        "source_path": resolved.path,
        "metrics": _metrics_at(repo, resolved.commit, resolved.metadata, resolved.name),
    }
    (target / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    return load_bundle(target, expected_md5=resolved.md5)


def _read_at(repo: str, relpath: str, commit: str) -> bytes:
    from gitmlops.adapters.dvc_repo import DvcRepo
    from gitmlops.adapters.git_repo import open_repo

    git = open_repo(repo)
    text = git.file_at(commit, relpath)
    if text is not None and not relpath.endswith(".dvc"):
        return text.encode()
    try:
        with DvcRepo(git.root) as dvc:
            return dvc.read_bytes_at(relpath, rev=commit)
    except RemoteError:
        raise  # the remote failed or lacks the data: exit 3, not a bad bundle
    except GitMLOpsError as exc:
        raise ServeError(
            f"cannot read the feature schema {relpath} at commit {commit[:8]}: {exc.message}",
            "the train stage writes schema.json next to the model; push it with `gitmlops data push`",
        ) from None


def _metrics_at(repo: str, commit: str, metadata: dict[str, Any], name: str) -> dict[str, Any]:
    found = metadata.get("metrics")
    if isinstance(found, dict):
        return found
    from gitmlops.adapters.git_repo import open_repo
    from gitmlops.models import model_of_artifact

    model = model_of_artifact(repo, name)  # a model of several keeps its metrics in its folder
    text = open_repo(repo).file_at(commit, model.rel(METRICS_PATH) if model else METRICS_PATH)
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
