"""Read CSV and Parquet data (a file or a folder of them) in chunks of rows, so memory stays flat."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitmlops.errors import MonitorError

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")


def data_format(path: Path) -> str | None:
    """'csv', 'parquet' or None, from the file name."""
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    return None


def is_data_path(path: Path) -> bool:
    """Whether ``path`` is a data file or a folder that may hold some."""
    return path.is_dir() or data_format(path) is not None


def data_files(path: str | os.PathLike[str]) -> list[Path]:
    """The data files at ``path`` (itself, or the CSV/Parquet files under a folder, sorted)."""
    root = Path(path)
    if not root.exists():
        raise MonitorError(f"{root} does not exist", "check the path (relative to the repository, or -C)")
    if root.is_file():
        if data_format(root) is None:
            raise MonitorError(
                f"{root} is neither CSV nor Parquet (by its name)",
                "give a .csv, .tsv, .parquet or .pq file, or a folder of them",
            )
        return [root]
    files = sorted(
        p for p in root.rglob("*")
        if p.is_file() and data_format(p) and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not files:
        raise MonitorError(f"{root} holds no CSV or Parquet files", "point at a data file or a folder of them")
    return files


def _csv_chunks(path: Path, chunk_size: int) -> Iterator[Any]:
    import pandas as pd

    try:
        reader = pd.read_csv(path, chunksize=chunk_size, sep=csv_separator(path), low_memory=False)
        with reader:
            yield from reader
    except pd.errors.EmptyDataError:
        raise MonitorError(f"{path} is empty (no header, no rows)", "check the file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise MonitorError(
            f"cannot read {path} as CSV: {' '.join(str(exc).split())[:300]}",
            "check that the file is a well-formed CSV (UTF-8, one header row)",
        ) from None


def csv_separator(path: Path) -> str:
    """The field separator of a CSV/TSV file, from its name."""
    return "\t" if path.name.lower().endswith(".tsv") else ","


@dataclass
class CsvRanges:
    """A plain CSV file cut into byte ranges of whole lines, for workers to parse on their own."""

    path: Path
    header: bytes
    ranges: list[tuple[int, int]]


def csv_byte_ranges(path: Path, chunk_size: int, block_size: int = 1 << 22) -> CsvRanges | None:
    """Cut an uncompressed CSV into byte ranges of ``chunk_size`` lines each, at line ends, or None
    when that is not safe: compressed files, and files with a quote character anywhere (a quoted field
    may hold a newline, so a line end would not be a row end). One pass over the bytes."""
    import numpy as np

    if not path.name.lower().endswith((".csv", ".tsv")):
        return None
    size = path.stat().st_size
    ranges: list[tuple[int, int]] = []
    with path.open("rb") as f:
        header = f.readline()
        start = pos = f.tell()
        lines = 0  # lines seen since ``start``
        while block := f.read(block_size):
            if b'"' in block:
                return None
            ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10) + pos + 1
            # The line ends that close a range: the chunk_size-th, 2*chunk_size-th, ... since start.
            first = chunk_size - lines - 1
            for end in ends[first::chunk_size] if first < len(ends) else ():
                ranges.append((start, int(end)))
                start = int(end)
            lines = (lines + len(ends)) % chunk_size if first >= len(ends) else (len(ends) - first - 1) % chunk_size
            pos += len(block)
    if start < size:
        ranges.append((start, size))  # the last lines (with or without a final newline)
    return CsvRanges(path, header, ranges)


def read_csv_range(path: Path, header: bytes, start: int, end: int) -> Any:
    """Parse the rows in bytes ``start..end`` of a CSV (with its header line) into a DataFrame."""
    import io

    import pandas as pd

    with path.open("rb") as f:
        f.seek(start)
        data = f.read(end - start)
    try:
        return pd.read_csv(io.BytesIO(header + data), sep=csv_separator(path), low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise MonitorError(
            f"cannot read {path} as CSV: {' '.join(str(exc).split())[:300]}",
            "check that the file is a well-formed CSV (UTF-8, one header row)",
        ) from None


def _parquet_chunks(path: Path, chunk_size: int) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
        for batch in file.iter_batches(batch_size=chunk_size):
            yield batch.to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise MonitorError(
            f"cannot read {path} as Parquet: {' '.join(str(exc).split())[:300]}",
            "check that the file is a complete Parquet file",
        ) from None


def iter_chunks(path: str | os.PathLike[str], chunk_size: int) -> Iterator[Any]:
    """DataFrames of at most ``chunk_size`` rows, file after file; empty chunks are skipped."""
    if chunk_size < 1:
        raise MonitorError(f"chunk size must be at least 1, got {chunk_size}")
    for file in data_files(path):
        chunks = _parquet_chunks(file, chunk_size) if data_format(file) == "parquet" else _csv_chunks(file, chunk_size)
        for frame in chunks:
            if len(frame):
                yield frame
