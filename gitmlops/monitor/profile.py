"""Profile data with whylogs in chunks, in parallel worker processes, and file the result.

whylogs logs on one core; its profiles merge exactly. So chunks of rows are profiled in worker
processes and their profiles merged here: throughput scales with cores, and memory holds only the
chunks in flight (one per worker, plus one), whatever the size of the data.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitmlops.errors import MonitorError
from gitmlops.monitor import layout, pair, sketches, source
from gitmlops.monitor.quantile_sample import Samples, chunk_samples, merge_samples, sampled_quantiles
from gitmlops.monitor.summary import summarize, summary_json
from gitmlops.progress import Progress

#: The key of the whole-data profile (no segmentation).
ALL = ""


def profile_dataframe(df: Any) -> Any:
    """Profile a pandas DataFrame with whylogs; returns a ``DatasetProfileView``."""
    return sketches.profile_dataframe(df)


#: Per profile key: the profile (or its bytes, from a worker) and its quantile samples.
Part = dict[str, tuple[Any, Samples]]


def _profile_chunk(frame: Any, segment: str | None) -> Part:
    """Worker: profile one chunk (per segment value); whylogs' bytes and the samples pickle small."""
    return {key: (sketches.view_to_bytes(view), samples) for key, (view, samples) in _in_process(frame, segment).items()}


def _profile_frame(frame: Any, segment: str | None) -> tuple[Part, int]:
    """Worker: profile one chunk the parent read."""
    _check_segment(frame, segment)
    return _profile_chunk(frame, segment), len(frame)


def _profile_csv_range(path: Path, header: bytes, start: int, end: int, segment: str | None) -> tuple[Part, int]:
    """Worker: parse one byte range of a CSV and profile it (the parent never holds these rows)."""
    frame = source.read_csv_range(path, header, start, end)
    _check_segment(frame, segment)
    return _profile_chunk(frame, segment), len(frame)


def _in_process(frame: Any, segment: str | None) -> Part:
    if segment is None:
        return {ALL: (sketches.profile_dataframe(frame), chunk_samples(frame))}
    return {
        layout.segment_dirname(segment, value): (sketches.profile_dataframe(group), chunk_samples(group))
        for value, group in frame.groupby(segment, dropna=False, sort=True)
    }


@dataclass
class ProfiledData:
    """Profiles of one data path: ``views[""]`` for the whole data, or one per segment folder name.

    ``quantiles`` holds, per key, the summary's deterministic quantiles and their rank error
    (:mod:`gitmlops.monitor.quantile_sample`).
    """

    views: dict[str, Any]
    rows: int
    chunks: int
    jobs: int
    seconds: float
    quantiles: dict[str, tuple[dict[str, dict[str, float]], float]] = field(default_factory=dict)


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class _Merged:
    """Profiles and quantile samples merged so far, per key (merged in chunk order)."""

    def __init__(self) -> None:
        self.views: dict[str, Any] = {}
        self.samples: dict[str, Samples] = {}

    def add(self, part: Part) -> None:
        for key, (profiled, samples) in part.items():
            view = sketches.view_from_bytes(profiled, "worker profile") if isinstance(profiled, bytes) else profiled
            self.views[key] = view if key not in self.views else self.views[key].merge(view)
            merge_samples(self.samples.setdefault(key, {}), samples)

    def result(self, rows: int, chunks: int, jobs: int, started: float) -> ProfiledData:
        quantiles = {key: sampled_quantiles(samples) for key, samples in self.samples.items()}
        return ProfiledData(self.views, rows, chunks, jobs, time.perf_counter() - started, quantiles)


def _check_segment(frame: Any, segment: str | None) -> None:
    if segment is not None and segment not in frame.columns:
        raise MonitorError(
            f"segment column {segment!r} is not in the data",
            f"columns are: {', '.join(map(str, frame.columns[:20]))}",
        )


def profile_data(
    path: str | os.PathLike[str],
    chunk_size: int = 100_000,
    jobs: int = 0,
    segment: str | None = None,
    progress: Progress | None = None,
) -> ProfiledData:
    """Profile a CSV/Parquet file or folder chunk by chunk (``jobs`` workers; 0 = all cores).

    ``progress`` hears (chunks profiled, chunks in all, when known) as each chunk is merged."""
    started = time.perf_counter()
    workers = jobs or available_cores()
    acc = _Merged()
    if workers > 1 and chunk_size >= 1:
        split = [source.csv_byte_ranges(file, chunk_size) for file in source.data_files(path)]
        if all(split) and sum(len(r.ranges) for r in split if r) > 1:
            # Plain CSV: workers read and parse their own byte ranges, so this process holds no rows.
            tasks = ((_profile_csv_range, (r.path, r.header, start, end, segment))
                     for r in split if r for start, end in r.ranges)
            total = sum(len(r.ranges) for r in split if r)
            count, rows = _profile_in_pool(tasks, workers, acc, progress, total)
            if rows == 0:
                raise MonitorError(f"{path} has no rows to profile", "check the file (only a header, or empty)")
            return acc.result(rows, count, workers, started)
    chunks: Iterator[Any] = source.iter_chunks(path, chunk_size)
    first = next(chunks, None)
    if first is None:
        raise MonitorError(f"{path} has no rows to profile", "check the file (only a header, or empty)")
    _check_segment(first, segment)
    # A short first chunk is all the data there is: no workers needed. Otherwise the pool is started
    # now, while only one chunk is in memory, because forked workers inherit the parent's memory.
    if len(first) < chunk_size or workers <= 1:
        count = rows = 0
        for frame in _chain(first, chunks):
            acc.add(_in_process(frame, segment))
            count += 1
            rows += len(frame)
            if progress:
                progress(count, None)
        return acc.result(rows, count, 1, started)
    count, rows = _profile_in_pool(((_profile_frame, (frame, segment)) for frame in _chain(first, chunks)), workers, acc,
                                   progress)
    return acc.result(rows, count, workers, started)


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _profile_in_pool(tasks: Iterator[tuple[Any, tuple[Any, ...]]], workers: int, acc: _Merged,
                     progress: Progress | None = None, total: int | None = None) -> tuple[int, int]:
    """Run profiling tasks ``(function, args)`` -> ``(part, rows)`` in worker processes, merging in
    the order they were submitted; returns (tasks, rows)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork shares the already imported pandas and sketches with the workers (no re-import per worker).
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    pending: deque[Any] = deque()
    count = rows = merged = 0

    def drain_one() -> int:
        nonlocal merged
        parts, n = pending.popleft().result()
        acc.add(parts)
        merged += 1
        if progress:
            progress(merged, total)
        return int(n)

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
        try:
            for function, args in tasks:
                # One task per worker plus one queued keeps them busy while bounding memory.
                while len(pending) > workers:
                    rows += drain_one()
                pending.append(pool.submit(function, *args))
                count += 1
            while pending:
                rows += drain_one()
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return count, rows


def write_profile(view: Any, path_bin: str | os.PathLike[str], meta: dict[str, Any] | None = None,
                  exact: dict[str, dict[str, float]] | None = None,
                  sampled: tuple[dict[str, dict[str, float]], float] | None = None) -> Path:
    """Write ``view`` in whylogs' binary format to ``path_bin`` and its JSON summary next to it
    (quantiles ``exact`` or ``sampled``, see :func:`gitmlops.monitor.summary.summarize`).

    The pair is atomic for readers and for git (see :mod:`gitmlops.monitor.pair`): a kill at any step
    never leaves a ``.bin`` without its ``.json``, nor a temporary file git would commit. Returns the
    path of the summary.
    """
    target = Path(path_bin)
    if target.suffix != ".bin":
        raise MonitorError(f"a profile path must end in .bin, got {target}")
    summary_path = target.with_suffix(".json")
    blob = sketches.view_to_bytes(view)
    text = summary_json(summarize(view, meta, exact, sampled))
    pair.write_pair(target, blob, summary_path, text)
    return summary_path


def profile_path(root: str | os.PathLike[str], dataset: str, profiles_dir: str = "monitoring") -> Path:
    """A new ``<root>/<profiles_dir>/<dataset>/<UTC timestamp>.bin`` (not yet written)."""
    layout.check_dataset_name(dataset.split("/", maxsplit=1)[0])
    return layout.new_profile_path(layout.dataset_dir(Path(root), profiles_dir, dataset))


@dataclass
class FiledProfile:
    """One profile written into the layout."""

    dataset: str
    path: str
    summary: str
    rows: int
    columns: int
    segment: str | None = None


@dataclass
class ProfileResult:
    """What `monitor profile` did."""

    source: str
    rows: int
    chunks: int
    jobs: int
    seconds: float
    profiles: list[FiledProfile] = field(default_factory=list)


def _display(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def file_views(root: Path, dataset: str, views: dict[str, Any], profiles_dir: str,
               meta: dict[str, Any],
               quantiles: dict[str, tuple[dict[str, dict[str, float]], float]] | None = None) -> list[FiledProfile]:
    """Write profiles (whole data or per segment) into the layout, with the summaries' deterministic
    ``quantiles`` per key (from :class:`ProfiledData`); returns what was written."""
    filed = []
    for key in sorted(views):
        name = dataset if key == ALL else f"{dataset}/{key}"
        target = profile_path(root, name, profiles_dir)
        extra = dict(meta, dataset=name)
        if key != ALL:
            extra["segment"] = key
        summary_path = write_profile(views[key], target, extra, sampled=(quantiles or {}).get(key))
        columns = views[key].get_columns()
        rows = max((c.count for c in columns.values()), default=0)
        filed.append(FiledProfile(name, _display(root, target), _display(root, summary_path), int(rows),
                                  len(columns), None if key == ALL else key))
    return filed


def profile(
    repo: Any,
    path: str | os.PathLike[str],
    name: str | None = None,
    chunk_size: int | None = None,
    segment: str | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> ProfileResult:
    """Profile a data file or folder and file it as ``monitoring/<name>/<UTC timestamp>.bin`` + .json."""
    from gitmlops.adapters.git_repo import open_repo, user_path
    from gitmlops.models import project_or_root
    from gitmlops.monitor.settings import load_settings

    root = project_or_root(open_repo(repo))  # a model's folder: its monitoring/ and monitor settings
    settings = load_settings(root)
    data = user_path(repo, path)
    dataset = layout.check_dataset_name(name) if name else layout.dataset_name_for(data)
    size = settings.chunk_size if chunk_size is None else chunk_size
    profiled = profile_data(data, size, settings.jobs if jobs is None else jobs, segment, progress)
    filed = file_views(root, dataset, profiled.views, settings.profiles_dir, {"source": _display(root, data)},
                       profiled.quantiles)
    return ProfileResult(_display(root, data), profiled.rows, profiled.chunks, profiled.jobs,
                         round(profiled.seconds, 3), filed)
