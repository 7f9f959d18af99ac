"""Pure logic of `verify`: dvc.lock as data, output and metric comparisons, and why an output differs.

Nothing here touches git or DVC: functions take text and dicts, so the rules are unit-tested directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gitmlops.config import flatten

# The fields of a profile summary (gitmlops.monitor.summary) that are exact counts and moments.
# Quantiles, cardinality and frequent items are sketch estimates and change between runs on the
# same data, because whylogs' KLL sketches compact at random.
EXACT_SUMMARY_FIELDS = ("kind", "count", "null_count", "null_fraction", "types", "mean", "stddev", "min", "max")


@dataclass
class StageLock:
    """One stage of a dvc.lock: its command, dependency and output md5s, and params values."""

    name: str
    cmd: str | None
    deps: dict[str, str | None] = field(default_factory=dict)
    outs: dict[str, str | None] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


def parse_lock_stages(text: str | None, base: str = "") -> dict[str, StageLock]:
    """The stages of a dvc.lock text, in file order (empty when the text is missing or invalid);
    ``base``: the folder of the dvc.lock (a model's), whose paths are then given from the root."""
    import posixpath

    from gitmlops.adapters.dvc_repo import parse_lock

    def at(path: str) -> str:
        return posixpath.normpath(posixpath.join(base, path)) if base else path

    return {
        name: StageLock(
            name=name,
            cmd=stage["cmd"],
            deps={at(e["path"]): e["md5"] for e in stage["deps"]},
            outs={at(e["path"]): e["md5"] for e in stage["outs"]},
            params={f"{file}:{key}": value for file, values in stage["params"].items() if isinstance(values, dict)
                    for key, value in values.items()},
        )
        for name, stage in parse_lock(text).items()
    }


def producers(stages: dict[str, StageLock]) -> dict[str, str]:
    """Output path -> the stage that writes it."""
    return {path: stage.name for stage in stages.values() for path in stage.outs}


def pipeline_inputs(stages: dict[str, StageLock]) -> dict[str, str | None]:
    """The dependencies no stage produces (data and code the pipeline reads), with their md5s."""
    made = producers(stages)
    inputs: dict[str, str | None] = {}
    for stage in stages.values():
        for path, md5 in stage.deps.items():
            if path not in made and not any(path.startswith(out.rstrip("/") + "/") for out in made):
                inputs.setdefault(path, md5)
    return dict(sorted(inputs.items()))


@dataclass
class Cause:
    """Why an output differs: a kind (see docs/lineage.md) and a sentence naming the path."""

    kind: str
    message: str


def explain(path: str, stage: str, expected: dict[str, StageLock], actual: dict[str, StageLock]) -> Cause:
    """Why output ``path`` of ``stage`` came out different from what dvc.lock recorded.

    The reproduced dvc.lock records what the stage actually read; comparing it with the recorded one
    tells an upstream difference, a changed input (code or data committed without rerunning), a
    changed param, or, when everything the stage read is identical, a non-deterministic stage.
    """
    before = expected.get(stage)
    after = actual.get(stage)
    if before is None or after is None:
        return Cause("output_missing", f"{path}: stage {stage!r} did not run during verification")
    made = producers(expected)
    changed = sorted(p for p in set(before.deps) | set(after.deps) if before.deps.get(p) != after.deps.get(p))
    upstream = [p for p in changed if p in made]
    if upstream:
        return Cause(
            "upstream_differs",
            f"{path} differs because its input {upstream[0]} (written by stage {made[upstream[0]]!r}) differs",
        )
    if changed:
        return Cause(
            "inputs_changed",
            f"{path} differs: stage {stage!r} read {', '.join(changed)} with content other than dvc.lock "
            "recorded (code or data was committed without rerunning the pipeline)",
        )
    params = sorted(k for k in set(before.params) | set(after.params) if before.params.get(k) != after.params.get(k))
    if params:
        return Cause("params_changed", f"{path} differs: params {', '.join(params)} differ from those recorded")
    if before.cmd != after.cmd:
        return Cause("command_changed", f"{path} differs: the command of stage {stage!r} changed")
    return Cause(
        "nondeterministic",
        f"{path} is non-deterministic: stage {stage!r} read exactly the recorded inputs and params but wrote "
        "different bytes (seed every random generator, fix the thread count, keep timestamps out of "
        "outputs; or the installed libraries differ from the ones that trained it)",
    )


def summary_signature(text: str) -> dict[str, Any] | None:
    """The exact part of a profile summary (rows, columns, per-column counts and moments), or None
    when ``text`` is not a summary."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("columns"), dict):
        return None
    raw = doc.get("profile")
    profile: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return {
        "rows": profile.get("rows"),
        "columns": {
            name: {k: col.get(k) for k in EXACT_SUMMARY_FIELDS if isinstance(col, dict)}
            for name, col in sorted(doc["columns"].items())
        },
    }


def compare_summaries(expected: str, actual: str) -> list[str]:
    """Differences between two profile summaries in their exact fields (empty: equivalent)."""
    a, b = summary_signature(expected), summary_signature(actual)
    if a is None or b is None:
        return ["not a profile summary"]
    diffs = []
    if a["rows"] != b["rows"]:
        diffs.append(f"rows {a['rows']} -> {b['rows']}")
    for name in sorted(set(a["columns"]) | set(b["columns"])):
        if name not in b["columns"]:
            diffs.append(f"column {name} missing")
        elif name not in a["columns"]:
            diffs.append(f"column {name} added")
        else:
            for key, value in a["columns"][name].items():
                if b["columns"][name].get(key) != value:
                    diffs.append(f"{name}.{key} {value} -> {b['columns'][name].get(key)}")
    return diffs


@dataclass
class MetricCheck:
    """One metric as recorded at the commit and as reproduced."""

    name: str
    recorded: Any
    reproduced: Any
    match: bool


def compare_metrics(recorded: dict[str, Any] | None, reproduced: dict[str, Any] | None) -> list[MetricCheck]:
    """Every metric key of either side, with equality (exact: same bytes in, same numbers out)."""
    a, b = flatten(recorded or {}), flatten(reproduced or {})
    return [MetricCheck(k, a.get(k), b.get(k), k in a and k in b and a[k] == b[k]) for k in sorted(set(a) | set(b))]
