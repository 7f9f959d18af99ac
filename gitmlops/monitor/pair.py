"""Write a profile's ``.bin`` and ``.json`` as a pair that a kill cannot split for readers.

Both files are written first into a staging folder next to them, ``.incoming-<random>/``, which
holds a ``.gitignore`` of ``*``: git never sees it, so ``git add -A -- monitoring`` cannot commit a
half-written file. A ``pair`` manifest, written last, says both files are complete. Then the
``.json`` is renamed into place and the ``.bin`` after it: readers list ``.bin`` files, so a profile
they see always has its summary. The writer holds an ``flock`` on the staging folder while it works.

A writer killed on the way leaves its staging folder behind; :func:`complete_pending` (run by every
writer and reader of the folder) finds the folders whose writer is gone and finishes them: with a
manifest the missing renames are done (the pair appears whole), without one the partial files are
discarded. Between the kill and that next command the only visible trace is a ``.json`` without
its ``.bin`` (when the kill fell between the two renames), which no reader takes for a profile.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gitmlops import crashpoint

STAGING_PREFIX = ".incoming-"
MANIFEST = "pair"
LOCK = ".lock"


@dataclass
class Repaired:
    """A staging folder left by a killed writer, and what was done with it."""

    folder: str
    completed: list[str]
    discarded: bool


def write_pair(bin_path: Path, blob: bytes, json_path: Path, text: str) -> None:
    """Write ``blob`` to ``bin_path`` and ``text`` to ``json_path`` (same folder) as one pair."""
    import fcntl

    folder = bin_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    complete_pending(folder)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=STAGING_PREFIX))
    fd = os.open(staging / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        (staging / ".gitignore").write_text("*\n", encoding="utf-8")
        (staging / json_path.name).write_text(text, encoding="utf-8")
        (staging / bin_path.name).write_bytes(blob)
        crashpoint.reached("profile-staged")
        _write_manifest(staging, [json_path.name, bin_path.name])
        os.replace(staging / json_path.name, json_path)
        crashpoint.reached("profile-between-renames")
        os.replace(staging / bin_path.name, bin_path)
    except BaseException:
        # A failure (not a kill) leaves nothing: neither half of the pair, nor the staging folder.
        if (staging / MANIFEST).exists() and not (staging / json_path.name).exists():
            json_path.unlink(missing_ok=True)
        os.close(fd)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.close(fd)
    shutil.rmtree(staging, ignore_errors=True)


def _write_manifest(staging: Path, names: list[str]) -> None:
    tmp = staging / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps({"rename": names}), encoding="utf-8")
    os.replace(tmp, staging / MANIFEST)


def pending(folder: Path) -> list[Path]:
    """Staging folders in ``folder`` (of writers at work, or killed ones)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f"{STAGING_PREFIX}*") if p.is_dir())


def complete_pending(folder: Path) -> list[Repaired]:
    """Finish or discard the pairs killed writers left in ``folder``; returns what was repaired.

    A staging folder whose lock is still held belongs to a writer at work and is left alone. A
    folder that cannot be written (a read-only checkout) is left as it is.
    """
    import fcntl

    repaired = []
    for staging in pending(folder):
        try:
            fd = os.open(staging / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            repaired.append(_finish(staging))
        except OSError:
            continue
        finally:
            os.close(fd)
    return repaired


def _finish(staging: Path) -> Repaired:
    folder = staging.parent
    done: list[str] = []
    manifest = staging / MANIFEST
    whole = manifest.is_file()
    if whole:
        names = json.loads(manifest.read_text(encoding="utf-8"))["rename"]
        for name in names:
            staged, final = staging / name, folder / name
            if staged.is_file() and not final.exists():
                os.replace(staged, final)
                done.append(final.name)
    shutil.rmtree(staging)
    return Repaired(staging.name, done, not whole)
