"""Ingestion checks: the `data.constraints` of the config, judged on a profile's counts and sketches.

Format (conf/data/default.yaml)::

    constraints:
      required_columns: [age, income]
      age: {type: integral, min: 0, max: 120, max_null_fraction: 0.0}
      plan: {type: string, allowed: [free, pro]}

Types: integral, fractional, numeric (integral or fractional), string, boolean. ``allowed`` is checked
against the frequent-items sketch, which holds every value of a column with up to ~100 distinct values.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from gitmlops.errors import ConfigError
from gitmlops.monitor.settings import root_of as _root_of
from gitmlops.monitor.summary import summarize_column

TYPES = ("integral", "fractional", "numeric", "string", "boolean")
RULE_KEYS = ("type", "min", "max", "allowed", "max_null_fraction")


@dataclass
class ConstraintResult:
    """One constraint on one column, and what the profile showed."""

    column: str
    constraint: str
    passed: bool
    expected: str
    observed: str


@dataclass
class CheckResult:
    """The outcome of checking a data set (or a profile) against its constraints."""

    source: str
    passed: bool
    checked: int
    failed: int
    results: list[ConstraintResult] = field(default_factory=list)


def parse_constraints(raw: Any) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Validate ``data.constraints``; returns (required columns, per-column rules)."""
    if raw is None:
        return [], {}
    if not isinstance(raw, dict):
        raise ConfigError(f"data.constraints must be a mapping, got {type(raw).__name__}",
                          "see the comment in conf/data/default.yaml for the format")
    required = raw.get("required_columns") or []
    if not isinstance(required, list):
        raise ConfigError("data.constraints.required_columns must be a list of column names")
    rules: dict[str, dict[str, Any]] = {}
    for column, spec in raw.items():
        if column == "required_columns":
            continue
        where = f"data.constraints.{column}"
        if not isinstance(spec, dict):
            raise ConfigError(f"{where} must be a mapping of {', '.join(RULE_KEYS)}, got {spec!r}")
        unknown = set(spec) - set(RULE_KEYS)
        if unknown:
            raise ConfigError(f"{where} has unknown keys: {', '.join(sorted(map(str, unknown)))}",
                              f"allowed keys: {', '.join(RULE_KEYS)}")
        if "type" in spec and spec["type"] not in TYPES:
            raise ConfigError(f"{where}.type must be one of {', '.join(TYPES)}, got {spec['type']!r}")
        for key in ("min", "max", "max_null_fraction"):
            value = spec.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ConfigError(f"{where}.{key} must be a number, got {value!r}")
        if "allowed" in spec and not isinstance(spec["allowed"], list):
            raise ConfigError(f"{where}.allowed must be a list of values")
        rules[str(column)] = dict(spec)
    return [str(c) for c in required], rules


def _rules(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(constraint kind, expectation) for one column's rules."""
    out: list[tuple[str, str]] = []
    kind = spec.get("type")
    if kind:
        out.append(("type", str(kind)))
    low, high = spec.get("min"), spec.get("max")
    if low is not None or high is not None:
        lower = -math.inf if low is None else low
        upper = math.inf if high is None else high
        out.append(("range", f"values in [{lower}, {upper}]"))
    if spec.get("allowed") is not None:
        out.append(("allowed", f"values in {[str(v) for v in spec['allowed']]}"))
    if spec.get("max_null_fraction") is not None:
        out.append(("max_null_fraction", f"null fraction <= {float(spec['max_null_fraction']):g}"))
    return out


def _passes(kind: str, spec: dict[str, Any], column: Any) -> bool:
    """Whether ``column`` (a profile column) meets one rule, judged on its exact counts and sketches."""
    types = column.type_counts()
    if kind == "type":
        wanted = {"integral", "fractional"} if spec["type"] == "numeric" else {spec["type"]}
        return all(count == 0 for name, count in types.items() if name not in wanted)
    if kind == "range":
        # A column without numbers fails a range (nothing shows its values are in it).
        sketch = column.kll()
        if sketch is None or sketch.is_empty():
            return False
        lower = -math.inf if spec.get("min") is None else spec["min"]
        upper = math.inf if spec.get("max") is None else spec["max"]
        return bool(lower <= sketch.get_min_value() and sketch.get_max_value() <= upper)
    if kind == "allowed":
        allowed = {str(v) for v in spec["allowed"]}
        return all(value in allowed for value, _count in column.frequent_items())
    n = column.count
    return (column.null_count / n if n else 0.0) <= float(spec["max_null_fraction"])


def _observed(kind: str, summary: dict[str, Any], allowed: list[str] | None) -> str:
    if kind == "type":
        types = ", ".join(f"{k} {v}" for k, v in summary["types"].items() if v)
        return f"types: {types or 'none'}"
    if kind == "range":
        return f"min {summary['min']}, max {summary['max']}"
    if kind == "allowed":
        outside = [t["value"] for t in summary["top"] if allowed is not None and t["value"] not in allowed]
        return f"values outside the set: {', '.join(outside)}" if outside else "all frequent values in the set"
    return f"null fraction {summary['null_fraction']}"


def check_view(view: Any, constraints: Any, source: str = "profile") -> CheckResult:
    """Run ``constraints`` (the `data.constraints` format) on a profile."""
    required, rules = parse_constraints(constraints)
    columns = view.get_columns()
    results: list[ConstraintResult] = []
    for column in sorted(set(required) | set(rules)):
        if column not in columns:
            results.append(ConstraintResult(column, "required", False, "column present", "column missing"))
    for column, spec in sorted(rules.items()):
        if column not in columns:
            continue
        summary = summarize_column(columns[column])
        for kind, expectation in _rules(spec):
            allowed = [str(v) for v in spec.get("allowed") or []] if kind == "allowed" else None
            results.append(ConstraintResult(column, kind, _passes(kind, spec, columns[column]), expectation,
                                            _observed(kind, summary, allowed)))
    results.sort(key=lambda r: (r.passed, r.column, r.constraint))
    failed = sum(not r.passed for r in results)
    return CheckResult(source, failed == 0, len(results), failed, results)


def check(repo_or_root: Any, path: str | os.PathLike[str], constraints: Any = None) -> CheckResult:
    """Check a data file/folder or a .bin profile against ``constraints`` (default: data.constraints)."""
    from gitmlops.adapters.git_repo import user_path
    from gitmlops.monitor import sketches
    from gitmlops.monitor.profile import profile_data
    from gitmlops.monitor.settings import load_settings, project_config

    root = _root_of(repo_or_root)
    if constraints is None:
        constraints = (project_config(root).get("data") or {}).get("constraints") or {}
    parse_constraints(constraints)  # a bad config fails before any data is read
    target = user_path(repo_or_root, path)
    if target.suffix == ".bin":
        view = sketches.read_view(target)
    else:
        settings = load_settings(root)
        view = profile_data(target, settings.chunk_size, settings.jobs).views[""]
    try:
        shown = target.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        shown = str(target)
    return check_view(view, constraints, shown)
