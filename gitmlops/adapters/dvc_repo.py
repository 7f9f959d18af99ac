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
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from gitmlops.errors import (
    DataError,
    ExternalError,
    GitMLOpsError,
    NotADvcRepoError,
    StageFailedError,
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


class _Capture(logging.Handler):
    """Turns DVC's log records into progress events (and keeps DVC quiet)."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        super().__init__(logging.DEBUG)
        self.callback = callback
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.INFO:
            return
        msg = str(record.msg)
        args = record.args if isinstance(record.args, tuple) else ()
        text = record.getMessage()
        self.messages.append(text)
        if self.callback is None:
            return
        if msg.startswith("Running stage") and args:
            self.callback("start", str(args[0]), "")
        elif "didn't change, skipping" in msg and args:
            self.callback("skip", str(args[0]), "")
        elif "is cached - skipping run" in msg and args:
            self.callback("cached", str(args[0]), "")
        elif record.levelno >= logging.WARNING:
            self.callback("log", "", text)


@contextlib.contextmanager
def quiet_dvc(callback: ProgressCallback | None = None) -> Iterator[_Capture]:
    """Capture DVC's logging for the duration of the block."""
    logger = logging.getLogger("dvc")
    handler = _Capture(callback)
    old = (logger.handlers[:], logger.propagate, logger.level)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.handlers, logger.propagate = old[0], old[1]
        logger.setLevel(old[2])


def _dvc_error(exc: Exception, action: str) -> GitMLOpsError:
    from dvc.exceptions import DvcException

    cause = exc
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

            with quiet_dvc():
                self._repo = Repo(str(self.root))
        return self._repo

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
        """Configured remotes by name."""
        return dict(self.repo.config.get("remote", {}))

    def add_remote(self, name: str, url: str, default: bool = True) -> None:
        """Add a remote (and make it the default)."""
        with self.repo.config.edit("repo") as conf:
            conf.setdefault("remote", {})[name] = {"url": url}
            if default:
                conf.setdefault("core", {})["remote"] = name

    # -- data ---------------------------------------------------------------------------------
    def add(self, targets: Sequence[str]) -> list[str]:
        """``dvc add`` targets; returns the .dvc files written (relative paths)."""
        from dvc.exceptions import DvcException

        try:
            with quiet_dvc():
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
                result[os.path.relpath(out.fs_path, self.root)] = stage.addressing
        return result

    def push(self, targets: Sequence[str] = (), jobs: int | None = None) -> int:
        """Push cached data to the default remote; returns the number of files pushed."""
        from dvc.exceptions import DvcException

        try:
            with quiet_dvc():
                return int(self.repo.push(targets=list(targets) or None, jobs=jobs))
        except DvcException as exc:
            raise _dvc_error(exc, "push") from exc

    def pull(self, targets: Sequence[str] = (), jobs: int | None = None) -> dict[str, Any]:
        """Pull data from the default remote and check it out."""
        from dvc.exceptions import DvcException

        try:
            with quiet_dvc():
                return dict(self.repo.pull(targets=list(targets) or None, jobs=jobs))
        except DvcException as exc:
            raise _dvc_error(exc, "pull") from exc

    def data_status(self, not_in_remote: bool = True) -> dict[str, Any]:
        """DVC's data status (committed/uncommitted/not in remote)."""
        from dvc.exceptions import DvcException

        try:
            with quiet_dvc():
                return dict(
                    self.repo.data_status(granular=False, not_in_remote=not_in_remote, remote_refresh=True)
                )
        except DvcException as exc:
            raise _dvc_error(exc, "compute the data status") from exc

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
            with quiet_dvc():
                return dict(self.repo.status())
        except DvcException as exc:
            raise _dvc_error(exc, "compute the pipeline status") from exc

    def reproduce(
        self,
        targets: Sequence[str] = (),
        force: bool = False,
        single_item: bool = False,
        callback: ProgressCallback | None = None,
    ) -> list[str]:
        """``dvc repro`` in-process; returns the names of the stages that ran."""
        from dvc.exceptions import DvcException, ReproductionError
        from dvc.stage.exceptions import StageCmdFailedError

        try:
            with quiet_dvc(callback):
                stages = self.repo.reproduce(
                    targets=list(targets) or None,
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
        return [s.addressing for s in stages]

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

        with quiet_dvc():
            return list(dvc.api.exp_show(repo=str(self.root), num=-1 if all_commits else 1))

    def exp_diff(self, a: str | None, b: str | None) -> dict[str, Any]:
        """``dvc exp diff --json A B``."""
        args = ["exp", "diff", "--json"]
        args += [r for r in (a, b) if r]
        out = self.cli(*args).stdout.strip()
        return json.loads(out) if out else {}


def _interrupted(exc: Exception) -> bool:
    text = str(exc)
    return "-2" in text.rsplit("exited with", maxsplit=1)[-1] or "130" in text.rsplit("exited with", maxsplit=1)[-1]
