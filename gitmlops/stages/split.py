"""The split settings and column checks both `prepare` engines share (pandas in :mod:`.prepare`,
Dask in :mod:`.dask_prepare`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitmlops.errors import DataError


@dataclass(frozen=True)
class SplitSettings:
    """The `data` group's label column, held-out share and split seed, validated."""

    target: str
    test_size: float
    seed: int


def split_settings(data: dict[str, Any]) -> SplitSettings:
    """Validate ``data.target``, ``data.test_size`` and ``data.split_seed`` (shared by both engines)."""
    target = data.get("target")
    if not target:
        raise DataError("data.target is not set", "set it in conf/data/ or pass data.target=COLUMN")
    test_size = float(data.get("test_size", 0.2))
    if not 0.0 < test_size < 1.0:
        raise DataError(f"data.test_size must be between 0 and 1, not {test_size}")
    return SplitSettings(str(target), test_size, int(data.get("split_seed", 42)))


def columns_to_drop(data: dict[str, Any], target: str, columns: Any) -> list[str]:
    """``data.drop_columns`` checked against the data's ``columns`` (the target must be there)."""
    if target not in columns:
        raise DataError(
            f"target column {target!r} is not in the data",
            f"columns are: {', '.join(map(str, columns))}; pass data.target=COLUMN",
        )
    drop = [c for c in data.get("drop_columns") or [] if c != target]
    unknown = [c for c in drop if c not in columns]
    if unknown:
        raise DataError(f"data.drop_columns names unknown columns: {', '.join(unknown)}")
    return drop
