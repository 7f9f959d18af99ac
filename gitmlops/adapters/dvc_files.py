"""DVC's files read as data: ``.dvc`` files and ``dvc.lock`` parsed from their text (at any commit,
no DVC import), into plain entries (path, md5, size, nfiles, hash)."""

from __future__ import annotations

import os
import posixpath
from typing import Any


def _out_entry(out: Any, wdir: str = "") -> dict[str, Any] | None:
    if not isinstance(out, dict) or not isinstance(out.get("path"), str):
        return None
    path = posixpath.normpath(posixpath.join(wdir, out["path"]) if wdir else out["path"])
    return {
        "path": path,
        "md5": out.get("md5") or out.get("etag") or out.get("checksum"),
        "size": out.get("size"),
        "nfiles": out.get("nfiles"),
        # DVC 2 files carry no `hash:` key and hashed text with LF endings ("md5-dos2unix").
        "hash": out.get("hash", "md5-dos2unix"),
    }


def parse_dvcfile(text: str | None, dvcfile: str = "") -> list[dict[str, Any]]:
    """The outputs a ``.dvc`` file's text records (path relative to the repo root, md5, size, nfiles)."""
    import yaml

    try:
        doc = yaml.load(text or "", Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError:
        return []
    wdir = os.path.dirname(dvcfile)
    outs = doc.get("outs") if isinstance(doc, dict) else None
    return [e for e in (_out_entry(o, wdir) for o in outs or []) if e]


def parse_lock(text: str | None) -> dict[str, dict[str, Any]]:
    """``dvc.lock`` text as stage -> {"cmd", "deps", "outs", "params"}, in file order; deps and outs
    are entries as :func:`parse_dvcfile` returns them, params ``{"params.yaml": {key: value}}``.
    The one reader of dvc.lock in gitmlops (empty when the text is missing or invalid)."""
    import yaml

    try:
        doc = yaml.load(text or "", Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError:
        return {}
    stages = doc.get("stages") if isinstance(doc, dict) else None
    result: dict[str, dict[str, Any]] = {}
    for name, stage in (stages or {}).items():
        if not isinstance(stage, dict):
            continue
        entry: dict[str, Any] = {
            key: [e for e in (_out_entry(o) for o in stage.get(key) or []) if e] for key in ("deps", "outs")
        }
        cmd = stage.get("cmd")
        entry["cmd"] = " && ".join(map(str, cmd)) if isinstance(cmd, list) else (None if cmd is None else str(cmd))
        params = stage.get("params")
        entry["params"] = params if isinstance(params, dict) else {}
        result[str(name)] = entry
    return result
