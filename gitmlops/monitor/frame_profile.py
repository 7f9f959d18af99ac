"""Profile a DataFrame held in memory in parallel, chunk by chunk, in the background.

The train stage's reference profile: the training rows are already in memory, so the workers are
forked from the stage process and read the frame they inherited (no copy, no pickling of rows);
each profiles a range of rows, or computes the exact quantiles of some columns, and returns bytes.
The parent starts them before it trains and collects them after, so profiling runs on the cores
boosting leaves free. Chunks are fixed by row count, not by the number of workers, and merged in
order, so the same data gives the same profile whatever the machine.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from gitmlops.monitor import sketches
from gitmlops.monitor.summary import exact_quantiles

#: The frame the forked workers read (set in the parent just before they are forked).
_FRAME: Any = None


def _profile_rows(start: int, end: int) -> bytes:
    """Worker: the profile of rows ``start:end`` of the inherited frame, as whylogs' bytes."""
    return sketches.view_to_bytes(sketches.profile_dataframe(_FRAME.iloc[start:end]))


def _quantiles(columns: list[str]) -> dict[str, dict[str, float]]:
    """Worker: the exact quantiles of ``columns`` of the inherited frame."""
    return exact_quantiles(_FRAME[columns])


class FrameProfile:
    """A profile of ``df`` (and its exact quantiles) being computed by ``workers`` forked processes.

    ``workers`` 0, a frame of one chunk, or a platform without fork: computed in this process when
    :meth:`result` is called.
    """

    def __init__(self, df: Any, workers: int = 1, chunk_rows: int = 100_000) -> None:
        global _FRAME
        self.df = df
        self.pool: ProcessPoolExecutor | None = None
        self.parts: list[Future[bytes]] = []
        self.quantiles: list[Future[dict[str, dict[str, float]]]] = []
        if workers < 1 or "fork" not in multiprocessing.get_all_start_methods() or len(df) <= chunk_rows:
            return
        _FRAME = df
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
        try:
            columns = [str(c) for c in df.columns]
            for start in range(0, len(df), chunk_rows):
                self.parts.append(self.pool.submit(_profile_rows, start, min(start + chunk_rows, len(df))))
            for group in range(workers):
                self.quantiles.append(self.pool.submit(_quantiles, columns[group::workers]))
        except BaseException:
            self.close()
            raise
        finally:
            _FRAME = None  # the workers have their copy; the parent does not keep a second reference

    def result(self) -> tuple[Any, dict[str, dict[str, float]]]:
        """(the profile, exact quantiles per numeric column), waiting for the workers."""
        if self.pool is None:
            return sketches.profile_dataframe(self.df), exact_quantiles(self.df)
        try:
            views = [sketches.view_from_bytes(part.result(), "worker profile") for part in self.parts]
            exact: dict[str, dict[str, float]] = {}
            for future in self.quantiles:
                exact.update(future.result())
        finally:
            self.close()
        return sketches.merge_views(views), exact

    def close(self) -> None:
        """Stop the workers (pending work is cancelled)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
