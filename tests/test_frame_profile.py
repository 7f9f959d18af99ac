"""The train stage's reference profile on forked workers, chunk by chunk (gitmlops.monitor.frame_profile)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gitmlops.monitor import profile_dataframe
from gitmlops.monitor.frame_profile import FrameProfile
from gitmlops.monitor.summary import exact_quantiles, summarize
from tests.test_profile_format import _frame


def _exact_figures(summary: dict[str, object]) -> dict[str, object]:
    """The figures of a summary that do not depend on how rows were chunked (not the HLL estimate)."""
    columns = summary["columns"]  # type: ignore[index]
    return {name: {k: v for k, v in col.items() if k != "cardinality"} for name, col in columns.items()}  # type: ignore[union-attr]


def test_chunked_workers_give_the_profile_of_the_whole_frame() -> None:
    df = _frame(24_000, seed=3)
    alone = summarize(profile_dataframe(df), exact=exact_quantiles(df))
    view, exact = FrameProfile(df, workers=2, chunk_rows=5_000).result()  # 5 chunks on 2 forked workers
    assert exact == exact_quantiles(df)
    chunked = summarize(view, exact=exact)
    assert chunked["profile"] == alone["profile"]
    assert _exact_figures(chunked) == _exact_figures(alone)
    for name, col in chunked["columns"].items():  # HLL unions: within the sketch's error of one sketch
        if col["cardinality"]:
            assert abs(col["cardinality"] - alone["columns"][name]["cardinality"]) <= 0.02 * col["cardinality"]


def test_reference_profile_from_workers_is_byte_identical_on_rerun_and_read_by_whylogs(tmp_path: Path) -> None:
    from whylogs.core import DatasetProfileView

    from gitmlops.monitor import write_profile

    df = _frame(24_000, seed=4)
    texts = []
    for name in ("a", "b"):
        view, exact = FrameProfile(df, workers=2, chunk_rows=4_000).result()
        write_profile(view, tmp_path / f"{name}.bin", exact=exact)
        texts.append((tmp_path / f"{name}.json").read_bytes())
    assert texts[0] == texts[1]
    theirs = DatasetProfileView.read(str(tmp_path / "a.bin"))
    counts = theirs.get_column("income").get_metric("counts").to_summary_dict()
    assert counts["n"] == 24_000 and counts["null"] == 2


def test_a_frame_of_one_chunk_or_no_workers_is_profiled_in_process() -> None:
    df = pd.DataFrame({"x": np.arange(100, dtype=float), "c": ["a", "b"] * 50})
    for profile in (FrameProfile(df, workers=2, chunk_rows=1_000), FrameProfile(df, workers=0, chunk_rows=10)):
        assert profile.pool is None
        view, exact = profile.result()
        assert view.get_column("x").count == 100 and exact["x"]["q50"] == 49.0
