"""Cutting plain CSV files into byte ranges of whole lines, parsed by profiling workers."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gitmlops.monitor.source import csv_byte_ranges, read_csv_range


@pytest.mark.parametrize(
    ("rows", "chunk", "block"),
    [(10, 3, 7), (3000, 500, 1 << 22), (3000, 500, 64), (1, 5, 8), (12, 4, 5), (7, 7, 3), (100, 1, 16)],
)
@pytest.mark.parametrize("final_newline", [True, False])
def test_ranges_hold_exact_chunks_of_rows(tmp_path: Path, rows: int, chunk: int, block: int,
                                          final_newline: bool) -> None:
    rng = random.Random(rows * chunk + block)
    path = tmp_path / "d.csv"
    body = "\n".join(f"{i},{'x' * rng.randint(0, 9)}" for i in range(rows))
    path.write_text("a,b\n" + body + ("\n" if final_newline else ""))
    found = csv_byte_ranges(path, chunk, block_size=block)
    assert found is not None
    frames = [read_csv_range(path, found.header, start, end) for start, end in found.ranges]
    assert [v for f in frames for v in f["a"].tolist()] == list(range(rows))
    sizes = [len(f) for f in frames]
    assert all(size == chunk for size in sizes[:-1]) and 0 < sizes[-1] <= chunk


def test_quoted_or_compressed_files_are_not_cut(tmp_path: Path) -> None:
    quoted = tmp_path / "q.csv"
    quoted.write_text('a,b\n1,"two\nlines"\n2,x\n')
    assert csv_byte_ranges(quoted, 1) is None
    assert csv_byte_ranges(tmp_path / "d.csv.gz", 1) is None


def test_header_only_has_no_ranges(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("a,b\n")
    found = csv_byte_ranges(path, 10)
    assert found is not None and found.ranges == []
