"""`monitor collect`: merge the profiles a server wrote into one profile for the window, filed in the layout."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitmlops.errors import MonitorError
from gitmlops.monitor import layout, sketches


@dataclass
class CollectResult:
    """What `monitor collect` merged and where it filed the result."""

    dataset: str
    path: str
    summary: str
    merged: int
    rows: int
    inputs: list[str] = field(default_factory=list)
    removed: bool = False
    commit: str | None = None


def collect(repo: Any, directory: str | os.PathLike[str], name: str, commit: bool = False,
            remove: bool = False) -> CollectResult:
    """Merge every .bin profile under ``directory`` into ``monitoring/<name>/<UTC timestamp>.bin``.

    All inputs are read (and validated) before anything is written. With ``remove`` the merged inputs
    are deleted afterwards, so the next window does not count them again; with ``commit`` the new
    profile and its summary are committed.
    """
    from gitmlops.adapters.git_repo import open_repo, user_path
    from gitmlops.models import project_or_root
    from gitmlops.monitor.profile import write_profile
    from gitmlops.monitor.settings import load_settings

    git = open_repo(repo)
    root = project_or_root(git)  # a model's folder: its monitoring/ and monitor settings
    layout.check_dataset_name(name)
    folder = user_path(repo, directory)
    if not folder.is_dir():
        raise MonitorError(f"{folder} is not a folder", "give the folder the server writes its profiles to")
    # Hidden folders hold a writer's staging files (a server writing a profile right now): not inputs.
    inputs = sorted(p for p in folder.rglob("*.bin")
                    if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not inputs:
        raise MonitorError(f"no .bin profiles under {folder}", "has the server written any profiles yet?")
    settings = load_settings(root)
    target = layout.new_profile_path(layout.dataset_dir(root, settings.profiles_dir, name))
    if target.resolve().parent == folder.resolve():
        raise MonitorError("the input folder is the dataset's own profile folder",
                           "collect from the server's output folder, not from monitoring/<DATASET>/")
    views = [sketches.read_view(p) for p in inputs]
    merged = sketches.merge_views(views)
    shown = [_rel(root, p) for p in inputs]
    summary_path = write_profile(merged, target, {"dataset": name, "source": f"{len(inputs)} profiles from "
                                                  f"{_rel(root, folder)}"})
    rows = max((c.count for c in merged.get_columns().values()), default=0)
    if remove:
        for path in inputs:
            path.unlink()
            sibling = path.with_suffix(".json")
            if sibling.is_file():
                sibling.unlink()
    sha = None
    if commit:
        paths = [_rel(git.root, target), _rel(git.root, summary_path)]
        git.add(paths)
        sha = git.commit(f"monitor: collect {len(inputs)} profiles into {name}", paths)
    return CollectResult(name, _rel(root, target), _rel(root, summary_path), len(inputs), rows, shown, remove, sha)


def _rel(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
