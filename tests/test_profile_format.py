"""whylogs' binary profile format, written and read by gitmlops itself: interoperability both ways
with whylogs 1.6.4 (tests marked ``interop``: a test-only dependency, on the Pythons where it installs)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gitmlops.errors import MonitorError
from gitmlops.monitor import profile_format
from gitmlops.monitor.profile_view import Profile, profile_dataframe


@pytest.fixture
def why() -> Any:
    """whylogs itself (the interop extra): a test using it is marked ``interop``."""
    os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "True")
    import whylogs

    return whylogs


def _frame(rows: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "age": rng.integers(18, 90, rows),
        "income": rng.normal(50_000, 12_000, rows),
        "plan": rng.choice(["free", "pro", "team"], rows),
        "active": rng.choice([True, False], rows),
        "mixed": pd.Series([1, "a", 2.5, None] * (rows // 4), dtype=object),
    })
    df.loc[[3, 17], "income"] = np.nan
    df.loc[[5], "plan"] = None
    df.loc[[8], "income"] = np.inf
    return df


def _whylogs_numbers(view: Any) -> dict[str, dict[str, Any]]:
    """What whylogs reports per column, in one shape for comparing."""
    out = {}
    for name, col in view.get_columns().items():
        counts = col.get_metric("counts").to_summary_dict()
        types = col.get_metric("types").to_summary_dict()
        entry: dict[str, Any] = {
            "n": counts["n"], "null": counts["null"], "true": counts["true"],
            "types": {k: types[k] for k in ("integral", "fractional", "boolean", "string", "object")},
        }
        dist = col.get_metric("distribution")
        if dist is not None and not dist.kll.value.is_empty():
            entry["mean"], entry["stddev"] = dist.avg, dist.stddev
            entry["min"], entry["max"] = dist.kll.value.get_min_value(), dist.kll.value.get_max_value()
            entry["kll_n"] = dist.kll.value.get_n()
            entry["cdf"] = dist.kll.value.get_cdf([0.0, 40.0, 50_000.0])
        card = col.get_metric("cardinality")
        if card is not None:
            entry["cardinality"] = card.hll.value.get_estimate()
        fi = col.get_metric("frequent_items")
        if fi is not None:
            entry["top"] = {i.value: i.est for i in fi.to_summary_dict()["frequent_strings"]}
        ints = col.get_metric("ints")
        if ints is not None and types["integral"]:
            entry["ints"] = (ints.minimum, ints.maximum)
        out[name] = entry
    return out


def _our_numbers(profile: Profile) -> dict[str, dict[str, Any]]:
    out = {}
    for name, col in profile.get_columns().items():
        entry: dict[str, Any] = {
            "n": col.count, "null": col.null_count, "true": int(col.components["counts/true"].value),
            "types": col.type_counts(),
        }
        sketch = col.kll()
        if sketch is not None and not sketch.is_empty():
            entry["mean"], entry["stddev"] = col.mean, col.stddev
            entry["min"], entry["max"] = sketch.get_min_value(), sketch.get_max_value()
            entry["kll_n"] = sketch.n
            entry["cdf"] = sketch.get_cdf([0.0, 40.0, 50_000.0])
        if col.cardinality() is not None:
            entry["cardinality"] = col.cardinality()
        if col.has("frequent_items"):
            entry["top"] = dict(col.frequent_items())
        if col.int_range() is not None:
            entry["ints"] = col.int_range()
        out[name] = entry
    return out


def _assert_same(ours: dict[str, Any], theirs: dict[str, Any], rank_error: float = 1e-6) -> None:
    """Equal numbers; ``rank_error`` for CDFs of two sketches of the same data (KLL is randomized)."""
    assert sorted(ours) == sorted(theirs)
    for name, a in ours.items():
        b = theirs[name]
        assert sorted(a) == sorted(b), name
        for key in a:
            if key in ("mean", "stddev", "min", "max"):
                assert math.isclose(a[key], b[key], rel_tol=1e-9, abs_tol=1e-9) or a[key] == b[key] or (
                    math.isnan(a[key]) and math.isnan(b[key])), (name, key, a[key], b[key])
            elif key == "cdf":
                assert a[key] == pytest.approx(b[key], abs=rank_error), (name, key)
            elif key == "cardinality":
                assert a[key] == pytest.approx(b[key], rel=1e-12), (name, key)
            else:
                assert a[key] == b[key], (name, key, a[key], b[key])


@pytest.mark.interop
def test_gitmlops_profile_reads_in_whylogs_with_the_same_numbers(tmp_path: Path, why: Any) -> None:
    from whylogs.core import DatasetProfileView

    df = _frame()
    ours = profile_dataframe(df)
    path = tmp_path / "ours.bin"
    path.write_bytes(ours.serialize())
    for view in (DatasetProfileView.read(str(path)), why.read(str(path)).view()):
        _assert_same(_our_numbers(ours), _whylogs_numbers(view))
    # and gitmlops' numbers are whylogs' own for the same data (same metrics, same sketches)
    _assert_same(_our_numbers(ours), _whylogs_numbers(why.log(df).view()), rank_error=0.01)


@pytest.mark.interop
def test_whylogs_profile_reads_in_gitmlops_with_the_same_numbers(why: Any) -> None:
    view = why.log(_frame(seed=1)).view()
    ours = Profile.deserialize(view.serialize())
    _assert_same(_our_numbers(ours), _whylogs_numbers(view))


def _column(profile: Any, name: str) -> Any:
    found = profile.get_column(name)
    assert found is not None, f"no column {name!r} in the profile"
    return found


@pytest.mark.interop
def test_merged_whylogs_profile_reads_and_merges_alike(why: Any) -> None:
    from whylogs.core import DatasetProfileView

    a, b = _frame(2000, seed=2), _frame(1000, seed=3)
    merged_view = why.log(a).view().merge(why.log(b).view())
    ours_read = Profile.deserialize(merged_view.serialize())
    _assert_same(_our_numbers(ours_read), _whylogs_numbers(merged_view))
    # gitmlops' own merge of its own profiles gives the same numbers (sketch estimates within their error)
    ours_merged = profile_dataframe(a).merge(profile_dataframe(b))
    assert _column(ours_merged, "age").count == 3000
    assert _column(ours_merged, "age").int_range() == _column(ours_read, "age").int_range()
    assert _column(ours_merged, "income").mean == pytest.approx(_column(ours_read, "income").mean, rel=1e-12)
    assert dict(_column(ours_merged, "plan").frequent_items()) == dict(_column(ours_read, "plan").frequent_items())
    # and whylogs reads gitmlops' merge
    _assert_same(_our_numbers(ours_merged), _whylogs_numbers(DatasetProfileView.deserialize(ours_merged.serialize())))


@pytest.mark.interop
def test_segmented_whylogs_profiles_read_with_their_segment(tmp_path: Path, why: Any) -> None:
    from whylogs.core.schema import DatasetSchema
    from whylogs.core.segmentation_partition import segment_on_column

    df = _frame(1200, seed=4).drop(columns=["mixed"]).dropna(subset=["plan"])
    results = why.log(df, schema=DatasetSchema(segments=segment_on_column("plan")))
    seen = {}
    for i, writable in enumerate(results.get_writables() or []):
        path = tmp_path / f"segment{i}.bin"
        writable.write(str(path))
        profile = Profile.deserialize(path.read_bytes())
        tags = dict(profile.data.segment_tags)
        seen[tags["plan"]] = _column(profile, "age").count
    assert seen == {plan: int((df["plan"] == plan).sum()) for plan in ("free", "pro", "team")}


def test_reencoding_is_byte_identical() -> None:
    blob = profile_dataframe(_frame(500)).serialize()
    assert profile_format.encode(profile_format.decode(blob)) == blob


@pytest.mark.parametrize(("data", "message"), [
    (b"", "no WHY1 header"),
    (b"JUNKJUNK", "no WHY1 header"),
    (b"WHY1\x00\x05ab", "truncated"),
])
def test_bad_bytes_are_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(MonitorError, match=message):
        Profile.deserialize(data)


def test_truncated_profile_is_a_clear_error() -> None:
    blob = profile_dataframe(_frame(500)).serialize()
    with pytest.raises(MonitorError, match=r"truncated|corrupted"):
        Profile.deserialize(blob[: len(blob) - 40])


def test_monitoring_runs_without_whylogs(tmp_path: Path) -> None:
    """Profiling, reading, merging, summaries, drift and constraints never import whylogs."""
    import subprocess
    import sys

    _frame(2000, seed=5).to_csv(tmp_path / "ref.csv", index=False)
    _frame(1000, seed=6).to_csv(tmp_path / "new.csv", index=False)
    script = """
import sys
sys.modules["whylogs"] = None  # any `import whylogs` now fails
from pathlib import Path
from gitmlops.monitor import sketches
from gitmlops.monitor.constraints import check_view
from gitmlops.monitor.drift import diff
from gitmlops.monitor.profile import profile_data, write_profile
from gitmlops.monitor.summary import summarize
ref = profile_data(Path("ref.csv"), chunk_size=500, jobs=2).views[""]
new = profile_data(Path("new.csv"), chunk_size=10_000, jobs=1).views[""]
write_profile(ref, Path("ref.bin"))
back = sketches.read_view("ref.bin")
merged = sketches.merge_views([back, new])
report = diff(back, new)
checked = check_view(merged, {"age": {"type": "integral", "min": 0, "max": 120}})
print(summarize(merged)["profile"]["rows"], len(report.columns), checked.passed,
      sorted(m for m, mod in sys.modules.items() if m.startswith("whylogs") and mod is not None))
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3000", "5", "True", "[]"]


def test_reference_profile_summary_is_byte_identical_on_rerun(tmp_path: Path) -> None:
    import json

    from gitmlops.stages.train import write_reference_profile

    df = _frame(30_000, seed=7)  # big enough for the KLL sketches to compact (at random)
    first, second = tmp_path / "a" / "reference_profile.bin", tmp_path / "b" / "reference_profile.bin"
    write_reference_profile(df, first)
    write_reference_profile(df, second)
    text = first.with_suffix(".json").read_bytes()
    assert text == second.with_suffix(".json").read_bytes()
    summary = json.loads(text)
    assert summary["profile"]["quantiles"] == "exact"
    assert summary["columns"]["age"]["quantiles"]["q50"] == float(np.quantile(df["age"], 0.5, method="inverted_cdf"))
