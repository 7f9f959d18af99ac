"""Does a commit's dvc.lock tell the truth? (checked by `registry register` before it tags).

A lock is honest when every stage of dvc.yaml ran with the command, inputs, outputs and parameter
values that dvc.yaml and params.yaml name at that commit, and no input changed since: a stage's
recorded input hash equals what produced it (another stage's recorded output), the ``.dvc`` file
tracking it, or the committed file itself. Everything is read from git objects, so the check never
depends on the work tree.
"""

from __future__ import annotations

import hashlib
import posixpath
from typing import Any

from gitmlops.adapters.dvc_repo import parse_dvcfile, parse_lock
from gitmlops.adapters.git_repo import GitRepo
from gitmlops.config import flatten
from gitmlops.errors import ExternalError

LOCK_SOURCES = ("outs", "metrics", "plots")


def _yaml(git: GitRepo, commit: str, path: str) -> Any:
    import yaml

    text = git.file_at(commit, path)
    if text is None:
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def _join(base: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(base, path)) if base else posixpath.normpath(path)


def _declared_paths(items: Any, wdir: str) -> set[str]:
    paths: set[str] = set()
    for item in items or []:
        for path in [item] if isinstance(item, str) else list(item) if isinstance(item, dict) else []:
            paths.add(_join(wdir, str(path)))
    return paths


def _lookup(params: Any, dotted: str) -> tuple[bool, Any]:
    value = params
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _committed_md5(git: GitRepo, commit: str, path: str) -> str | None:
    """The md5 of a file as committed to git (None when git does not hold it as a file)."""
    if not git.exists_at(commit, path):
        return None
    try:
        data = git.git_bytes("cat-file", "blob", f"{commit}:{path}")
    except ExternalError:  # a folder: DVC hashes it as a listing, not comparable here
        return None
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def lock_problems(git: GitRepo, commit: str, base: str = "") -> list[str]:
    """What makes ``BASE/dvc.lock`` at ``commit`` disagree with dvc.yaml, params.yaml or its own
    inputs (empty: the lock is honest). Each problem is one sentence naming the stage."""
    doc = _yaml(git, commit, _join(base, "dvc.yaml"))
    declared = (doc.get("stages") if isinstance(doc, dict) else None) or {}
    if not isinstance(declared, dict) or not declared:
        return []
    lock = parse_lock(git.file_at(commit, _join(base, "dvc.lock")))
    problems: list[str] = []
    param_files: dict[str, Any] = {}  # file -> its parsed content, read once
    produced = {out["path"]: out["md5"] for stage in lock.values() for out in stage["outs"]}
    for name, spec in declared.items():
        if not isinstance(spec, dict) or "foreach" in spec or "matrix" in spec:
            continue  # templated stages expand to other names; DVC's own status covers them
        ran = lock.get(str(name))
        if ran is None:
            problems.append(f"stage {name!r} has not run (it is not in dvc.lock)")
            continue
        wdir = str(spec.get("wdir") or "")
        cmd = spec.get("cmd")
        cmd_text = " && ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd)
        if ran["cmd"] is not None and ran["cmd"] != cmd_text:
            problems.append(f"stage {name!r} ran `{ran['cmd']}`, but dvc.yaml now says `{cmd_text}`")
        for kind, wanted, recorded in (
            ("inputs", _declared_paths(spec.get("deps"), wdir), {d["path"] for d in ran["deps"]}),
            ("outputs", set().union(*(_declared_paths(spec.get(k), wdir) for k in LOCK_SOURCES)),
             {o["path"] for o in ran["outs"]}),
        ):
            if wanted != recorded:
                problems.append(
                    f"stage {name!r}: dvc.lock records {kind} {', '.join(sorted(recorded)) or 'none'}, "
                    f"dvc.yaml names {', '.join(sorted(wanted)) or 'none'}"
                )
        problems += _param_problems(git, commit, base, str(name), ran["params"], param_files)
        problems += [
            f"stage {name!r} is stale: its input {dep['path']} changed since it ran"
            for dep in ran["deps"]
            if dep["md5"] is not None and _input_md5(git, commit, base, dep, produced) not in (None, dep["md5"])
        ]
    return problems


def _param_problems(
    git: GitRepo, commit: str, base: str, name: str, recorded: dict[str, Any], files: dict[str, Any]
) -> list[str]:
    """Parameter values a stage ran with that its params files no longer hold (leaf by leaf)."""
    problems: list[str] = []
    for file, values in recorded.items():
        if file not in files:
            files[file] = _yaml(git, commit, _join(base, str(file))) or {}
        for key, value in (values or {}).items():
            found, current = _lookup(files[file], str(key))
            if not found:
                problems.append(f"stage {name!r} ran with {key}={_short(value)}, which {file} no longer has")
                continue
            ran_with, now = flatten(value, str(key)), flatten(current, str(key))
            for leaf in sorted(set(ran_with) | set(now)):
                if leaf not in now:
                    problems.append(f"stage {name!r} ran with {leaf}={_short(ran_with[leaf])}, which {file} no longer has")
                elif leaf not in ran_with:
                    problems.append(f"stage {name!r} ran without {leaf}, which {file} now sets")
                elif ran_with[leaf] != now[leaf]:
                    problems.append(
                        f"stage {name!r} ran with {leaf}={_short(ran_with[leaf])}, but {file} says {_short(now[leaf])}"
                    )
    return problems


def _input_md5(git: GitRepo, commit: str, base: str, dep: dict[str, Any], produced: dict[str, Any]) -> str | None:
    """An input's hash as the commit has it now: the producing stage's recorded output, the .dvc file
    tracking it, or the committed file (None when it cannot be told from git objects)."""
    path = dep["path"]
    if path in produced:
        return str(produced[path]) if produced[path] else None
    tracked = parse_dvcfile(git.file_at(commit, _join(base, path) + ".dvc"), path + ".dvc")
    if tracked:
        return str(tracked[0]["md5"]) if tracked[0]["md5"] else None
    if dep["hash"] != "md5":  # DVC 2 hashed text with CRLF turned into LF: not comparable here
        return None
    return _committed_md5(git, commit, _join(base, path))
