"""Ingestion checks: the `data.constraints` of the config, run with whylogs' constraints API on a profile.

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
from pathlib import Path
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


def _metric_constraints(column: str, spec: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(constraint kind, expectation, whylogs MetricConstraint) for one column's rules."""
    from gitmlops.monitor import sketches

    sketches.whylogs()
    from whylogs.core.constraints.factories import (
        column_has_zero_count_types,
        column_is_nullable_datatype,
        frequent_strings_in_reference_set,
        is_in_range,
        null_percentage_below_number,
    )

    out: list[tuple[str, str, Any]] = []
    kind = spec.get("type")
    if kind == "numeric":
        out.append(("type", "numeric", column_has_zero_count_types(column, ["string", "boolean", "object", "tensor"])))
    elif kind:
        out.append(("type", str(kind), column_is_nullable_datatype(column, kind)))
    low, high = spec.get("min"), spec.get("max")
    if low is not None or high is not None:
        lower = -math.inf if low is None else low
        upper = math.inf if high is None else high
        out.append(("range", f"values in [{lower}, {upper}]", is_in_range(column, lower, upper, skip_missing=False)))
    if spec.get("allowed") is not None:
        allowed = [str(v) for v in spec["allowed"]]
        out.append(("allowed", f"values in {allowed}", frequent_strings_in_reference_set(column, set(allowed))))
    if spec.get("max_null_fraction") is not None:
        limit = float(spec["max_null_fraction"])
        out.append(("max_null_fraction", f"null fraction <= {limit:g}", null_percentage_below_number(column, limit)))
    return out


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
    """Run ``constraints`` (the `data.constraints` format) on a ``DatasetProfileView``."""
    required, rules = parse_constraints(constraints)
    columns = view.get_columns()
    results: list[ConstraintResult] = []
    for column in sorted(set(required) | set(rules)):
        if column not in columns:
            results.append(ConstraintResult(column, "required", False, "column present", "column missing"))
    from gitmlops.monitor import sketches

    sketches.whylogs()
    from whylogs.core.constraints import ConstraintsBuilder

    builder = ConstraintsBuilder(dataset_profile_view=view)
    expected: dict[str, tuple[str, str, str]] = {}
    for column, spec in sorted(rules.items()):
        if column not in columns:
            continue
        for kind, expectation, constraint in _metric_constraints(column, spec):
            # Our own names keep the whylogs report entries mapped to (column, kind).
            constraint.name = f"{column}\x1f{kind}"
            expected[constraint.name] = (column, kind, expectation)
            builder.add_constraint(constraint)
    if expected:
        report = builder.build().generate_constraints_report()
        for entry in report:
            column, kind, expectation = expected[entry.name]
            summary = summarize_column(columns[column])
            allowed = [str(v) for v in rules[column].get("allowed") or []] if kind == "allowed" else None
            results.append(ConstraintResult(column, kind, bool(entry.passed) and not entry.failed,
                                            expectation, _observed(kind, summary, allowed)))
    results.sort(key=lambda r: (r.passed, r.column, r.constraint))
    failed = sum(not r.passed for r in results)
    return CheckResult(source, failed == 0, len(results), failed, results)


def check(repo_or_root: Any, path: str | os.PathLike[str], constraints: Any = None) -> CheckResult:
    """Check a data file/folder or a .bin profile against ``constraints`` (default: data.constraints)."""
    from gitmlops.monitor import sketches
    from gitmlops.monitor.profile import profile_data
    from gitmlops.monitor.settings import load_settings, project_config

    root = _root_of(repo_or_root)
    if constraints is None:
        constraints = (project_config(root).get("data") or {}).get("constraints") or {}
    parse_constraints(constraints)  # a bad config fails before any data is read
    target = Path(path)
    if not target.is_absolute():
        target = root / target
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
