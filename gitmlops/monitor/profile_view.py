"""Reading a profile: the numbers of each column, from its stored metric components.

:class:`Profile` is what gitmlops' monitoring works on (summaries, drift, constraints, merging); it is
a :class:`~gitmlops.monitor.profile_format.ProfileData` with accessors. Sketches are deserialized
with Apache DataSketches when asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gitmlops.errors import MonitorError
from gitmlops.monitor import profile_build, profile_format
from gitmlops.monitor.profile_format import Component, ProfileData

TYPE_KEYS = ("integral", "fractional", "boolean", "string", "object")


@dataclass
class ColumnProfile:
    """One column of a profile."""

    components: dict[str, Component]

    def _value(self, path: str, default: Any = 0) -> Any:
        comp = self.components.get(path)
        return default if comp is None else comp.value

    def has(self, metric: str) -> bool:
        """Whether the column carries ``metric`` (``counts``, ``distribution``, ``frequent_items``...)."""
        return any(path.startswith(metric + "/") for path in self.components)

    @property
    def count(self) -> int:
        """Rows, nulls included."""
        return int(self._value("counts/n"))

    @property
    def null_count(self) -> int:
        """Nulls (NaN included)."""
        return int(self._value("counts/null"))

    def type_counts(self) -> dict[str, int]:
        """Non-null values per whylogs type."""
        return {key: int(self._value(f"types/{key}")) for key in TYPE_KEYS}

    def kll(self) -> Any:
        """The KLL doubles sketch of the column's numbers (``datasketches.kll_doubles_sketch``), or None."""
        raw = self._value("distribution/kll", None)
        if raw is None:
            return None
        import datasketches

        return datasketches.kll_doubles_sketch.deserialize(raw)

    @property
    def mean(self) -> float:
        """Exact mean of the numbers."""
        return float(self._value("distribution/mean", 0.0))

    @property
    def stddev(self) -> float:
        """Exact sample standard deviation of the numbers (whylogs' definition: m2 / (n - 1))."""
        sketch = self.kll()
        n = sketch.n if sketch is not None else 0
        m2 = float(self._value("distribution/m2", 0.0))
        return math.sqrt(m2 / (n - 1)) if n > 1 else 0.0

    def frequent_items(self) -> list[tuple[str, float]]:
        """(value, estimated count), most frequent first (ties by value)."""
        raw = self._value("frequent_items/frequent_strings", None)
        if raw is None:
            return []
        import datasketches

        sketch = datasketches.frequent_strings_sketch.deserialize(raw)
        items = sketch.get_frequent_items(datasketches.frequent_items_error_type.NO_FALSE_NEGATIVES)
        return sorted(((str(v), float(est)) for v, est, _low, _high in items), key=lambda p: (-p[1], p[0]))

    def cardinality(self) -> float | None:
        """The HLL estimate of distinct values, or None without a cardinality metric."""
        raw = self._value("cardinality/hll", None)
        if raw is None:
            return None
        import datasketches

        return float(datasketches.hll_sketch.deserialize(raw).get_estimate())

    def int_range(self) -> tuple[int, int] | None:
        """Exact (min, max) of an integer column, or None."""
        if "ints/min" not in self.components or self.type_counts()["integral"] == 0:
            return None
        return int(self._value("ints/min")), int(self._value("ints/max"))


@dataclass
class Profile:
    """A dataset profile: columns by name, plus timestamps and metadata."""

    data: ProfileData

    def get_columns(self) -> dict[str, ColumnProfile]:
        """Columns by name."""
        return {name: ColumnProfile(comps) for name, comps in self.data.columns.items()}

    def get_column(self, name: str) -> ColumnProfile | None:
        """One column, or None."""
        comps = self.data.columns.get(name)
        return None if comps is None else ColumnProfile(comps)

    def unseen_categories(self) -> dict[str, int]:
        """Per category column, the served values unseen in training (serving profiles; {} otherwise)."""
        return profile_build.unseen_counts(self.data.metadata)

    def with_unseen_categories(self, counts: dict[str, int]) -> Profile:
        """This profile, recording ``counts`` as its unseen-category counts."""
        data = ProfileData(self.data.columns, self.data.dataset_timestamp, self.data.creation_timestamp,
                           profile_build.with_unseen(self.data.metadata, counts), self.data.segment_tags)
        return Profile(data)

    def merge(self, other: Profile) -> Profile:
        """Both profiles as one (sketches merge exactly as if the rows had been profiled together)."""
        return Profile(profile_build.merge(self.data, other.data))

    def serialize(self) -> bytes:
        """whylogs' binary format."""
        return profile_format.encode(self.data)

    @classmethod
    def deserialize(cls, data: bytes) -> Profile:
        """A profile from whylogs' binary format (``MonitorError`` when the bytes are not one)."""
        try:
            return cls(profile_format.decode(data))
        except profile_format.ProfileFormatError as exc:
            raise MonitorError(exc.message, exc.hint) from None

    @classmethod
    def zero(cls) -> Profile:
        """The empty profile (the unit of merging)."""
        return cls(ProfileData())


def profile_dataframe(df: Any, metadata: dict[str, str] | None = None) -> Profile:
    """Profile a pandas DataFrame."""
    return Profile(profile_build.profile_frame(df, metadata))
