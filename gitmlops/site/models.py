"""The Models, Plots and Lineage data of the site: every artifact, version, stage and event.

Events and registration metadata (metrics, data md5s, params hash) come from one
``git for-each-ref`` read by the registry; what a version's commit holds (params, plot data, the
feature schema's md5) is read for all new commits in one ``git cat-file --batch`` and remembered
per commit in the build cache, so a rebuild reads only commits it has not seen.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from gitmlops.adapters.git_repo import GitRepo, files_at_many
from gitmlops.config import flatten
from gitmlops.registry.state import ArtifactState
from gitmlops.registry.tags import ASSIGN, DEREGISTER, REGISTER, UNASSIGN, split_name

#: Points kept per line plot (an ROC curve of 101 points stays whole; longer curves are thinned).
MAX_POINTS = 300
SCHEMA_FILE = "schema.json"


def _join(base: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(base, path)) if base else posixpath.normpath(path)


def _yaml(text: str | None, memo: dict[str, Any]) -> Any:
    """Parsed YAML (empty on errors), parsed once per distinct text: most commits share their files."""
    key = text or ""
    if key not in memo:
        import yaml

        try:
            memo[key] = yaml.load(key, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        except yaml.YAMLError:
            memo[key] = {}
    return memo[key]


def _plot_specs(dvc_yaml: Any) -> list[dict[str, Any]]:
    """The plots a dvc.yaml declares: path, x, y, template (stage ``plots:`` and top-level ``plots:``)."""
    entries: list[Any] = []
    stages = dvc_yaml.get("stages") if isinstance(dvc_yaml, dict) else None
    for spec in (stages or {}).values() if isinstance(stages, dict) else []:
        if isinstance(spec, dict):
            entries.extend(spec.get("plots") or [])
    top = dvc_yaml.get("plots") if isinstance(dvc_yaml, dict) else None
    entries.extend(top if isinstance(top, list) else [])
    found = []
    for entry in entries:
        if isinstance(entry, str):
            found.append({"path": entry, "x": None, "y": None, "template": None})
        elif isinstance(entry, dict) and entry:
            path, options = next(iter(entry.items()))
            options = options if isinstance(options, dict) else {}
            x, y = options.get("x"), options.get("y")
            found.append({"path": str(path), "x": x if isinstance(x, str) else None,
                          "y": y if isinstance(y, str) else None,
                          "template": str(options["template"]) if options.get("template") else None})
    return found


def _records(text: str | None) -> list[dict[str, Any]]:
    """The rows of a DVC plot file: a JSON list of objects, or an object holding one such list."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return []
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if len(lists) == 1 else []
    return [row for row in data if isinstance(row, dict)] if isinstance(data, list) else []


def _plot(spec: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One plot as the page draws it: a confusion matrix (counts) or a line of (x, y) points."""
    if not rows:
        return None
    keys = list(rows[0])
    x = spec["x"] or (keys[0] if keys else None)
    y = spec["y"] or (keys[1] if len(keys) > 1 else None)
    if x is None or y is None:
        return None
    if "confusion" in (spec["template"] or ""):
        cells: dict[str, dict[str, float]] = {}
        for row in rows:
            actual, predicted = str(row.get(x)), str(row.get(y))
            count = row.get("count", 1)
            count = count if isinstance(count, (int, float)) else 1
            cells.setdefault(actual, {})[predicted] = cells.get(actual, {}).get(predicted, 0) + count
        return {"path": spec["path"], "kind": "confusion", "x": x, "y": y, "cells": cells}
    points = [[row[x], row[y]] for row in rows
              if isinstance(row.get(x), (int, float)) and isinstance(row.get(y), (int, float))]
    if len(points) > MAX_POINTS:
        step = len(points) / MAX_POINTS
        points = [points[int(i * step)] for i in range(MAX_POINTS)] + [points[-1]]
    return {"path": spec["path"], "kind": "line", "x": x, "y": y, "points": points} if points else None


def commit_facts(git: GitRepo, wanted: list[tuple[str, str]], cache: dict[str, Any]) -> None:
    """Fill ``cache[commit:base]`` with params, plots and the schema's md5 for each (commit, base)
    of ``wanted`` not cached yet: two batched reads whatever the number of commits."""
    todo = [(c, b) for c, b in dict.fromkeys(wanted) if f"{c}:{b}" not in cache]
    if not todo:
        return
    names = ("params.yaml", "dvc.yaml", "dvc.lock")
    texts = files_at_many(git, [(c, _join(b, n)) for c, b in todo for n in names])
    memo: dict[str, Any] = {}
    specs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for commit, base in todo:
        specs[(commit, base)] = _plot_specs(_yaml(texts[(commit, _join(base, "dvc.yaml"))], memo))
    plot_texts = files_at_many(git, [(c, _join(b, s["path"])) for (c, b), found in specs.items() for s in found])
    from gitmlops.adapters.dvc_repo import parse_lock

    derived: dict[tuple[str, ...], Any] = {}  # the same texts give the same facts: derive them once

    def once(kind: str, text: str | None, make: Any) -> Any:
        key = (kind, text or "")
        if key not in derived:
            derived[key] = make(text)
        return derived[key]

    for commit, base in todo:
        params = _yaml(texts[(commit, _join(base, "params.yaml"))], memo)
        lock_text = texts[(commit, _join(base, "dvc.lock"))]
        outs = once("outs", lock_text, lambda t: {out["path"]: out["md5"] for stage in parse_lock(t).values()
                                                  for out in stage["outs"]})
        plots = [once("plot:" + json.dumps(s, sort_keys=True), plot_texts[(commit, _join(base, s["path"]))],
                      lambda t, s=s: _plot(s, _records(t)))
                 for s in specs[(commit, base)]]
        cache[f"{commit}:{base}"] = {
            "params": flatten(params) if isinstance(params, dict) else {},
            "plots": [p for p in plots if p is not None],
            "outs": outs,  # path (relative to base) -> md5: where the feature schema is found
        }


def schemas(git: GitRepo, md5s: set[str], cache: dict[str, Any]) -> None:
    """Fill ``cache[md5]`` with the feature schema stored in the local DVC cache (None: not there).

    DVC is opened only when a schema was never read before; a build never fetches from a remote.
    """
    todo = sorted(m for m in md5s if m not in cache)
    if not todo:
        return
    from gitmlops.adapters.dvc_repo import DvcRepo, cached_object_path, is_dvc_repo

    if not is_dvc_repo(git.root):
        cache.update(dict.fromkeys(todo))
        return
    with DvcRepo(git.root) as dvc:
        for md5 in todo:
            path = cached_object_path(dvc, md5)
            try:
                with open(path or "", encoding="utf-8") as handle:
                    data = json.load(handle)
            except (OSError, ValueError):
                data = None
            cache[md5] = data if isinstance(data, dict) else None


def schema_md5(facts: dict[str, Any], artifact_path: str | None, base: str) -> str | None:
    """The md5 of the model's sibling ``schema.json`` in the commit's dvc.lock."""
    if not artifact_path:
        return None
    rel = posixpath.relpath(artifact_path, base) if base else artifact_path
    md5 = facts["outs"].get(posixpath.join(posixpath.dirname(rel), SCHEMA_FILE))
    return md5 if isinstance(md5, str) else None


def stage_timeline(artifact: ArtifactState) -> dict[str, list[dict[str, Any]]]:
    """Per stage, who held it when: segments ``{version, from, to}`` (``to`` None: holds it now).

    Replays the events in registry order with the registry's rule (the current version of a stage
    is the assigned, non-deregistered version assigned most recently).
    """
    assigned: dict[str, dict[str, int]] = {}
    gone: set[str] = set()
    current: dict[str, str | None] = {}
    segments: dict[str, list[dict[str, Any]]] = {}
    for position, event in enumerate(artifact.events):
        if event.kind in (ASSIGN, UNASSIGN) and event.version is not None:
            holders = assigned.setdefault(event.stage or "", {})
            if event.kind == ASSIGN:
                holders[event.version] = position
            else:
                holders.pop(event.version, None)
        elif event.kind == DEREGISTER and event.version is not None:
            gone.add(event.version)
        elif event.kind == REGISTER and event.version is not None:
            gone.discard(event.version)
        else:
            continue
        for stage, holders in assigned.items():
            live = [(pos, v) for v, pos in holders.items() if v not in gone]
            now = max(live)[1] if live else None
            if now == current.get(stage):
                continue
            runs = segments.setdefault(stage, [])
            if runs and runs[-1]["to"] is None:
                runs[-1]["to"] = event.created_at
            if now is not None:
                runs.append({"version": now, "from": event.created_at, "to": None})
            current[stage] = now
    return segments


def event_row(event: Any) -> dict[str, Any]:
    """An event as the Models page lists it: who did what when."""
    from gitmlops.registry.messages import note_of

    return {"event": event.kind, "version": event.version, "stage": event.stage, "tag": event.tag,
            "commit": event.commit, "created_at": event.created_at, "author": event.author,
            "author_email": event.author_email,
            "message": note_of(event.message) if event.message is not None else None}


def artifact_base(name: str) -> str:
    """The folder whose dvc.yaml and params.yaml belong to artifact ``name`` ("" for the root)."""
    return split_name(name)[0]
