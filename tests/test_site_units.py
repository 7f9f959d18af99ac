"""Pure parts of the site: the stage timeline replay, plot parsing, addresses, the data.js escape."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from gitmlops.registry.events import Event
from gitmlops.registry.state import build_artifact
from gitmlops.site import drift_report, model_page, version_page
from gitmlops.site.build import script_json
from gitmlops.site.models import MAX_POINTS, _plot, _plot_specs, _records, stage_timeline


def _event(kind: str, tag: str, commit: str, ts: int, version: str | None = None, stage: str | None = None,
           counter: int | None = None) -> Event:
    return Event(kind=kind, name="m", tag=tag, commit=commit, timestamp=ts, author="Ada", author_email="a@x",
                 version=version, stage=stage, counter=counter)


def test_timeline_replays_promotions_demotions_and_deregistrations() -> None:
    events = [
        _event("register", "m@v1.0.0", "c1", 100, version="v1.0.0"),
        _event("assign", "m#prod#1", "c1", 110, stage="prod", counter=1),
        _event("register", "m@v1.1.0", "c2", 200, version="v1.1.0"),
        _event("assign", "m#prod#2", "c2", 210, stage="prod", counter=2),
        _event("assign", "m#staging#3", "c2", 220, stage="staging", counter=3),
        _event("deregister", "m@v1.1.0!", "c2", 300, version="v1.1.0"),  # prod falls back to v1.0.0
        _event("unassign", "m#prod!#4", "c1", 400, stage="prod", counter=4),
    ]
    timeline = stage_timeline(build_artifact("m", events))
    iso = lambda ts: f"1970-01-01T00:0{ts // 60}:{ts % 60:02d}+00:00"  # noqa: E731
    assert timeline["prod"] == [
        {"version": "v1.0.0", "from": iso(110), "to": iso(210)},
        {"version": "v1.1.0", "from": iso(210), "to": iso(300)},
        {"version": "v1.0.0", "from": iso(300), "to": iso(400)},
    ]
    assert timeline["staging"] == [{"version": "v1.1.0", "from": iso(220), "to": iso(300)}]


def test_plot_specs_read_stage_and_top_level_plots() -> None:
    doc = {"stages": {"evaluate": {"plots": ["loss.json", {"roc.json": {"x": "fpr", "y": "tpr"}}]}},
           "plots": [{"cm.json": {"template": "confusion", "x": "actual", "y": "predicted"}}]}
    assert [(s["path"], s["x"], s["y"], s["template"]) for s in _plot_specs(doc)] == [
        ("loss.json", None, None, None), ("roc.json", "fpr", "tpr", None), ("cm.json", "actual", "predicted", "confusion")]
    assert _plot_specs({"stages": "not a mapping"}) == []


def test_records_accept_a_list_or_an_object_holding_one() -> None:
    assert _records('[{"a": 1}, 2]') == [{"a": 1}]
    assert _records('{"roc": [{"a": 1}]}') == [{"a": 1}]
    assert _records('{"a": [], "b": []}') == [] and _records("not json") == [] and _records(None) == []


def test_confusion_counts_and_line_thinning() -> None:
    spec = {"path": "cm.json", "x": "actual", "y": "predicted", "template": "conf/plots/confusion_counts.json"}
    rows = [{"actual": 0, "predicted": 0, "count": 5}, {"actual": 0, "predicted": 1}, {"actual": 0, "predicted": 0, "count": 2}]
    assert _plot(spec, rows) == {"path": "cm.json", "kind": "confusion", "x": "actual", "y": "predicted",
                                 "cells": {"0": {"0": 7, "1": 1}}}
    line = {"path": "roc.json", "x": None, "y": None, "template": None}  # x and y: the first two keys
    curve = _plot(line, [{"fpr": i / 999, "tpr": (i / 999) ** 0.5} for i in range(1000)])
    assert curve is not None and curve["x"] == "fpr" and len(curve["points"]) == MAX_POINTS + 1
    assert curve["points"][0] == [0.0, 0.0] and curve["points"][-1] == [1.0, 1.0]
    assert _plot(line, []) is None and _plot(line, [{"only": 1}]) is None


@given(st.text(min_size=1), st.text(min_size=1))
def test_addresses_encode_every_character(name: str, version: str) -> None:
    from urllib.parse import unquote

    page = version_page(name, version)
    prefix, _, rest = page.partition("#/version/")
    assert prefix == "index.html" and rest.count("/") == 1
    assert [unquote(p) for p in rest.split("/")] == [name, version]
    assert model_page(name).count("/") == 2
    assert drift_report("prod", "20260101T000000Z", "models/churn") == "drift/models/churn/prod/20260101T000000Z.html"


@given(st.text())
def test_site_data_cannot_close_its_script_element(text: str) -> None:
    encoded = script_json({"message": text + "</script>"})
    assert "</" not in encoded and json.loads(encoded)["message"] == text + "</script>"
