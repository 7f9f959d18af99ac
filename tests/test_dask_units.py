"""Unit tests of Dask training's pure parts: settings, the schema reduced from partition summaries
(must equal build_schema on the whole frame), merged profiles and error text. No cluster needed."""

from __future__ import annotations

import functools
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitmlops.errors import ConfigError, DataError
from gitmlops.stages.dask_reduce import (
    merge_profiles,
    merge_summaries,
    profile_partition,
    schema_from_summary,
    summarize_partition,
)
from gitmlops.stages.dask_train import DaskSettings, dask_settings, failure_text, train_on_dask, wants_dask
from gitmlops.stages.features import build_schema


def reduced_schema(df: pd.DataFrame, target: str, bounds: list[int], objective: str = "auto") -> dict:
    parts = [df.iloc[a:b] for a, b in zip([0, *bounds], [*bounds, len(df)], strict=True)]
    summary = functools.reduce(merge_summaries, [summarize_partition(p, target) for p in parts])
    return schema_from_summary(summary, target, objective)


def example_frame(n: int = 300, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    usage = rng.normal(10, 3, n)
    usage[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "tenure": rng.integers(1, 70, n),
            "usage": usage,
            "plan": rng.choice(["basic", "premium", "standard"], n),
            "region": pd.Series(rng.choice(np.array(["n", "s", None], dtype=object), n), dtype=object),
            "flag": rng.random(n) < 0.5,
            "label": rng.integers(0, 2, n),
        }
    )


@pytest.mark.parametrize("bounds", [[], [1], [150], [10, 20, 299], [0, 0, 300]])
def test_schema_from_partitions_equals_whole_frame(bounds: list[int]) -> None:
    df = example_frame()
    assert reduced_schema(df, "label", bounds) == build_schema(df, "label")


@pytest.mark.parametrize(
    ("target", "expected_task"),
    [
        (np.arange(300) % 3, "multiclass"),
        (np.arange(300) % 25, "regression"),  # integral but > 20 distinct values
        (np.where(np.arange(300) == 299, 0.5, np.arange(300) % 2), "regression"),  # one fraction, last part
        (np.array(["yes", "no"] * 150, dtype=object), "binary"),
        (np.arange(300) % 2 == 0, "binary"),
    ],
)
def test_target_task_and_classes_survive_partitioning(target: np.ndarray, expected_task: str) -> None:
    df = example_frame().assign(label=target)
    whole = build_schema(df, "label")
    assert whole["task"] == expected_task
    assert reduced_schema(df, "label", [100, 200]) == whole


def test_single_class_target_is_refused_like_local_training() -> None:
    df = example_frame().assign(label=1)
    with pytest.raises(DataError, match="single value"):
        reduced_schema(df, "label", [100])


@settings(max_examples=40, deadline=None)
@given(
    codes=st.lists(st.integers(min_value=-1, max_value=6), min_size=2, max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=4),
)
def test_category_union_and_nullability_property(codes: list[int], cuts: list[int]) -> None:
    cat = pd.Series([None if c < 0 else f"v{c}" for c in codes], dtype=object)
    df = pd.DataFrame(
        {
            "cat": cat,
            "num": [float(c) if c >= 0 else np.nan for c in codes],
            "label": [i % 2 for i in range(len(codes))],
        }
    )
    bounds = sorted(min(c, len(codes)) for c in cuts)
    assert reduced_schema(df, "label", bounds) == build_schema(df, "label")


def test_inconsistent_column_types_across_partitions_are_named() -> None:
    a = summarize_partition(pd.DataFrame({"x": [1, 2], "label": [0, 1]}), "label")
    b = summarize_partition(pd.DataFrame({"x": ["a", "b"], "label": [0, 1]}), "label")
    with pytest.raises(DataError, match="'x' has type int in one partition and category"):
        merge_summaries(a, b)


def test_merged_partition_profiles_count_every_row() -> None:
    from gitmlops.monitor.profile_view import Profile

    df = example_frame(400)
    merged = Profile.deserialize(merge_profiles(profile_partition(df.iloc[:150]), profile_partition(df.iloc[150:])))
    usage, plan = merged.get_column("usage"), merged.get_column("plan")
    assert usage is not None and plan is not None
    assert usage.count == 400
    assert usage.null_count == int(df["usage"].isna().sum())
    assert plan.count == 400


@pytest.mark.interop
def test_merged_partition_profiles_read_in_whylogs() -> None:
    from whylogs.core import DatasetProfileView

    df = example_frame(400)
    merged = merge_profiles(profile_partition(df.iloc[:150]), profile_partition(df.iloc[150:]))
    view = DatasetProfileView.deserialize(merged)
    counts = view.get_column("usage").to_summary_dict()
    assert counts["counts/n"] == 400
    assert counts["counts/null"] == int(df["usage"].isna().sum())
    assert view.get_column("plan").to_summary_dict()["counts/n"] == 400


def test_dask_settings_defaults_and_validation() -> None:
    assert dask_settings({}) == DaskSettings()
    custom = dask_settings(
        {"dask": {"scheduler_address": " tcp://h:8786 ", "n_workers": 3, "connect_timeout": 2}}
    )
    assert (custom.scheduler_address, custom.n_workers, custom.connect_timeout) == ("tcp://h:8786", 3, 2.0)
    for bad, match in [
        ({"n_workers": 0}, "n_workers must be at least 1"),
        ({"n_workers": "many"}, "n_workers must be a number"),
        ({"connect_timeout": True}, "connect_timeout must be at least"),
        ({"processes": "yes"}, "processes must be true or false"),
        ({"partition_size": "huge"}, "partition_size must be a size"),
        ({"scheduler_address": ""}, "scheduler_address must be an address"),
        ({"workers": 2}, "unknown key"),
    ]:
        with pytest.raises(ConfigError, match=match):
            dask_settings({"dask": bad})


def test_backend_choice() -> None:
    assert not wants_dask({})
    assert not wants_dask({"train": {"backend": "local"}})
    assert wants_dask({"train": {"backend": "dask"}})
    with pytest.raises(ConfigError, match=r"train\.backend must be one of local, dask, not 'spark'"):
        wants_dask({"train": {"backend": "spark"}})


def test_failure_text_keeps_the_message_not_the_stack() -> None:
    xgb_error = (
        "[05:01:05] /__w/xgboost/src/collective/result.cc:83: [histogram.h:197|05:01:05]:\n\n"
        "- [allgather.cc:50|05:01:05]: Ring allgather failed, current iteration:1\n"
        "Stack trace:\n  [bt] (0) /lib/libxgboost.so(+0x2c1a8c) [0x7f70b82c1a8c]\n"
    )
    assert failure_text(RuntimeError(xgb_error)) == "Ring allgather failed, current iteration:1"
    assert failure_text(ValueError("")) == "no details"


def test_missing_dask_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the `dask` extra were not installed
    with pytest.raises(ConfigError, match="needs Dask") as info:
        train_on_dask({"train": {"backend": "dask"}})
    assert 'pip install "gitmlops[dask]"' in str(info.value)
