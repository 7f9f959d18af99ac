"""Deterministic quantile samples of chunked data (gitmlops.monitor.quantile_sample): unit tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gitmlops.monitor import quantile_sample as qs
from gitmlops.monitor.summary import QUANTILES


def _merged(values: np.ndarray, chunk: int) -> qs.ColumnSample:
    acc: qs.Samples = {}
    for start in range(0, len(values), chunk):
        qs.merge_samples(acc, {"x": qs.ColumnSample.of(values[start : start + chunk])})
    return acc["x"]


def test_small_chunks_are_exact() -> None:
    values = np.random.default_rng(0).normal(size=5_000)
    sample = _merged(values, qs.SAMPLE)
    assert sample.error == 0
    expected = np.quantile(values, [q for _, q in QUANTILES], method="inverted_cdf")
    assert list(sample.quantiles().values()) == expected.tolist()


def test_thinned_samples_stay_within_their_rank_error_and_small() -> None:
    values = np.random.default_rng(1).lognormal(3, 1, 400_000)
    sample = _merged(values, 5_000)  # 80 chunks of 1,024 values: thinned more than once
    assert len(sample.values) <= qs.CAP and sample.total == len(values)
    quantiles, rank_error = qs.sampled_quantiles({"x": sample})
    assert 0 < rank_error < 0.01
    ordered = np.sort(values)
    for key, q in QUANTILES:
        rank = np.searchsorted(ordered, quantiles["x"][key], side="right") / len(values)
        assert abs(rank - q) <= rank_error + 1 / len(values), key
    # the same chunks in the same order give the same figures
    assert qs.sampled_quantiles({"x": _merged(values, 5_000)}) == (quantiles, rank_error)


def test_numeric_values_as_the_profile_counts_them() -> None:
    frame = pd.DataFrame(
        {
            "n": [1.5, None, 3.0],
            "b": [True, False, True],
            "s": ["a", "b", None],
            "m": pd.Series([1, "a", 2.5], dtype=object),
        }
    )
    assert qs.numeric_values(frame["n"]).tolist() == [1.5, 3.0]
    assert qs.numeric_values(frame["b"]).tolist() == [1.0, 0.0, 1.0]
    assert qs.numeric_values(frame["s"]).tolist() == []
    assert qs.numeric_values(frame["m"]).tolist() == [1.0, 2.5]
    assert sorted(qs.chunk_samples(frame)) == ["b", "m", "n"]
