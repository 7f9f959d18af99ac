"""Params and metrics of a project, base vs now: the diffs a report (one section per model, or the
repository's) is made of. Shared by :mod:`.collect` and :mod:`.models`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from gitmlops.config import flatten
from gitmlops.report.model import MetricChange, MetricVerdict, ParamChange
from gitmlops.report.settings import ReportSettings


def _yaml(text: str | None) -> dict[str, Any]:
    import yaml

    try:
        doc = yaml.safe_load(text or "")
    except yaml.YAMLError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _json(text: str | None) -> dict[str, Any]:
    try:
        doc = json.loads(text or "{}")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _read(root: Path, relpath: str) -> str | None:
    path = root / relpath
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None


def diff_params(base: dict[str, Any], current: dict[str, Any]) -> list[ParamChange]:
    """Changed keys between two params mappings, sorted by key."""
    old, new = flatten(base), flatten(current)
    changes = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            changes.append(ParamChange(key, "added", None, new[key]))
        elif key not in new:
            changes.append(ParamChange(key, "removed", old[key], None))
        elif old[key] != new[key]:
            changes.append(ParamChange(key, "changed", old[key], new[key]))
    return changes


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def judge(delta: float | None, direction: str | None) -> MetricVerdict | None:
    """``better``/``worse``/``same`` for a delta of a metric whose better ``direction`` is known."""
    if delta is None or direction not in ("up", "down"):
        return None
    if delta == 0:
        return "same"
    return "better" if (delta > 0) == (direction == "up") else "worse"


def diff_metrics(base: dict[str, Any], current: dict[str, Any],
                 settings: ReportSettings | None = None) -> list[MetricChange]:
    """Every metric of either side with its delta, relative change and, by ``settings``, whether it
    got better or worse."""
    settings = settings or ReportSettings()
    old, new = flatten(base), flatten(current)
    rows = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        na, nb = _number(a), _number(b)
        # 12 significant digits drop float noise (0.8413 - 0.8512 = -0.009999999999999898).
        delta = float(f"{nb - na:.12g}") if na is not None and nb is not None else None
        relative = float(f"{delta / abs(na):.12g}") if delta is not None and na else None
        direction = settings.direction(key) if na is not None or nb is not None else None
        rows.append(MetricChange(key, a, b, delta, relative, a != b, direction, judge(delta, direction)))
    return rows


