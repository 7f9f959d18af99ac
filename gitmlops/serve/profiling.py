"""Request profiling: whylogs profiles of the served inputs and predictions, written as they come.

The worker hands each batch to :meth:`RequestProfiler.add` (a list append); a background thread
profiles and writes every ``every_rows`` rows or ``every_seconds`` seconds, whichever comes first.
Files land in the monitoring layout: ``DIR/<UTC timestamp>.bin`` plus its ``.json`` summary, written
by ``gitmlops.monitor`` when it is installed. A deploy bundle, which has no gitmlops, carries
gitmlops' profile format modules (``profile_build``, ``profile_format``) beside this one and writes
the ``.bin`` only, in the same format. `gitmlops monitor collect DIR` merges them.

Runtime module: carried by deploy bundles.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .schema import ModelSchema, matrix_to_columns, unseen_counts

logger = logging.getLogger(__name__)


def _frame(schema: ModelSchema, parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[Any, dict[str, int]]:
    """The served rows as a frame (inputs and predictions), and their unseen-category counts."""
    import pandas as pd

    matrix = np.concatenate([m for m, _ in parts])
    output = np.concatenate([o for _, o in parts])
    columns: dict[str, Any] = dict(matrix_to_columns(schema, matrix))
    if schema.task == "multiclass" and output.ndim == 2:
        classes = list(schema.classes or ())
        columns["prediction"] = [str(classes[i]) for i in output.argmax(axis=1)]
        columns["prediction_confidence"] = output.max(axis=1).astype(np.float64)
    elif schema.task == "binary":
        classes = list(schema.classes or ())
        columns["prediction"] = [str(classes[int(p >= 0.5)]) for p in output.tolist()]
        columns["prediction_probability"] = output.astype(np.float64)
    elif schema.task == "multiclass":
        classes = list(schema.classes or ())
        columns["prediction"] = [str(classes[int(k)]) for k in output.tolist()]
    else:
        columns["prediction"] = output.astype(np.float64)
    return pd.DataFrame(columns), unseen_counts(schema, matrix)


def _stamp_path(folder: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate, counter = folder / f"{stamp}.bin", 0
    while candidate.exists() or candidate.with_suffix(".json").exists():
        counter += 1
        candidate = folder / f"{stamp}-{counter}.bin"
    return candidate


def write_frame_profile(folder: Path, df: Any, unseen: dict[str, int] | None = None) -> Path:
    """Profile ``df`` and write it into ``folder``; returns the .bin path.

    ``unseen``: per category column, the values unseen in training (recorded in the profile's metadata
    by gitmlops; a bundle running without gitmlops writes whylogs' own profile, without them).
    """
    folder.mkdir(parents=True, exist_ok=True)
    try:
        from gitmlops.monitor.layout import new_profile_path
        from gitmlops.monitor.profile import profile_dataframe, write_profile
    except ImportError:
        return _write_bundle_profile(folder, df)
    path = new_profile_path(folder)
    view = profile_dataframe(df)
    if unseen:
        view = view.with_unseen_categories(unseen)
    write_profile(view, path, {"rows": len(df), "source": "gitmlops serve"})
    return path


def _write_bundle_profile(folder: Path, df: Any) -> Path:
    """In a deploy bundle: the .bin alone, written by the format modules carried in this package."""
    # Imported by name: in gitmlops these modules live in gitmlops.monitor, in a bundle beside this one.
    build = importlib.import_module(f"{__package__}.profile_build")
    fmt = importlib.import_module(f"{__package__}.profile_format")
    blob = fmt.encode(build.profile_frame(df))
    path = _stamp_path(folder)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(blob)
    os.replace(tmp, path)
    return path


class RequestProfiler:
    """Buffers served rows and writes a profile every N rows or T seconds (background thread)."""

    def __init__(self, folder: Path, schema: ModelSchema, every_rows: int = 10_000, every_seconds: float = 60.0):
        self.folder = folder
        self.schema = schema
        self.every_rows = max(1, every_rows)
        self.every_seconds = max(0.05, every_seconds)
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []
        self._rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="gitmlops-profiler", daemon=True)
        self.written: list[Path] = []

    def start(self) -> None:
        """Start the writer thread."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def add(self, matrix: np.ndarray, output: np.ndarray) -> None:
        """Queue one batch (inputs and raw outputs) for the next profile."""
        with self._lock:
            self._parts.append((matrix, output))
            self._rows += len(matrix)
            full = self._rows >= self.every_rows
        if full:
            self._wake.set()

    def _take(self) -> list[tuple[np.ndarray, np.ndarray]]:
        with self._lock:
            parts, self._parts, self._rows = self._parts, [], 0
        return parts

    def flush(self) -> Path | None:
        """Write what is buffered now (None when nothing is)."""
        parts = self._take()
        if not parts:
            return None
        frame, unseen = _frame(self.schema, parts)
        path = write_frame_profile(self.folder, frame, unseen)
        self.written.append(path)
        return path

    def _run(self) -> None:
        deadline = time.monotonic() + self.every_seconds
        while not self._stop:
            self._wake.wait(max(0.0, deadline - time.monotonic()))
            self._wake.clear()
            if self._stop:
                break
            if self._rows >= self.every_rows or time.monotonic() >= deadline:
                deadline = time.monotonic() + self.every_seconds
                try:
                    self.flush()
                except Exception:  # a failed profile must not take serving down
                    logger.exception("writing a request profile to %s failed", self.folder)

    def close(self) -> None:
        """Stop the thread and write the remaining rows."""
        self._stop = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        try:
            self.flush()
        except Exception:
            logger.exception("writing the last request profile to %s failed", self.folder)
