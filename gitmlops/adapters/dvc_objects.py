"""Content-addressed objects in the local DVC cache and in a DVC remote: look up, fetch, download,
and whether a remote answers at all. Remote failures become RemoteError (:mod:`.dvc_remote`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gitmlops.adapters.dvc_logs import quiet_dvc
from gitmlops.adapters.dvc_remote import RemoteRef, remote_failure, remote_or_dvc_error
from gitmlops.errors import GitMLOpsError, RemoteError

if TYPE_CHECKING:
    from gitmlops.adapters.dvc_repo import DvcRepo


def _remote_odb(dvc: DvcRepo, hash_name: str, remote: str | None) -> tuple[Any, RemoteRef]:
    ref = dvc.remote_ref(remote)
    try:
        with quiet_dvc() as capture:
            return dvc.repo.cloud.get_remote_odb(name=remote, command="push", hash_name=hash_name), ref
    except Exception as exc:
        raise remote_or_dvc_error(exc, ref, "open the remote", capture.errors) from exc


def _object_exists(odb: Any, md5: str, ref: RemoteRef) -> bool:
    """Whether the remote has object ``md5``; RemoteError when it cannot tell (an ``exists`` that
    swallows errors would report a missing object for an unreachable remote)."""
    try:
        with quiet_dvc():
            odb.fs.info(odb.oid_to_path(md5))
    except FileNotFoundError as exc:
        failure = remote_failure(exc, ref, "look up an object")
        if failure is not None:
            raise failure from exc
        return False
    except Exception as exc:
        raise remote_or_dvc_error(exc, ref, "look up an object") from exc
    return True


def _download(odb: Any, md5: str, dest: str | os.PathLike[str], ref: RemoteRef) -> None:
    try:
        with quiet_dvc() as capture:
            odb.fs.get_file(odb.oid_to_path(md5), os.fspath(dest))
    except Exception as exc:
        raise remote_or_dvc_error(exc, ref, "download an object", capture.errors) from exc


def _cache_odb(dvc: DvcRepo, hash_name: str) -> Any:
    return dvc.repo.cache.legacy if hash_name == "md5-dos2unix" else dvc.repo.cache.local


def missing_in_remote(
    dvc: DvcRepo, objects: Sequence[tuple[str, str]], remote: str | None = None
) -> list[str]:
    """The md5s among ``objects`` ((md5, hash name) pairs) that the DVC remote does not have."""
    missing = []
    for md5, hash_name in objects:
        odb, ref = _remote_odb(dvc, hash_name, remote)
        if not _object_exists(odb, md5, ref):
            missing.append(md5)
    return missing


def fetch_object(
    dvc: DvcRepo, md5: str, hash_name: str, dest: str | os.PathLike[str], remote: str | None = None
) -> str:
    """Copy the object ``md5`` to ``dest`` from the local cache, else from the DVC remote.

    Returns where it came from ("cache" or "remote"); RemoteError (exit 3) when the remote fails or
    lacks it too. The caller verifies the bytes.
    """
    import shutil

    cache = _cache_odb(dvc, hash_name)
    cached = cache.oid_to_path(md5)
    if os.path.isfile(cached):
        shutil.copyfile(cached, dest)
        return "cache"
    odb, ref = _remote_odb(dvc, hash_name, remote)
    if not _object_exists(odb, md5, ref):
        raise RemoteError(
            f"object {md5} is neither in the DVC cache nor in DVC remote {ref.label}",
            "push it from a clone that has it (`gitmlops data push`), or check that this is the remote "
            "your team uses (`gitmlops remote list`)",
            "object_missing",
        )
    _download(odb, md5, dest, ref)
    return "remote"


def cached_object_path(dvc: DvcRepo, md5: str, hash_name: str = "md5") -> str | None:
    """Where the object ``md5`` lives in this repo's local DVC cache, or None when the cache lacks it."""
    path = _cache_odb(dvc, hash_name).oid_to_path(md5)
    return path if os.path.isfile(path) else None


def download_from_remote(
    dvc: DvcRepo, md5: str, hash_name: str, dest: str | os.PathLike[str], remote: str | None = None
) -> bool:
    """Copy object ``md5`` from the DVC remote (never the cache) to ``dest``; False when the remote
    lacks it, RemoteError when the remote cannot be asked."""
    odb, ref = _remote_odb(dvc, hash_name, remote)
    if not _object_exists(odb, md5, ref):
        return False
    _download(odb, md5, dest, ref)
    return True


def remote_answers(dvc: DvcRepo, name: str) -> str | None:
    """None when DVC remote ``name`` can be listed (it answers), else what went wrong, in one line."""
    try:
        odb, _ = _remote_odb(dvc, "md5", name)
        odb.fs.exists(odb.path)
    except GitMLOpsError as exc:
        return exc.message
    except Exception as exc:  # noqa: BLE001 - any filesystem error means the remote does not answer
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    return None
