"""The train stage's reference profile on forked workers, column by column (gitmlops.monitor.frame_profile)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gitmlops.monitor import profile_dataframe
from gitmlops.monitor.frame_profile import FrameProfile
from gitmlops.monitor.summary import exact_quantiles, summarize
from tests.test_profile_format import _frame


def test_workers_give_the_profile_of_one_process() -> None:
    df = _frame(24_000, seed=3)
    alone = summarize(profile_dataframe(df), exact=exact_quantiles(df))
    for workers in (1, 2):
        profile = FrameProfile(df, workers=workers, min_rows=1_000)
        assert profile.pool is not None  # forked workers
        view, exact = profile.result()
        assert exact == exact_quantiles(df)
        assert list(view.get_columns()) == [str(c) for c in df.columns]
        assert summarize(view, exact=exact) == alone  # the same numbers, whatever the number of workers


def test_reference_profile_from_workers_is_byte_identical_on_rerun(tmp_path: Path) -> None:
    from gitmlops.monitor import write_profile

    df = _frame(24_000, seed=4)
    texts = []
    for name in ("a", "b"):
        view, exact = FrameProfile(df, workers=2, min_rows=1_000).result()
        write_profile(view, tmp_path / f"{name}.bin", exact=exact)
        texts.append((tmp_path / f"{name}.json").read_bytes())
    assert texts[0] == texts[1]


@pytest.mark.interop
def test_reference_profile_from_workers_is_read_by_whylogs(tmp_path: Path) -> None:
    from whylogs.core import DatasetProfileView

    from gitmlops.monitor import write_profile

    df = _frame(24_000, seed=4)
    view, exact = FrameProfile(df, workers=2, min_rows=1_000).result()
    write_profile(view, tmp_path / "a.bin", exact=exact)
    theirs = DatasetProfileView.read(str(tmp_path / "a.bin"))
    counts = theirs.get_column("income").get_metric("counts").to_summary_dict()
    assert counts["n"] == 24_000 and counts["null"] == 2


def test_a_small_frame_or_no_workers_is_profiled_in_process() -> None:
    df = pd.DataFrame({"x": np.arange(100, dtype=float), "c": ["a", "b"] * 50})
    for profile in (FrameProfile(df, workers=2), FrameProfile(df, workers=0, min_rows=10)):
        assert profile.pool is None
        view, exact = profile.result()
        assert view.get_column("x").count == 100 and exact["x"]["q50"] == 49.0
