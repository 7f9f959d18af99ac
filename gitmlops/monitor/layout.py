"""Where profiles live: ``<profiles_dir>/<DATASET>/<UTC timestamp>.bin`` plus a ``.json`` summary.

Timestamps sort as text, so the latest profile of a dataset is the last name in its folder.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from gitmlops.errors import MonitorError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
STAMP_RE = re.compile(r"^(\d{8}T\d{6}Z)(?:-(\d+))?$")
SEGMENT_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]")


def check_dataset_name(name: str) -> str:
    """A dataset name usable as a folder name; a clear error otherwise."""
    if not NAME_RE.match(name or "") or ".." in name:
        raise MonitorError(
            f"invalid dataset name {name!r}",
            "use letters, digits, '.', '_' and '-' (starting with a letter or digit)",
        )
    return name


def dataset_name_for(path: Path) -> str:
    """The default dataset name of a data path: its file name without extensions."""
    stem = path.name.split(".")[0] if path.is_file() or "." in path.name else path.name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "data"
    return cleaned if NAME_RE.match(cleaned) else f"data-{cleaned}"


def segment_dirname(column: str, value: object) -> str:
    """Folder name of one segment, e.g. ``region=eu`` (unsafe characters percent-encoded)."""

    def encode(text: str) -> str:
        return SEGMENT_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), text)

    return f"{encode(str(column))}={encode(str(value))}"


def dataset_dir(root: Path, profiles_dir: str, dataset: str) -> Path:
    """The folder of a dataset's profiles."""
    return root / profiles_dir / dataset


def _stamp_key(path: Path) -> tuple[str, int]:
    match = STAMP_RE.match(path.stem)
    if not match:
        return (path.stem, 0)
    return (match.group(1), int(match.group(2) or 0))


def profiles_of(folder: Path) -> list[Path]:
    """The .bin profiles in a dataset folder, oldest first (after finishing pairs a kill interrupted)."""
    if not folder.is_dir():
        return []
    from gitmlops.monitor.pair import complete_pending

    complete_pending(folder)
    return sorted((p for p in folder.glob("*.bin") if p.is_file()), key=_stamp_key)


def latest_profile(folder: Path) -> Path | None:
    """The newest profile in a dataset folder, or None."""
    found = profiles_of(folder)
    return found[-1] if found else None


def new_profile_path(folder: Path, now: datetime | None = None) -> Path:
    """A fresh ``<UTC timestamp>.bin`` in ``folder`` (suffixed -1, -2 ... within the same second)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    candidate = folder / f"{stamp}.bin"
    counter = 0
    while candidate.exists() or candidate.with_suffix(".json").exists():
        counter += 1
        candidate = folder / f"{stamp}-{counter}.bin"
    return candidate
