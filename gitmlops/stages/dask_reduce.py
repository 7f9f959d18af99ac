"""The worker-side reductions of Dask training: the feature schema from per-partition summaries and
the reference profile from per-partition whylogs profiles, both reduced pairwise on the workers so
that the client never holds rows (see :mod:`gitmlops.stages.dask_train`)."""

from __future__ import annotations

from typing import Any

from gitmlops.errors import DataError
from gitmlops.stages.features import MAX_CLASSES_FOR_INTEGER_TARGET, build_schema

# -- schema from partition summaries --------------------------------------------------------------


def summarize_partition(df: Any, target: str) -> dict[str, Any]:
    """What the schema needs from one partition: its per-feature schema and the target's values.

    Numeric targets keep at most ``MAX_CLASSES_FOR_INTEGER_TARGET + 1`` distinct values (enough to
    tell class labels from a regression target) plus one non-integral value if there is one.
    """
    import pandas as pd

    features = (
        build_schema(df, target, objective="reg:squarederror")["features"] if len(df.columns) > 1 else []
    )
    values = df[target].dropna()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    summary: dict[str, Any] = {
        "rows": len(df),
        "features": features,
        "dtype": str(values.dtype),
        "numeric": numeric,
        "values": [],
        "nonintegral": None,
    }
    distinct = values.unique()
    if numeric:
        fractional = values[values != values.round()]
        if len(fractional):
            summary["nonintegral"] = _native(fractional.iloc[0])
        distinct = distinct[: MAX_CLASSES_FOR_INTEGER_TARGET + 1]
    summary["values"] = [_native(v) for v in distinct]
    return summary


def merge_summaries(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Combine two partition summaries (associative, so they reduce in a tree)."""
    if a["rows"] == 0:
        return b
    if b["rows"] == 0:
        return a
    features = []
    for fa, fb in zip(a["features"], b["features"], strict=True):
        if fa["type"] != fb["type"]:
            raise DataError(
                f"column {fa['name']!r} has type {fa['type']} in one partition and {fb['type']} in another"
            )
        merged = dict(fa, nullable=fa["nullable"] or fb["nullable"])
        if "categories" in fa:
            merged["categories"] = sorted(set(fa["categories"]) | set(fb["categories"]))
        features.append(merged)
    values = list(dict.fromkeys(a["values"] + b["values"]))
    if a["numeric"]:
        values = values[: MAX_CLASSES_FOR_INTEGER_TARGET + 1]
    return dict(
        a,
        rows=a["rows"] + b["rows"],
        features=features,
        values=values,
        nonintegral=a["nonintegral"] if a["nonintegral"] is not None else b["nonintegral"],
    )


def schema_from_summary(summary: dict[str, Any], target: str, objective: str = "auto") -> dict[str, Any]:
    """The schema :func:`build_schema` gives for the whole data, from the reduced summary."""
    import pandas as pd

    if summary["rows"] == 0:
        raise DataError("the training data has no rows")
    values = summary["values"] + ([summary["nonintegral"]] if summary["nonintegral"] is not None else [])
    dtype = summary["dtype"] if summary["numeric"] or summary["dtype"] == "bool" else object
    # A stand-in for the target column with the same dtype and the distinct values that decide the
    # task and classes, so build_schema's own rules apply unchanged.
    digest = pd.DataFrame({target: pd.Series(values, dtype=dtype), "__feature__": 0.0})
    schema = build_schema(digest, target, objective or "auto")
    schema["features"] = summary["features"]
    if not schema["features"]:
        raise DataError("the data has no feature columns besides the target")
    return schema


def _native(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def tree_reduce(parts: list[Any], combine: Any) -> Any:
    """Pairwise reduction of delayed values (depth log2(n), each step on a worker)."""
    import dask

    merge = dask.delayed(combine, pure=True)
    while len(parts) > 1:
        pairs = [merge(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


# -- reference profile ----------------------------------------------------------------------------


def profile_partition(df: Any) -> bytes:
    """whylogs' bytes of one partition's profile (small; they travel instead of rows)."""
    from gitmlops.monitor import profile_dataframe

    return bytes(profile_dataframe(df).serialize())


def merge_profiles(a: bytes, b: bytes) -> bytes:
    """Merge two serialized profiles (exact, associative)."""
    from gitmlops.monitor.profile_view import Profile

    return bytes(Profile.deserialize(a).merge(Profile.deserialize(b)).serialize())
