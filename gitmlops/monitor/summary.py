"""A stable, diff-friendly JSON summary of a whylogs profile, and its text form (textconv, show).

The binary profile does not diff (KLL sketches are randomized and carry timestamps); the summary does:
fixed key order, columns sorted by name, exact statistics rounded to 6 significant digits, the HLL
cardinality (deterministic for the same values) to 4. Quantiles are exact where the data is in
memory (the train stage's reference profile); where it is profiled in chunks (`monitor profile`)
they come from deterministic samples of each chunk (:mod:`gitmlops.monitor.quantile_sample`), with
a bounded rank error, rounded to 3 significant digits; only for profiles whose data is not at hand
(merged serving windows) are they the KLL sketch's randomized estimates. ``profile.quantiles`` says which.
"""

from __future__ import annotations

import json
import math
from typing import Any

SUMMARY_FORMAT = 1
TYPE_KEYS = ("integral", "fractional", "boolean", "string", "object")
QUANTILES = (("q01", 0.01), ("q05", 0.05), ("q25", 0.25), ("q50", 0.5), ("q75", 0.75), ("q95", 0.95),
             ("q99", 0.99))
TOP_ITEMS = 10
#: Significant digits of sketch-estimated quantiles; KLL (k=1024) places them within ~0.3% in rank.
QUANTILE_DIGITS = 3
KLL_RANK_ERROR = 0.0033


def sig(value: Any, digits: int = 6) -> float | int | None:
    """``value`` rounded to ``digits`` significant digits (None for missing, NaN and infinities)."""
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    if value == 0:
        return 0
    rounded = round(value, digits - 1 - math.floor(math.log10(abs(value))))
    return int(rounded) if rounded == int(rounded) and abs(rounded) < 2**53 else rounded


def type_counts(column: Any) -> dict[str, int]:
    """Counts of non-null values per whylogs type."""
    counted = column.type_counts()
    return {key: int(counted.get(key, 0)) for key in TYPE_KEYS}


def column_kind(column: Any) -> str:
    """'numeric', 'categorical' or 'empty' (only nulls), from the column's type counts."""
    types = type_counts(column)
    numbers = types["integral"] + types["fractional"]
    others = types["string"] + types["boolean"] + types["object"]
    if numbers == 0 and others == 0:
        return "empty"
    return "numeric" if numbers >= others else "categorical"


def counts(column: Any) -> tuple[int, int]:
    """(rows, nulls) of a column; NaN counts as null."""
    return column.count, column.null_count


def kll(column: Any) -> Any:
    """The column's KLL sketch, or None when it holds no numbers."""
    sketch = column.kll()
    return None if sketch is None or sketch.is_empty() else sketch


def frequent_items(column: Any) -> list[tuple[str, float]]:
    """(value, estimated count) of the frequent-items sketch, most frequent first."""
    return list(column.frequent_items())


def cardinality(column: Any) -> float | None:
    """The HLL estimate of distinct values."""
    return column.cardinality()


def exact_quantiles(df: Any) -> dict[str, dict[str, float]]:
    """Exact quantiles of a DataFrame's numeric columns (for summaries of data held in memory).

    ``inverted_cdf`` is the quantile a KLL sketch estimates: the smallest value whose share of
    values at or below it reaches the rank.
    """
    import numpy as np
    from pandas.api import types as pdt

    out = {}
    for name in df.columns:
        series = df[name].dropna()
        if pdt.is_numeric_dtype(series.dtype):  # booleans count as 0/1, as in the profile
            values = series.to_numpy(dtype=np.float64)
        else:  # the numbers (and booleans) among mixed values
            values = np.array([float(v) for v in series.tolist()
                               if isinstance(v, (bool, int, float, np.number)) and not isinstance(v, str)],
                              dtype=np.float64)
        if len(values):
            found = np.quantile(values, [q for _, q in QUANTILES], method="inverted_cdf")
            out[str(name)] = {key: float(v) for (key, _), v in zip(QUANTILES, found, strict=True)}
    return out


def summarize_column(column: Any, exact: dict[str, float] | None = None,
                     sampled: dict[str, float] | None = None) -> dict[str, Any]:
    """The summary of one column (see docs/monitoring.md for the shape); ``exact`` quantiles win over
    ``sampled`` ones (deterministic estimates), which win over the sketch's."""
    n, nulls = counts(column)
    entry: dict[str, Any] = {
        "kind": column_kind(column),
        "count": n,
        "null_count": nulls,
        "null_fraction": sig(nulls / n if n else 0.0, 4),
        "types": type_counts(column),
        "mean": None,
        "stddev": None,
        "min": None,
        "max": None,
        "quantiles": None,
        "cardinality": sig(cardinality(column), 4),
        "top": [],
    }
    sketch = kll(column)
    if sketch is not None:
        entry["mean"] = sig(column.mean)
        entry["stddev"] = sig(column.stddev)
        entry["min"] = sig(sketch.get_min_value())
        entry["max"] = sig(sketch.get_max_value())
        if exact is not None:
            entry["quantiles"] = {name: sig(exact[name], 6) for name, _ in QUANTILES}
        elif sampled is not None:
            entry["quantiles"] = {name: sig(sampled[name], QUANTILE_DIGITS) for name, _ in QUANTILES}
        else:
            values = sketch.get_quantiles([q for _, q in QUANTILES])
            entry["quantiles"] = {name: sig(v, QUANTILE_DIGITS) for (name, _), v in zip(QUANTILES, values, strict=True)}
    entry["top"] = [{"value": v, "count": round(c)} for v, c in frequent_items(column)[:TOP_ITEMS]]
    return entry


def summarize(view: Any, meta: dict[str, Any] | None = None,
              exact: dict[str, dict[str, float]] | None = None,
              sampled: tuple[dict[str, dict[str, float]], float] | None = None) -> dict[str, Any]:
    """The stable summary of a profile: profile-level facts and one entry per column.

    ``exact`` (from :func:`exact_quantiles`) gives quantiles computed on the data itself; ``sampled``
    (quantiles, rank error) deterministic estimates from samples of its chunks
    (:func:`gitmlops.monitor.quantile_sample.sampled_quantiles`). The summary says which it used.
    """
    exact = exact or {}
    estimated, rank_error = sampled or ({}, 0.0)
    if sampled is not None and rank_error == 0:  # every chunk's sample held all its values
        exact, estimated = {**estimated, **exact}, {}
    columns = {name: summarize_column(col, exact.get(name), estimated.get(name))
               for name, col in sorted(view.get_columns().items())}
    rows = max((c["count"] for c in columns.values()), default=0)
    head: dict[str, Any] = {"format": SUMMARY_FORMAT, "rows": rows, "columns": len(columns)}
    numeric = [name for name, c in columns.items() if c["quantiles"] is not None]
    if numeric:
        if all(name in exact for name in numeric):
            head["quantiles"] = "exact"
        elif all(name in exact or name in estimated for name in numeric):
            head["quantiles"] = (f"estimates from fixed samples of each chunk (the same data gives the same "
                                 f"figures), {QUANTILE_DIGITS} significant digits (rank error at most "
                                 f"{math.ceil(rank_error * 10_000) / 100:.2f}%); other figures exact")
        else:
            head["quantiles"] = (f"KLL sketch estimates, {QUANTILE_DIGITS} significant digits (rank error about "
                                 f"{KLL_RANK_ERROR:.1%}); other figures exact")
    unseen = view.unseen_categories() if hasattr(view, "unseen_categories") else {}
    if unseen:  # a serving profile: values training never saw, scored as missing (nulls in the columns)
        head["unseen_categories"] = unseen
    for key, value in sorted((meta or {}).items()):
        head[key] = value
    return {"profile": head, "columns": columns}


def summary_json(summary: dict[str, Any]) -> str:
    """The summary as committed next to the profile: indented, key order as built, final newline."""
    return json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def render_text(summary: dict[str, Any]) -> str:
    """Line-per-fact text of a summary: what `git diff` shows through the textconv driver."""
    head = summary["profile"]
    lines = [f"whylogs profile: {head['rows']} rows, {head['columns']} columns"]
    for key in sorted(k for k in head if k not in {"format", "rows", "columns"}):
        lines.append(f"{key}: {head[key]}")
    for name, col in summary["columns"].items():
        lines.append("")
        lines.append(f"column {json.dumps(name, ensure_ascii=False)} ({col['kind']})")
        lines.append(f"  count: {col['count']}")
        lines.append(f"  nulls: {col['null_count']} ({_fmt(col['null_fraction'])})")
        types = ", ".join(f"{k} {v}" for k, v in col["types"].items() if v)
        lines.append(f"  types: {types or '-'}")
        if col["mean"] is not None:
            lines.append(f"  mean: {_fmt(col['mean'])}  stddev: {_fmt(col['stddev'])}")
            lines.append(f"  min: {_fmt(col['min'])}  max: {_fmt(col['max'])}")
            quantiles = col["quantiles"] or {}
            lines.append("  quantiles: " + " ".join(f"{k}={_fmt(v)}" for k, v in quantiles.items()))
        lines.append(f"  distinct (est.): {_fmt(col['cardinality'])}")
        if col["top"]:
            top = ", ".join(f"{json.dumps(t['value'], ensure_ascii=False)}: {t['count']}" for t in col["top"])
            lines.append(f"  top: {top}")
    return "\n".join(lines) + "\n"


def summary_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """Table rows for `monitor show`: one per column."""
    rows = []
    for name, col in summary["columns"].items():
        top = col["top"][0]["value"] if col["top"] and col["kind"] == "categorical" else None
        quantiles = col["quantiles"] or {}
        rows.append([name, col["kind"], col["count"], col["null_fraction"], col["mean"], col["stddev"],
                     col["min"], quantiles.get("q50"), col["max"], col["cardinality"], top])
    return rows


SUMMARY_HEADERS = ["column", "kind", "count", "null_frac", "mean", "stddev", "min", "median", "max",
                   "distinct", "top"]
