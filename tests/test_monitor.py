"""Unit tests of monitoring logic: drift decisions with known answers, summaries, rendering, settings."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from gitmlops.errors import ConfigError, MonitorError, UsageError
from gitmlops.monitor import diff, profile_dataframe, render_html, render_markdown, summarize
from gitmlops.monitor.drift import DRIFT, NO_DRIFT, POSSIBLE
from gitmlops.monitor.settings import drift_config
from gitmlops.monitor.summary import render_text, sig


def sample(rng: np.random.Generator, n: int, shift: bool = False) -> pd.DataFrame:
    """A mixed table; with ``shift`` only ``num_shift`` (+1 sd) and ``cat_shift`` (shares) change."""
    return pd.DataFrame({
        "num_shift": rng.normal(50 + (10 if shift else 0), 10, n),
        "cat_shift": rng.choice(["a", "b", "c"], n, p=[0.2, 0.3, 0.5] if shift else [0.5, 0.3, 0.2]),
        "num_same": rng.lognormal(0, 1, n),
        "int_same": rng.integers(0, 10, n),
        "count_same": rng.poisson(3, n),
        "cat_same": rng.choice(["x", "y", "z", "w"], n, p=[0.4, 0.3, 0.2, 0.1]),
        "bool_same": rng.random(n) < 0.3,
    })


@pytest.mark.parametrize("rows", [2_000, 20_000])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exactly_the_shifted_columns_drift(seed: int, rows: int) -> None:
    rng = np.random.default_rng(seed)
    report = diff(profile_dataframe(sample(rng, rows)), profile_dataframe(sample(rng, rows, shift=True)))
    categories = {c.column: c.category for c in report.columns}
    assert categories == {
        "num_shift": DRIFT, "cat_shift": DRIFT, "num_same": NO_DRIFT, "int_same": NO_DRIFT,
        "count_same": NO_DRIFT, "cat_same": NO_DRIFT, "bool_same": NO_DRIFT,
    }
    rules = {c.column: c.rule for c in report.columns}
    assert rules["num_shift"] == "wasserstein" and rules["cat_shift"] == "jensen_shannon"
    assert [c.column for c in report.columns[:2]] == ["num_shift", "cat_shift"]  # drifted first
    assert report.drifted == 2 and report.verdict == POSSIBLE  # 2 of 7 < dataset_drift_share 0.5


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_same_distribution_gives_no_drift_anywhere(seed: int) -> None:
    rng = np.random.default_rng(seed)
    report = diff(profile_dataframe(sample(rng, 20_000)), profile_dataframe(sample(rng, 20_000)))
    assert {c.category for c in report.columns} == {NO_DRIFT}, [(c.column, c.reason) for c in report.columns]
    assert report.verdict == NO_DRIFT and not report.fails("possible")


def test_small_samples_are_decided_by_p_value() -> None:
    rng = np.random.default_rng(7)
    ref = pd.DataFrame({"v": rng.normal(0, 1, 300), "k": rng.choice(["a", "b"], 300)})
    tgt = pd.DataFrame({"v": rng.normal(1, 1, 300), "k": rng.choice(["a", "b"], 300)})
    report = diff(profile_dataframe(ref), profile_dataframe(tgt))
    by = {c.column: c for c in report.columns}
    assert by["v"].rule == "ks_p_value" and by["v"].category == DRIFT
    assert by["k"].rule == "chi_square_p_value" and by["k"].category == NO_DRIFT
    assert by["v"].p_value is not None and by["v"].p_value < 0.01


def test_null_fraction_and_type_change_and_schema() -> None:
    rng = np.random.default_rng(1)
    n = 5_000
    ref = pd.DataFrame({"a": rng.normal(0, 1, n), "b": rng.normal(0, 1, n), "gone": rng.normal(0, 1, n)})
    a = rng.normal(0, 1, n)
    a[: n // 4] = np.nan
    tgt = pd.DataFrame({"a": a, "b": [str(v) for v in rng.normal(0, 1, n)], "new": rng.normal(0, 1, n)})
    report = diff(profile_dataframe(ref), profile_dataframe(tgt))
    by = {c.column: c for c in report.columns}
    assert (by["a"].category, by["a"].rule) == (DRIFT, "null_fraction")
    assert (by["b"].category, by["b"].rule) == (DRIFT, "type_change")
    assert (by["gone"].category, by["gone"].rule) == (DRIFT, "schema")
    assert (by["new"].category, by["new"].rule) == (POSSIBLE, "schema")
    assert report.removed == ["gone"] and report.added == ["new"]
    assert report.verdict == DRIFT and report.fails("drift")


def test_overrides_skip_and_thresholds() -> None:
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 5000), "y": rng.normal(0, 1, 5000)})
    tgt = pd.DataFrame({"x": rng.normal(1, 1, 5000), "y": rng.normal(0.5, 1, 5000)})
    config = {"columns": {"x": {"skip": True}, "y": {"drift": 2.0, "possible": 0.3}}}
    report = diff(profile_dataframe(ref), profile_dataframe(tgt), config)
    by = {c.column: c for c in report.columns}
    assert by["x"].rule == "skipped" and by["x"].category == NO_DRIFT
    assert by["y"].category == POSSIBLE and "drift at 2" in by["y"].reason
    assert report.compared == 1


def test_profiles_without_common_columns_are_refused() -> None:
    a = profile_dataframe(pd.DataFrame({"a": [1, 2, 3]}))
    b = profile_dataframe(pd.DataFrame({"b": [1, 2, 3]}))
    with pytest.raises(MonitorError, match="share no columns"):
        diff(a, b)


def test_unknown_fail_on_is_a_usage_error() -> None:
    view = profile_dataframe(pd.DataFrame({"a": [1.0, 2.0, 3.0]}))
    with pytest.raises(UsageError, match="fail-on"):
        diff(view, view).fails("sometimes")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"wasserstein": {"drift": 0.05, "possible": 0.1}}, "weaker"),
        ({"p_value": {"drift": 2}}, "between"),
        ({"bogus": 1}, "unknown keys"),
        ({"columns": {"a": {"kind": "text"}}}, "kind"),
        ({"dataset_drift_share": "half"}, "number"),
    ],
)
def test_bad_drift_settings_are_config_errors(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        drift_config(raw)


def test_summary_is_stable_and_rounded() -> None:
    rng = np.random.default_rng(0)
    df = sample(rng, 3_000)
    first, second = summarize(profile_dataframe(df)), summarize(profile_dataframe(df))
    # Exact statistics repeat to the digit; KLL quantiles are randomized, within the sketch's error.
    for name, col in first["columns"].items():
        other = second["columns"][name]
        assert {k: v for k, v in col.items() if k != "quantiles"} == {
            k: v for k, v in other.items() if k != "quantiles"}
        for key, value in (col["quantiles"] or {}).items():
            assert other["quantiles"][key] == pytest.approx(value, rel=0.05, abs=0.05 * (col["stddev"] or 1))
    assert json.dumps(first) == json.dumps(json.loads(json.dumps(first)))
    assert list(first["columns"]) == sorted(first["columns"])
    col = first["columns"]["num_shift"]
    assert set(col) >= {"count", "null_count", "types", "mean", "stddev", "min", "max", "quantiles", "cardinality", "top"}
    top = first["columns"]["cat_same"]["top"]
    assert top[0]["value"] == "x" and top[0]["count"] > top[1]["count"] > 0
    assert sig(123456789.0, 4) == 123500000 and sig(0.000123456, 3) == 0.000123 and sig(float("nan")) is None
    text = render_text(first)
    assert 'column "num_shift" (numeric)' in text and "quantiles:" in text


def test_reports_escape_column_names() -> None:
    nasty = "<script>alert(1)</script>|**x**"
    ref = profile_dataframe(pd.DataFrame({nasty: np.arange(100.0), "ok": np.arange(100.0)}))
    tgt = profile_dataframe(pd.DataFrame({nasty: np.arange(100.0) + 50, "ok": np.arange(100.0)}))
    report = diff(ref, tgt, reference_label="ref|<b>", target_label="tgt")
    md = render_markdown(report)
    assert "<script>" not in md and "<b>" not in md and "&lt;script&gt;" in md
    assert "\\|\\*\\*x\\*\\*" in md
    for line in md.splitlines():
        if line.startswith("| ") and "script" in line:
            assert line.count(" | ") == 7  # the pipe in the name did not add a cell
    html = render_html(report)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "http" not in html and "<svg" in html and "src=" not in html


def test_drift_markdown_has_no_live_mention_or_reference() -> None:
    column = "@org/security-team #12"
    ref = profile_dataframe(pd.DataFrame({column: np.arange(100.0)}))
    tgt = profile_dataframe(pd.DataFrame({column: np.arange(100.0) + 50}))
    md = render_markdown(diff(ref, tgt, reference_label="@ref", target_label="#7"))
    assert re.search(r"(?<!&)[@#][A-Za-z0-9]", md) is None
    assert "@&#8203;org/security-team #&#8203;12" in md


@pytest.mark.interop
@pytest.mark.parametrize("shift", [0.0, 0.05, 0.5])
def test_ks_statistic_matches_whylogs(shift: float) -> None:
    from whylogs.core import DatasetProfileView
    from whylogs.viz.drift.column_drift_algorithms import KS

    from gitmlops.monitor.drift import ks_test
    from gitmlops.monitor.summary import kll

    rng = np.random.default_rng(11)
    ref_profile = profile_dataframe(pd.DataFrame({"v": rng.normal(0, 1, 3_000)}))
    tgt_profile = profile_dataframe(pd.DataFrame({"v": rng.normal(shift, 1, 4_000)}))
    ref, tgt = ref_profile.get_column("v"), tgt_profile.get_column("v")
    # whylogs' KS on the very same sketches (gitmlops' profiles, read by whylogs)
    theirs = KS().calculate(DatasetProfileView.deserialize(tgt_profile.serialize()).get_column("v"),
                            DatasetProfileView.deserialize(ref_profile.serialize()).get_column("v"))
    statistic, p_value = ks_test(kll(ref), kll(tgt))
    # whylogs-sketching and DataSketches 5 answer quantile queries of one sketch a little differently
    # (within its rank error, 0.3% at k=1024), which moves the grid the statistic is read on.
    assert statistic == pytest.approx(theirs.statistic, abs=0.002)
    assert p_value == pytest.approx(theirs.pvalue, rel=0.3, abs=1e-12)
