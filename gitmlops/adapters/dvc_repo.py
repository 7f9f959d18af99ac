"""All DVC access of gitmlops goes through this module.

DVC is driven in-process through ``dvc.repo.Repo`` (its Python API) where that is fast and stable,
and through ``python -m dvc`` for experiment queues, whose workers DVC runs as processes anyway.
DVC's own log output is captured and turned into events; the library stays silent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import posixpath
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from gitmlops.adapters.dvc_remote import (
    SECRET_ENV,
    RemoteRef,
    is_secret,
    missing_objects_error,
    no_remote_error,
    plain_config,
    remote_failure,
    remote_or_dvc_error,
    safe_url,
)
from gitmlops.errors import (
    DataError,
    ExternalError,
    GitMLOpsError,
    NotADvcRepoError,
    RemoteError,
    StageFailedError,
    UsageError,
)

#: Called with (event, stage name, detail) while a pipeline runs:
#: events are "start", "skip", "cached", "log".
ProgressCallback = Callable[[str, str, str], None]


def is_dvc_repo(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` has a ``.dvc`` folder."""
    return (Path(root) / ".dvc").is_dir()


def stage_env() -> dict[str, str]:
    """Environment for stage commands: `python` resolves to the interpreter running gitmlops."""
    bindir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[:1] != [bindir]:
        path = bindir + os.pathsep + path
    return {"PATH": path}


def _stage_name(addressing: object) -> str:
    """'dvc.yaml:train' -> 'train', 'path/to/dvc.yaml:train' -> 'path/to:train' (DVC addresses
    stages relative to the cwd, the repo root; a model's folder is kept to tell its stages apart)."""
    text = str(addressing)
    if ".yaml:" not in text:
        return text
    file, name = text.rsplit(":", 1)
    folder = os.path.dirname(file)
    return f"{folder}:{name}" if folder else name


class _Capture(logging.Handler):
    """Turns DVC's log records into progress events (and keeps DVC quiet)."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        super().__init__(logging.DEBUG)
        self.callback = callback
        self.messages: list[str] = []
        self.errors: list[BaseException] = []  # exceptions DVC logged and swallowed (failed transfers)

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.errors.append(record.exc_info[1])
        if record.levelno < logging.INFO:
            return
        msg = str(record.msg)
        args = record.args if isinstance(record.args, tuple) else ()
        text = record.getMessage()
        self.messages.append(text)
        if self.callback is None:
            return
        name = _stage_name(args[0]) if args else ""
        if msg.startswith("Running stage") and args:
            self.callback("start", name, "")
        elif "didn't change, skipping" in msg and args:
            if not name.endswith(".dvc"):  # data sources tracked by .dvc files are not stages
                self.callback("skip", name, "")
        elif "is cached - skipping run" in msg and args:
            self.callback("cached", name, "")
        elif record.levelno >= logging.WARNING:
            self.callback("log", "", text)


@contextlib.contextmanager
def stage_output_to_stderr() -> Iterator[None]:
    """Send what stage commands print to stderr (fd level: they are subprocesses), so stdout carries
    only what gitmlops itself prints and `--json` output parses."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


#: DVC logs through these (dvc_data and dvc_objects report failed transfers, then carry on).
DVC_LOGGERS = ("dvc", "dvc_data", "dvc_objects")


@contextlib.contextmanager
def quiet_dvc(callback: ProgressCallback | None = None) -> Iterator[_Capture]:
    """Capture DVC's logging for the duration of the block."""
    handler = _Capture(callback)
    saved = []
    for name in DVC_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate, logger.level))
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO if name == "dvc" else logging.WARNING)
    try:
        yield handler
    finally:
        for logger, handlers, propagate, level in saved:
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)


def _dvc_error(exc: Exception, action: str) -> GitMLOpsError:
    from dvc.exceptions import DvcException

    cause: BaseException = exc
    while cause.__cause__ is not None and isinstance(cause.__cause__, DvcException):
        cause = cause.__cause__
    return ExternalError(f"DVC could not {action}: {cause}")


class DvcRepo:
    """A DVC project at ``root`` (opened lazily, closed with :meth:`close`)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not is_dvc_repo(self.root):
            raise NotADvcRepoError(str(self.root))
        self._repo: Any = None

    @property
    def repo(self) -> Any:
        """The ``dvc.repo.Repo`` object."""
        if self._repo is None:
            from dvc.repo import Repo

            with self._session():
                self._repo = Repo(str(self.root))
        return self._repo

    @contextlib.contextmanager
    def _session(self, callback: ProgressCallback | None = None) -> Iterator[_Capture]:
        """Run DVC from the repo root (DVC resolves paths and targets against the cwd), quietly."""
        old = os.getcwd()
        os.chdir(self.root)
        try:
            with quiet_dvc(callback) as capture:
                yield capture
        finally:
            os.chdir(old)

    def close(self) -> None:
        """Release DVC's locks and caches."""
        if self._repo is not None:
            self._repo.close()
            self._repo = None

    def __enter__(self) -> DvcRepo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- set-up -------------------------------------------------------------------------------
    @staticmethod
    def init(root: str | os.PathLike[str]) -> DvcRepo:
        """``dvc init`` in a git work tree (no-op if already done)."""
        if not is_dvc_repo(root):
            from dvc.repo import Repo

            with quiet_dvc():
                Repo.init(str(root)).close()
        return DvcRepo(root)

    def config_get(self, section: str, key: str | None = None) -> Any:
        """A value (or a whole section) of the merged DVC config."""
        conf = self.repo.config
        sec = conf.get(section, {})
        return sec if key is None else sec.get(key)

    def config_set(self, section: str, values: dict[str, Any], level: str = "repo") -> None:
        """Set keys of a DVC config section (``level``: repo or local)."""
        with self.repo.config.edit(level) as conf:
            conf.setdefault(section, {})
            conf[section].update(values)

    def remotes(self) -> dict[str, Any]:
        """Configured remotes by name (all config levels merged)."""
        return dict(self.repo.config.get("remote", {}))

    def config_level(self, level: str) -> dict[str, Any]:
        """The DVC config of one level (system, global, repo = .dvc/config, local = .dvc/config.local)."""
        return plain_config(self.repo.config.read(level))

    @contextlib.contextmanager
    def edit_config(self, level: str) -> Iterator[dict[str, Any]]:
        """Edit one level of the DVC config; DVC validates it on the way out (UsageError when it refuses)."""
        from dvc.config import ConfigError as DvcConfigError

        try:
            with self._session(), self.repo.config.edit(level) as conf:
                yield conf
        except DvcConfigError as exc:
            raise UsageError(f"DVC refuses the configuration: {exc}",
                             "check the option names (see `dvc remote modify --help`)") from None

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Check a config dict against DVC's schema; UsageError naming what DVC refused."""
        from dvc.config import Config
        from dvc.config import ConfigError as DvcConfigError

        try:
            Config.validate(config)
        except DvcConfigError as exc:
            raise UsageError(f"DVC refuses the remote configuration: {exc}",
                             "check the option names (see `dvc remote modify --help`)") from None

    def remote_ref(self, name: str | None = None) -> RemoteRef:
        """The remote ``name`` (default: the default remote) as messages may show it."""
        conf = self.repo.config
        name = name or conf.get("core", {}).get("remote")
        spec = conf.get("remote", {}).get(name, {}) if name else {}
        secrets = [str(v) for k, v in spec.items() if is_secret(str(k))]
        secrets += [os.environ[k] for k in SECRET_ENV if os.environ.get(k)]
        url = spec.get("url")
        return RemoteRef(name, safe_url(str(url)) if url else None, tuple(secrets))

    def add_remote(self, name: str, url: str, default: bool = True, level: str = "repo") -> None:
        """Add a remote at config ``level`` (and make it the default there)."""
        with self.edit_config(level) as conf:
            conf.setdefault("remote", {})[name] = {"url": url}
            if default:
                conf.setdefault("core", {})["remote"] = name

    # -- data ---------------------------------------------------------------------------------
    def add(self, targets: Sequence[str]) -> list[str]:
        """``dvc add`` targets; returns the .dvc files written (relative paths)."""
        from dvc.exceptions import DvcException

        try:
            with self._session():
                stages = self.repo.add([str(self.root / t) for t in targets])
        except DvcException as exc:
            raise DataError(f"DVC refused to track {', '.join(targets)}: {exc}") from exc
        return [os.path.relpath(s.path, self.root) for s in stages]

    def outs_of_stages(self) -> dict[str, str]:
        """Output path -> name of the pipeline stage that writes it (dvc.yaml stages only)."""
        result: dict[str, str] = {}
        for stage in self.repo.index.stages:
            if not getattr(stage, "cmd", None):
                continue
            for out in stage.outs:
                result[os.path.relpath(out.fs_path, self.root)] = stage.name
        return result

    def push(self, targets: Sequence[str] = (), jobs: int | None = None) -> dict[str, Any]:
        """Push cached data to the default remote: files and bytes sent, DVC's object count, the remote."""
        remote = self.remote_ref()
        pending, unpushed = self._pending_push(targets, remote)
        with self._session() as capture:
            try:
                objects = int(self.repo.push(targets=list(targets) or None, jobs=jobs))
            except Exception as exc:  # DVC lets fsspec/botocore errors through: map them here
                raise remote_or_dvc_error(exc, remote, "push", capture.errors) from exc
        if not objects and unpushed:
            lost = [p for p in self._not_in_cache(targets) if p in unpushed]
            if lost:
                raise DataError(f"cannot push {', '.join(lost)}: its data is neither in the DVC cache nor in "
                                f"remote {remote.label}",
                                "rebuild it (`gitmlops run`) or restore the file and `gitmlops data add` it again")
        moved = pending if objects else {}
        return {"remote": remote.to_dict(), "files": len(moved),
                "bytes": sum(moved.values()), "objects": objects, "paths": sorted(moved)}

    def _pending_push(self, targets: Sequence[str], remote: RemoteRef) -> tuple[dict[str, int], set[str]]:
        """Work-tree files whose data the remote lacks (path -> size), and every path DVC's data status
        says the remote lacks (files and folders, present or not)."""
        raw = self.data_status(not_in_remote=True, granular=True, remote=remote)
        wanted = [t.rstrip("/") for t in targets]
        pending: dict[str, int] = {}
        unpushed = {str(p).rstrip("/") for p in raw.get("not_in_remote") or []}
        for path in raw.get("not_in_remote") or []:
            full = self.root / path
            if path.endswith("/") or not full.is_file():
                continue
            if wanted and not any(path == t or path.startswith(t + "/") for t in wanted):
                continue
            pending[path] = full.stat().st_size
        return pending, unpushed

    def _cache_objects(self) -> dict[str, int]:
        """Objects of the local cache (path -> size), to measure what a fetch brought in."""
        base = Path(self.repo.cache.local.path)
        if not base.is_dir():
            return {}
        return {str(p): p.stat().st_size for p in base.glob("??/*") if p.is_file()}

    def pull(self, targets: Sequence[str] = (), jobs: int | None = None, allow_missing: bool = False) -> dict[str, Any]:
        """Fetch data from the default remote and check it out: files and bytes fetched, paths changed.

        ``allow_missing`` skips outputs that were never produced (no dvc.lock entry) instead of failing.
        RemoteError (exit 3) when the remote fails or lacks data the work tree needs, naming it; the
        work tree is left as it was when nothing could be fetched.
        """
        from dvc.exceptions import CheckoutError, DownloadError

        remote = self.remote_ref()
        before = self._cache_objects()
        wanted = list(targets) or None
        with self._session() as capture:
            try:
                objects = int(self.repo.fetch(targets=wanted, jobs=jobs))
            except DownloadError as exc:
                failure = remote_failure(exc, remote, "pull", capture.errors)
                raise failure or missing_objects_error(remote, self._not_in_cache(targets) or [str(exc)]) from exc
            except Exception as exc:
                raise remote_or_dvc_error(exc, remote, "pull", capture.errors) from exc
            try:
                result = dict(self.repo.checkout(targets=wanted, allow_missing=allow_missing))
            except CheckoutError as exc:
                raise missing_objects_error(remote, [str(t) for t in exc.target_infos]) from exc
            except Exception as exc:
                raise remote_or_dvc_error(exc, remote, "check out the pulled data", capture.errors) from exc
        missing = self._not_in_cache(targets)
        if missing:
            raise missing_objects_error(remote, missing)
        fetched = {p: n for p, n in self._cache_objects().items() if p not in before}
        data = {p: n for p, n in fetched.items() if not p.endswith(".dir")}
        return {"remote": remote.to_dict(), "files": len(data),
                "bytes": sum(data.values()), "objects": objects,
                **{key: sorted(map(str, result.get(key) or [])) for key in ("added", "modified", "deleted")}}

    def _not_in_cache(self, targets: Sequence[str] = ()) -> list[str]:
        """Committed outputs (under ``targets``) whose data the local cache lacks."""
        raw = self.data_status(not_in_remote=False)
        wanted = [t.rstrip("/") for t in targets]
        found = [str(p).rstrip("/") for p in raw.get("not_in_cache") or []]
        return sorted(p for p in found if not wanted or any(p == t or p.startswith(t + "/") for t in wanted))

    def data_status(self, not_in_remote: bool = True, granular: bool = False,
                    remote: RemoteRef | None = None) -> dict[str, Any]:
        """DVC's data status (committed/uncommitted/not in cache/not in remote)."""
        ref = remote or (self.remote_ref() if not_in_remote else RemoteRef(None, None))
        with self._session() as capture:
            try:
                return dict(
                    self.repo.data_status(granular=granular, not_in_remote=not_in_remote, remote_refresh=True)
                )
            except Exception as exc:
                raise remote_or_dvc_error(exc, ref, "compute the data status", capture.errors) from exc

    def tracked_files(self) -> list[dict[str, Any]]:
        """Data tracked with .dvc files: path, md5, size, files (for folders)."""
        result = []
        for stage in self.repo.index.stages:
            if getattr(stage, "cmd", None) or not stage.is_data_source:
                continue
            for out in stage.outs:
                meta = out.meta
                result.append(
                    {
                        "path": os.path.relpath(out.fs_path, self.root),
                        "dvcfile": os.path.relpath(stage.path, self.root),
                        "md5": out.hash_info.value if out.hash_info else None,
                        "size": getattr(meta, "size", None),
                        "nfiles": getattr(meta, "nfiles", None),
                    }
                )
        return sorted(result, key=lambda r: r["path"])

    # -- pipeline -----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """``dvc status`` of the pipeline: stage -> list of changes (empty dict when up to date)."""
        from dvc.exceptions import DvcException

        try:
            with self._session():
                return dict(self.repo.status())
        except DvcException as exc:
            raise _dvc_error(exc, "compute the pipeline status") from exc

    def reproduce(
        self,
        targets: Sequence[str] = (),
        force: bool = False,
        single_item: bool = False,
        callback: ProgressCallback | None = None,
        dvcfiles: Sequence[str] = (),
    ) -> list[str]:
        """``dvc repro`` in-process; returns the names of the stages that ran.

        ``targets`` are stages of the first of ``dvcfiles`` (default: dvc.yaml at the root); with no
        target, the stages of ``dvcfiles`` (in one graph), or every pipeline of the repository."""
        from dvc.exceptions import DvcException, ReproductionError
        from dvc.stage.exceptions import StageCmdFailedError

        try:
            with self._session(callback), stage_output_to_stderr():
                stages = self.repo.reproduce(
                    targets=[f"{(list(dvcfiles) or ['dvc.yaml'])[0]}:{t}" for t in targets] or list(dvcfiles) or None,
                    force=force,
                    single_item=single_item,
                    run_env=stage_env(),
                )
        except ReproductionError as exc:
            cause = exc.__cause__
            if isinstance(cause, StageCmdFailedError):
                if _interrupted(cause):
                    raise KeyboardInterrupt from exc
                raise StageFailedError(
                    f"{exc}: {cause}",
                    "fix the stage command (its output is above); nothing from the failed stage was "
                    "cached or recorded in dvc.lock",
                ) from exc
            raise StageFailedError(f"{exc}: {cause}") from exc
        except DvcException as exc:
            raise _dvc_error(exc, "run the pipeline") from exc
        return [s.name for s in stages if getattr(s, "name", None)]

    # -- experiments (through the DVC CLI) ----------------------------------------------------
    def cli(self, *args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``python -m dvc ARGS`` in the repo."""
        env = dict(os.environ)
        env.update(stage_env())
        env["DVC_NO_ANALYTICS"] = "1"
        proc = subprocess.run(
            [sys.executable, "-m", "dvc", *args],
            cwd=self.root,
            env=env,
            capture_output=capture,
            text=True,
        )
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout or "").strip().splitlines()
            raise ExternalError(
                f"`dvc {' '.join(args)}` failed: {' '.join(detail[-5:])}",
                "rerun it by hand to see DVC's full output",
            )
        return proc

    def exp_show(self, all_commits: bool = False) -> list[dict[str, Any]]:
        """Experiments of HEAD (DVC's ``dvc.api.exp_show`` rows)."""
        import dvc.api

        with self._session():
            return list(dvc.api.exp_show(repo=str(self.root), num=-1 if all_commits else 1))

    def exp_diff(self, a: str | None, b: str | None) -> dict[str, Any]:
        """``dvc exp diff --json A B``."""
        args = ["exp", "diff", "--json"]
        args += [r for r in (a, b) if r]
        out = self.cli(*args).stdout.strip()
        return json.loads(out) if out else {}

    # -- monitoring (appended for gitmlops.monitor) -------------------------------------------
    def read_bytes_at(self, path: str, rev: str | None = None) -> bytes:
        """The bytes of a DVC- or git-tracked file at revision ``rev`` (from the cache or remote).

        RemoteError when the remote fails or lacks the data, DataError when the file is not tracked.
        """
        import dvc.api

        remote = self.remote_ref()
        # the work tree's remotes (all options, config.local included), not what an old commit's
        # .dvc/config said: a version registered before a switch of remotes still reads
        remotes = {name: spec for name, spec in plain_config(self.remotes()).items() if spec.get("url")}
        config = {"remote": remotes, "core": {"remote": remote.name}} if remote.name else None
        try:
            with quiet_dvc() as capture, dvc.api.open(path, repo=str(self.root), rev=rev, mode="rb",
                                                      config=config) as handle:
                return bytes(handle.read())
        except Exception as exc:  # DVC, fsspec and the S3 client all raise their own
            failure = remote_failure(exc, remote, f"read {path}", capture.errors)
            if failure is not None:
                raise failure from exc
            if not isinstance(exc, OSError) and "dvc" not in type(exc).__module__:
                raise
            text = " ".join(str(exc).split())[:300]
            if remote.name is None:  # DVC then says "does not exist" of data it could not fetch
                raise no_remote_error(f"read {path} at {rev or 'the work tree'}") from exc
            if "missing cache files" in text or "not in cache" in text or "does not exist neither" in text:
                raise missing_objects_error(remote, [f"{path} at {rev or 'the work tree'}"], "read") from exc
            raise DataError(
                f"cannot read {path} at {rev or 'the work tree'}: {remote.scrub(text)}",
                "check that the file was tracked and pushed at that commit (`gitmlops data push`)",
            ) from exc


def _interrupted(exc: Exception) -> bool:
    text = str(exc)
    return "-2" in text.rsplit("exited with", maxsplit=1)[-1] or "130" in text.rsplit("exited with", maxsplit=1)[-1]


# -- registry: content-addressed objects in the cache and the remote (added by the registry pillar) --


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


# -- pull-request report: .dvc files and dvc.lock read as data (added by the CI-bots pillar) -----------


def _out_entry(out: Any, wdir: str = "") -> dict[str, Any] | None:
    if not isinstance(out, dict) or not isinstance(out.get("path"), str):
        return None
    path = posixpath.normpath(posixpath.join(wdir, out["path"]) if wdir else out["path"])
    return {
        "path": path,
        "md5": out.get("md5") or out.get("etag") or out.get("checksum"),
        "size": out.get("size"),
        "nfiles": out.get("nfiles"),
        # DVC 2 files carry no `hash:` key and hashed text with LF endings ("md5-dos2unix").
        "hash": out.get("hash", "md5-dos2unix"),
    }


def parse_dvcfile(text: str | None, dvcfile: str = "") -> list[dict[str, Any]]:
    """The outputs a ``.dvc`` file's text records (path relative to the repo root, md5, size, nfiles)."""
    import yaml

    try:
        doc = yaml.load(text or "", Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError:
        return []
    wdir = os.path.dirname(dvcfile)
    outs = doc.get("outs") if isinstance(doc, dict) else None
    return [e for e in (_out_entry(o, wdir) for o in outs or []) if e]


def parse_lock(text: str | None) -> dict[str, dict[str, Any]]:
    """``dvc.lock`` text as stage -> {"cmd", "deps", "outs", "params"}, in file order; deps and outs
    are entries as :func:`parse_dvcfile` returns them, params ``{"params.yaml": {key: value}}``.
    The one reader of dvc.lock in gitmlops (empty when the text is missing or invalid)."""
    import yaml

    try:
        doc = yaml.load(text or "", Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError:
        return {}
    stages = doc.get("stages") if isinstance(doc, dict) else None
    result: dict[str, dict[str, Any]] = {}
    for name, stage in (stages or {}).items():
        if not isinstance(stage, dict):
            continue
        entry: dict[str, Any] = {
            key: [e for e in (_out_entry(o) for o in stage.get(key) or []) if e] for key in ("deps", "outs")
        }
        cmd = stage.get("cmd")
        entry["cmd"] = " && ".join(map(str, cmd)) if isinstance(cmd, list) else (None if cmd is None else str(cmd))
        params = stage.get("params")
        entry["params"] = params if isinstance(params, dict) else {}
        result[str(name)] = entry
    return result


# -- lineage (verify): stored copies and an isolated cache for a second work tree (added by the lineage pillar) --


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


def remote_config(dvc: DvcRepo) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """The default remote's name and every remote's whole configuration (all options, all config
    levels merged, the local one included; relative local paths made absolute)."""
    from dvc.exceptions import DvcException

    try:
        with dvc._session():
            remotes = {name: spec for name, spec in plain_config(dvc.remotes()).items() if spec.get("url")}
            default = dvc.config_get("core", "remote")
    except DvcException as exc:
        raise _dvc_error(exc, "read the remote configuration") from exc
    return (str(default) if default else None), remotes


def isolate_cache(dvc: DvcRepo, cache_dir: str | os.PathLike[str], default_remote: str | None,
                  remotes: dict[str, dict[str, Any]]) -> None:
    """Point this repo at its own cache folder and at the given remotes (its ``.dvc/config.local``).

    Used for a throw-away work tree: data then comes from the remote, never from another cache.
    Every option of every remote is written as given (paths absolute), so the tree reaches the same
    remotes, with the same endpoint, region, profile and credentials, as the user's work tree.
    """
    with dvc._session(), dvc.repo.config.edit("local") as conf:
        conf.setdefault("cache", {})["dir"] = os.fspath(cache_dir)
        section = conf.setdefault("remote", {})
        for name, spec in remotes.items():
            section[name] = dict(spec)
        if default_remote:
            conf.setdefault("core", {})["remote"] = default_remote


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
