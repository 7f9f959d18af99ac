"""Units the stages' fast paths rest on: the evaluate stage's AUC against its definition (pairs of
rows, ties counted half), and prepare's sliced Parquet writer against pandas' own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gitmlops.stages import prepare
from gitmlops.stages.evaluate import _auc


def pairwise_auc(y: np.ndarray, p: np.ndarray) -> float:
    pos, neg = p[y == 1], p[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


@pytest.mark.parametrize("levels", [2, 5, 1000])
@pytest.mark.parametrize("n", [2, 7, 500])
def test_auc_is_the_share_of_ordered_pairs_with_ties_as_half(n: int, levels: int) -> None:
    rng = np.random.default_rng(n * levels)
    y = rng.integers(0, 2, n)
    p = rng.integers(0, levels, n) / levels  # many ties when levels is small
    expected = pairwise_auc(y, p)
    assert _auc(y, p) == pytest.approx(expected, abs=1e-12) or (np.isnan(expected) and np.isnan(_auc(y, p)))
    shuffled = rng.permutation(n)
    assert _auc(y[shuffled], p[shuffled]) == pytest.approx(_auc(y, p), abs=1e-12) or np.isnan(expected)


def test_sliced_parquet_reads_back_as_pandas_writes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    n = 1_000
    rng = np.random.default_rng(0)
    text = pd.Series(rng.choice(np.array(["a", "b", None], dtype=object), n), dtype=object)
    text.iloc[:400] = None  # a whole slice of nulls keeps the column's type
    frame = pd.DataFrame({
        "x": rng.normal(size=n), "i": np.arange(n), "worst [area] <mm2>": rng.integers(0, 3, n),
        "text": text, "flag": pd.array(rng.choice(np.array([True, False, None], dtype=object), n), dtype="boolean"),
        "when": pd.to_datetime(rng.integers(0, 10**9, n), unit="s", utc=True),
    }).iloc[rng.permutation(n)[:700]]  # a split part: an index with gaps, which is not written
    monkeypatch.setattr(prepare, "PARQUET_SLICE_ROWS", 300)
    prepare.write_parquet(frame, tmp_path / "sliced.parquet", ["text"])
    frame.to_parquet(tmp_path / "pandas.parquet", index=False)
    import pyarrow.parquet as pq

    assert pq.ParquetFile(tmp_path / "sliced.parquet").num_row_groups == 3
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "sliced.parquet"),
                                  pd.read_parquet(tmp_path / "pandas.parquet"))
