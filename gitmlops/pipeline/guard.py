"""Guards around `gitmlops run`: one run per checkout, and SIGTERM handled like Ctrl-C.

The run lock is taken before params.yaml or dvc.yaml is written, so a second run in the same
checkout is refused (naming the first) instead of rewriting the files the first run's stages read.
The lock is an advisory ``flock`` on a file under .dvc/tmp/: the kernel drops it when the holder
exits, however it exits (kill -9 included), so a stale lock never blocks the next run.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from gitmlops.errors import RunLockedError

LOCK_FILE = Path(".dvc") / "tmp" / "gitmlops-run.lock"


@contextmanager
def run_lock(root: Path) -> Iterator[None]:
    """Hold the checkout's run lock; RunLockedError (exit 2) names the holder when it is taken."""
    import fcntl

    path = root / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
            raise RunLockedError(
                f"another gitmlops run is in progress in this checkout ({holder})",
                "wait for it to finish (or stop it); use a separate clone or `gitmlops run --sweep` "
                "to run several configurations at once",
            ) from None
        os.ftruncate(fd, 0)
        command = " ".join(["gitmlops", *sys.argv[1:]])[:300]
        os.pwrite(fd, f"pid {os.getpid()}: {command}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _stop_children(signum: int) -> None:
    """Pass the signal on to the stage commands this process started (they are its children)."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            child.send_signal(signum)
        except psutil.Error:
            continue


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While active, SIGTERM stops the stage commands and unwinds like Ctrl-C (KeyboardInterrupt),
    so the same clean-up restores params.yaml and dvc.yaml (CI cancel, `timeout`, `docker stop`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _on_term(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one clean-up, even if the signal repeats
        _stop_children(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
