"""Profile a pandas DataFrame into whylogs' metrics on Apache DataSketches, and merge profiles.

The metrics are whylogs' standard set, with its sketch parameters (KLL doubles k=1024, HLL lg_k=12
in HLL_4, frequent strings lg_max_k=10), so profiles written from here read in whylogs as its own:

- every column: ``counts/{n,null,nan,inf,true}`` and ``types/{integral,fractional,boolean,string,object,tensor}``
- integer columns: ``distribution``, ``ints/{min,max}``, ``cardinality``, ``frequent_items``
- float columns: ``distribution``, ``cardinality``
- other columns (strings, booleans, mixed): ``distribution`` (of their numbers and booleans as 0/1),
  ``cardinality``, ``frequent_items``

Sketch updates are vectorised: a KLL takes the whole numeric array at once; the HLL and frequent items
take each distinct value once (HLL ignores repeats; frequent items take the count as weight).
"""

from __future__ import annotations

import json
import sys
from collections import deque
from typing import Any

from .profile_format import COUNT, FLOAT, FREQUENT_ITEMS, HLL, KLL, Component, ProfileData

KLL_K = 1024
HLL_LG_K = 12
FI_LG_MAX_K = 10
MAX_ITEM_SIZE = 128
TYPES = ("boolean", "fractional", "integral", "object", "string", "tensor")
#: Profile metadata (a JSON object, column -> count) of a serving profile: the served values of each
#: category feature that training never saw (scored as missing, so the column holds them as nulls).
#: Counts add up when profiles merge.
UNSEEN_KEY = "gitmlops.unseen_categories"


def _ds() -> Any:
    import datasketches

    return datasketches


def _counts(n: int, null: int, nan: int = 0, inf: int = 0, true: int = 0) -> dict[str, Component]:
    return {f"counts/{k}": Component(COUNT, v) for k, v in
            (("n", n), ("null", null), ("nan", nan), ("inf", inf), ("true", true))}


def _types(**counts: int) -> dict[str, Component]:
    return {f"types/{t}": Component(COUNT, int(counts.get(t, 0))) for t in TYPES}


def _distribution(values: Any) -> dict[str, Component]:
    import numpy as np

    sketch = _ds().kll_doubles_sketch(KLL_K)
    # DataSketches takes only a writable array; pandas 3 (copy-on-write) hands out read-only views
    arr = np.require(values, dtype=np.float64, requirements=["W"])
    mean = m2 = 0.0
    if len(arr):
        sketch.update(arr)
        with np.errstate(invalid="ignore"):  # an infinity makes them NaN, as in whylogs
            mean = float(arr.mean())
            m2 = float(((arr - mean) ** 2).sum())
    return {"distribution/kll": Component(KLL, sketch.serialize()), "distribution/mean": Component(FLOAT, mean),
            "distribution/m2": Component(FLOAT, m2)}


def _cardinality(uniques: list[Any]) -> dict[str, Component]:
    sketch = _ds().hll_sketch(HLL_LG_K)
    deque(map(sketch.update, uniques), maxlen=0)  # a C-level loop: about half the time of a for loop
    return {"cardinality/hll": Component(HLL, sketch.serialize_compact())}


def _frequent(items: list[tuple[str, int]]) -> dict[str, Component]:
    sketch = _ds().frequent_strings_sketch(FI_LG_MAX_K)
    for value, weight in items:
        sketch.update(value[:MAX_ITEM_SIZE], int(weight))
    return {"frequent_items/frequent_strings": Component(FREQUENT_ITEMS, sketch.serialize())}


def _value_counts(series: Any) -> list[tuple[Any, int]]:
    counts = series.value_counts(sort=False, dropna=True)
    return list(zip(counts.index.tolist(), counts.to_numpy().tolist(), strict=True))


def profile_column(series: Any) -> dict[str, Component]:
    """whylogs' standard metrics of one column."""
    import numpy as np
    import pandas as pd
    from pandas.api import types as pdt

    n = len(series)
    nulls = series.isna()
    null = int(nulls.sum())
    present = series[~nulls]
    if pdt.is_numeric_dtype(series.dtype) and not pdt.is_bool_dtype(series.dtype):
        if pdt.is_float_dtype(series.dtype):
            values = present.to_numpy(dtype=np.float64)
            comps = _counts(n, null, nan=null, inf=int(np.isinf(values).sum()))
            comps.update(_types(fractional=len(values)))
            comps.update(_cardinality(pd.unique(values).tolist()))
            comps.update(_distribution(values))
            return comps
        ints = present.to_numpy(dtype=np.int64)
        comps = _counts(n, null, nan=null if series.dtype == object else 0)
        comps.update(_types(integral=len(ints)))
        comps.update(_distribution(ints))
        high = int(ints.max()) if len(ints) else -sys.maxsize
        low = int(ints.min()) if len(ints) else sys.maxsize
        comps["ints/max"] = Component(COUNT, high, 2)
        comps["ints/min"] = Component(COUNT, low, 1)
        counted = _value_counts(pd.Series(ints))
        comps.update(_cardinality([int(v) for v, _ in counted]))
        comps.update(_frequent([(str(int(v)), c) for v, c in counted]))
        return comps
    comps = _profile_objects(n, null, present)
    if pdt.is_bool_dtype(series.dtype):
        # whylogs files a bool column as integral: it carries an (empty) ints metric
        comps["ints/max"] = Component(COUNT, -sys.maxsize, 2)
        comps["ints/min"] = Component(COUNT, sys.maxsize, 1)
    return comps


def _profile_objects(n: int, null: int, present: Any) -> dict[str, Component]:
    """Strings, booleans and mixed columns: each value is classified by its Python type, as whylogs does."""
    from pandas.api import types as pdt

    counted = _value_counts(present)
    kinds = {"boolean": 0, "fractional": 0, "integral": 0, "string": 0, "object": 0}
    numbers: list[float] = []
    true = 0
    uniques: list[Any] = []
    items: list[tuple[str, int]] = []
    for value, count in counted:
        if pdt.is_bool(value):
            kinds["boolean"] += count
            true += count if value else 0
            numbers.extend([1.0 if value else 0.0] * count)
            uniques.append(1 if value else 0)
            items.append((str(bool(value)), count))
        elif isinstance(value, str):
            kinds["string"] += count
            uniques.append(value)
            items.append((value, count))
        elif pdt.is_integer(value):
            kinds["integral"] += count
            numbers.extend([float(value)] * count)
            uniques.append(int(value))
            items.append((str(int(value)), count))
        elif pdt.is_float(value):
            kinds["fractional"] += count
            numbers.extend([float(value)] * count)
            uniques.append(float(value))
            items.append((f"{float(value):f}", count))  # C++ std::to_string, as whylogs-sketching
        else:
            kinds["object"] += count
    comps = _counts(n, null, true=true)
    comps.update(_types(**kinds))
    comps.update(_cardinality(uniques))
    comps.update(_distribution(numbers))
    comps.update(_frequent(items))
    return comps


def profile_frame(df: Any, metadata: dict[str, str] | None = None) -> ProfileData:
    """The profile of a DataFrame (column names as strings, as whylogs names them)."""
    import time

    now = int(time.time() * 1000)
    columns = {str(name): profile_column(df[name]) for name in df.columns}
    return ProfileData(columns, now, now, dict(metadata or {}))


def _merge_component(path: str, a: Component, b: Component) -> Component:
    ds = _ds()
    if a.kind == KLL:
        sketch = ds.kll_doubles_sketch.deserialize(a.value)
        sketch.merge(ds.kll_doubles_sketch.deserialize(b.value))
        return Component(KLL, sketch.serialize(), a.type_id)
    if a.kind == HLL:
        union = ds.hll_union(HLL_LG_K)
        union.update(ds.hll_sketch.deserialize(a.value))
        union.update(ds.hll_sketch.deserialize(b.value))
        return Component(HLL, union.get_result(ds.tgt_hll_type.HLL_4).serialize_compact(), a.type_id)
    if a.kind == FREQUENT_ITEMS:
        sketch = ds.frequent_strings_sketch.deserialize(a.value)
        sketch.merge(ds.frequent_strings_sketch.deserialize(b.value))
        return Component(FREQUENT_ITEMS, sketch.serialize(), a.type_id)
    if a.type_id == 1:
        return Component(COUNT, min(a.value, b.value), 1)
    if a.type_id == 2:
        return Component(COUNT, max(a.value, b.value), 2)
    return Component(a.kind, a.value + b.value, a.type_id)


def _merge_column(a: dict[str, Component], b: dict[str, Component]) -> dict[str, Component]:
    out = dict(a)
    for path, comp in b.items():
        out[path] = comp if path not in a else _merge_component(path, a[path], comp)
    if "distribution/kll" in a and "distribution/kll" in b:
        # mean and m2 merge by the parallel-variance formula, weighted by the KLL counts
        ds = _ds()
        na = ds.kll_doubles_sketch.deserialize(a["distribution/kll"].value).n
        nb = ds.kll_doubles_sketch.deserialize(b["distribution/kll"].value).n
        ma, mb = float(a["distribution/mean"].value), float(b["distribution/mean"].value)
        total = na + nb
        if total:
            mean = (ma * na + mb * nb) / total  # stays infinite when a part is
            m2 = float(a["distribution/m2"].value) + float(b["distribution/m2"].value) + (mb - ma) ** 2 * na * nb / total
        else:
            mean = m2 = 0.0
        out["distribution/mean"] = Component(FLOAT, mean)
        out["distribution/m2"] = Component(FLOAT, m2)
    return out


def unseen_counts(metadata: dict[str, str]) -> dict[str, int]:
    """The unseen-category counts a profile's metadata carries (see ``UNSEEN_KEY``; {} when none)."""
    raw = metadata.get(UNSEEN_KEY)
    if not raw:
        return {}
    try:
        counts = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(counts, dict):
        return {}
    return {str(k): int(v) for k, v in counts.items() if isinstance(v, int) and not isinstance(v, bool)}


def with_unseen(metadata: dict[str, str], counts: dict[str, int]) -> dict[str, str]:
    """``metadata`` with the unseen-category counts ``counts`` (columns sorted; none: key left out)."""
    out = {k: v for k, v in metadata.items() if k != UNSEEN_KEY}
    if counts:
        out[UNSEEN_KEY] = json.dumps(dict(sorted(counts.items())), separators=(",", ":"))
    return out


def merge(a: ProfileData, b: ProfileData) -> ProfileData:
    """Merge two profiles: counts add, min/max combine, sketches merge (as if the rows had been profiled together)."""
    columns = dict(a.columns)
    for name, comps in b.columns.items():
        columns[name] = comps if name not in columns else _merge_column(columns[name], comps)
    stamps = [s for s in (a.dataset_timestamp, b.dataset_timestamp) if s]
    made = [s for s in (a.creation_timestamp, b.creation_timestamp) if s]
    unseen = unseen_counts(a.metadata)
    for name, n in unseen_counts(b.metadata).items():
        unseen[name] = unseen.get(name, 0) + n
    metadata = with_unseen({**a.metadata, **b.metadata}, unseen)
    return ProfileData(columns, min(stamps, default=0), min(made, default=0), metadata,
                       a.segment_tags or b.segment_tags)
