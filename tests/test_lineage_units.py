"""Unit tests for the pure rules of verify: lock parsing, why an output differs, summaries, metrics."""

from __future__ import annotations

import json

from gitmlops.lineage.compare import (
    StageLock,
    compare_metrics,
    compare_summaries,
    explain,
    flatten,
    parse_lock_stages,
    pipeline_inputs,
)

LOCK = """\
schema: '2.0'
stages:
  prepare:
    cmd: python -m gitmlops.stages prepare
    deps:
    - path: data/raw.csv
      md5: aaa
    params:
      params.yaml:
        data.seed: 1
    outs:
    - path: data/prepared
      md5: bbb.dir
  train:
    cmd: [python train.py, python stamp.py]
    deps:
    - path: data/prepared
      md5: bbb.dir
    - path: train.py
      md5: ccc
    outs:
    - path: models/model.bin
      md5: ddd
"""


def _stages() -> dict[str, StageLock]:
    return parse_lock_stages(LOCK)


def test_parse_lock_stages() -> None:
    stages = _stages()
    assert list(stages) == ["prepare", "train"]
    assert stages["prepare"].params == {"params.yaml:data.seed": 1}
    assert stages["train"].cmd == "python train.py && python stamp.py"
    assert stages["train"].outs == {"models/model.bin": "ddd"}
    assert parse_lock_stages("{not yaml") == {} and parse_lock_stages(None) == {}


def test_pipeline_inputs_are_deps_no_stage_writes() -> None:
    assert pipeline_inputs(_stages()) == {"data/raw.csv": "aaa", "train.py": "ccc"}


def _changed(stage: str, **changes: object) -> dict[str, StageLock]:
    stages = _stages()
    for key, value in changes.items():
        setattr(stages[stage], key, value)
    return stages


def test_explain_names_the_cause() -> None:
    expected = _stages()
    same = _stages()
    assert explain("models/model.bin", "train", expected, same).kind == "nondeterministic"
    upstream = _changed("train", deps={"data/prepared": "zzz.dir", "train.py": "ccc"})
    cause = explain("models/model.bin", "train", expected, upstream)
    assert cause.kind == "upstream_differs" and "data/prepared" in cause.message and "'prepare'" in cause.message
    code = _changed("train", deps={"data/prepared": "bbb.dir", "train.py": "changed"})
    cause = explain("models/model.bin", "train", expected, code)
    assert cause.kind == "inputs_changed" and "train.py" in cause.message
    params = _changed("prepare", params={"params.yaml:data.seed": 2})
    assert explain("data/prepared", "prepare", expected, params).kind == "params_changed"
    cmd = _changed("prepare", cmd="python other.py")
    assert explain("data/prepared", "prepare", expected, cmd).kind == "command_changed"
    assert explain("data/prepared", "prepare", expected, {}).kind == "output_missing"


def _summary(rows: int = 10, q50: float = 1.0, count: int = 10) -> str:
    column = {"kind": "numeric", "count": count, "null_count": 0, "null_fraction": 0, "mean": 1.5,
              "stddev": 0.5, "min": 1, "max": 2, "quantiles": {"q50": q50}, "cardinality": 2.0}
    return json.dumps({"profile": {"format": 1, "rows": rows, "columns": 1}, "columns": {"x": column}})


def test_summaries_compare_on_exact_fields_only() -> None:
    assert compare_summaries(_summary(q50=1.0), _summary(q50=1.7)) == []  # sketch estimates may move
    assert compare_summaries(_summary(), _summary(rows=11, count=11)) == ["rows 10 -> 11", "x.count 10 -> 11"]
    assert compare_summaries(_summary(), "[]") == ["not a profile summary"]
    added = json.loads(_summary())
    added["columns"]["y"] = added["columns"]["x"]
    assert compare_summaries(_summary(), json.dumps(added)) == ["column y added"]


def test_metrics_compare_exactly_and_flatten() -> None:
    checks = compare_metrics({"auc": 0.7, "test": {"f1": 0.2}}, {"auc": 0.7, "test": {"f1": 0.21}, "new": 1})
    assert [(c.name, c.match) for c in checks] == [("auc", True), ("new", False), ("test.f1", False)]
    assert compare_metrics(None, None) == []
    assert flatten({"a": {"b": {"c": 1}, "d": []}, "e": {}}) == {"a.b.c": 1, "a.d": [], "e": {}}
