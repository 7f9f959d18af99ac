"""Profile a DataFrame held in memory in parallel, column by column, in the background.

The train stage's reference profile: the training rows are already in memory, so the workers are
forked from the stage process and read the frame they inherited (no copy, no pickling of rows);
each profiles some of its columns over all rows, with their exact quantiles, and returns bytes. The
parent starts them before it trains and collects them after, so profiling runs on the cores boosting
leaves free.

Columns, not row chunks, because the frame is whole already: a column's sketches are then built
once, as in one process (chunks of rows would feed every chunk's distinct values to its own HLL and
frequent-items sketch again, and then merge them: measured 1.4x slower than one process on 2 cores),
and the profile is the same whatever the number of workers.
"""

from __future__ import annotations

import gc
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from gitmlops.monitor import sketches
from gitmlops.monitor.summary import exact_quantiles

#: The frame the forked workers read (set in the parent just before they are forked).
_FRAME: Any = None
#: Below this many rows forking costs more than it saves: the profile is computed in the parent.
MIN_ROWS = 100_000

Quantiles = dict[str, dict[str, float]]


def _profile_columns(columns: list[Any]) -> tuple[bytes, Quantiles]:
    """Worker: the profile (whylogs' bytes) and exact quantiles of ``columns`` of the inherited frame."""
    part = _FRAME[columns]
    return sketches.view_to_bytes(sketches.profile_dataframe(part)), exact_quantiles(part)


class FrameProfile:
    """A profile of ``df`` (and its exact quantiles) being computed by ``workers`` forked processes.

    With ``workers`` 0, fewer than ``min_rows`` rows, or no fork on this platform, it is computed in
    this process when :meth:`result` is called.
    """

    def __init__(self, df: Any, workers: int = 1, min_rows: int = MIN_ROWS) -> None:
        global _FRAME
        self.df = df
        self.pool: ProcessPoolExecutor | None = None
        self.parts: list[Future[tuple[bytes, Quantiles]]] = []
        if workers < 1 or len(df) < min_rows or "fork" not in multiprocessing.get_all_start_methods():
            return
        _FRAME = df
        # Frozen objects are never scanned by the workers' garbage collector, so it does not write to
        # (and copy) every page of the inherited heap: without this a worker's first task took 3x longer.
        gc.freeze()
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
        try:
            # One task per column: the pool balances columns of unequal cost (strings, floats).
            for column in df.columns:
                self.parts.append(self.pool.submit(_profile_columns, [column]))
        except BaseException:
            self.close()
            raise
        finally:
            gc.unfreeze()  # the workers are forked (at the first submit)
            _FRAME = None  # the workers have their copy; the parent does not keep a second reference

    def result(self) -> tuple[Any, Quantiles]:
        """(the profile, exact quantiles per numeric column), waiting for the workers."""
        if self.pool is None:
            return sketches.profile_dataframe(self.df), exact_quantiles(self.df)
        try:
            views, exact = [], {}
            for part in self.parts:
                blob, quantiles = part.result()
                views.append(sketches.view_from_bytes(blob, "worker profile"))
                exact.update(quantiles)
        finally:
            self.close()
        # Merging profiles of disjoint columns puts the columns side by side.
        return sketches.merge_views(views), exact

    def close(self) -> None:
        """Stop the workers (pending work is cancelled)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
