"""Turn what the user typed for --reference / --target into a profile.

A spec is tried, in order, as: a .bin profile; a data file or folder (profiled on the fly); a dataset
folder of profiles (its latest); a dataset name under the profiles folder (its latest); a registry
reference such as ``model#prod`` or ``model@v1.2.0`` (the reference profile registered with that
model version, read at its commit through DVC).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitmlops.errors import MonitorError
from gitmlops.monitor import layout, sketches, source
from gitmlops.monitor.settings import MonitorSettings


@dataclass
class ResolvedProfile:
    """A profile ready to compare, and where it came from."""

    label: str
    kind: str  # profile | data | dataset | registry
    view: Any
    path: str | None = None
    commit: str | None = None


def _rel(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _from_registry(root: Path, spec: str) -> ResolvedProfile:
    try:
        from gitmlops.registry import resolve as registry_resolve
    except ImportError:
        raise MonitorError(
            f"{spec!r} looks like a registry reference, but this gitmlops has no registry resolver",
            "pass the reference profile's path instead (e.g. models/reference_profile.bin)",
        ) from None
    from gitmlops.adapters.dvc_repo import DvcRepo
    from gitmlops.adapters.git_repo import open_repo
    from gitmlops.models import expand_ref

    git = open_repo(root)
    found = registry_resolve(git, expand_ref(git, spec))
    metadata = getattr(found, "metadata", None) or {}
    profile = metadata.get("reference_profile")
    if not profile:
        raise MonitorError(
            f"model version {spec} ({found.commit[:12]}) has no reference profile",
            "train with the built-in pipeline (it writes one), then register the new version",
        )
    with DvcRepo(git.root) as dvc:  # the registry's paths are relative to the repository root
        blob = dvc.read_bytes_at(str(profile), found.commit)
    view = sketches.view_from_bytes(blob, f"{profile} at {found.commit[:12]}")
    return ResolvedProfile(f"{spec} ({profile}@{found.commit[:8]})", "registry", view, str(profile), found.commit)


def resolve_profile(root: Path, spec: str, settings: MonitorSettings, role: str = "reference",
                    base: Path | None = None) -> ResolvedProfile:
    """The profile ``spec`` names (see the module docstring for the forms accepted); a relative
    path starts at ``base`` (the folder the user is in, default: the project ``root``)."""
    from gitmlops.monitor.profile import profile_data

    text = str(spec).strip()
    if not text:
        raise MonitorError(f"empty --{role}", "give a profile path, a data file, a dataset name or model#stage")
    path = Path(text)
    if not path.is_absolute():
        path = (base or root) / path
    if path.is_file() and path.suffix == ".bin":
        return ResolvedProfile(_rel(root, path), "profile", sketches.read_view(path), _rel(root, path))
    latest = layout.latest_profile(path) if path.is_dir() else None
    if latest is not None:
        return ResolvedProfile(_rel(root, latest), "dataset", sketches.read_view(latest), _rel(root, latest))
    if path.exists() and source.is_data_path(path):
        data = profile_data(path, settings.chunk_size, settings.jobs)
        return ResolvedProfile(_rel(root, path), "data", data.views[""], _rel(root, path))
    if path.exists():
        raise MonitorError(f"--{role} {text}: not a .bin profile nor CSV/Parquet data",
                           "give a profile (.bin), a data file or folder, or a dataset name")
    folder = layout.dataset_dir(root, settings.profiles_dir, text)
    if layout.NAME_RE.match(text.split("/")[0]) and folder.is_dir():
        latest = layout.latest_profile(folder)
        if latest is None:
            raise MonitorError(f"dataset {text!r} has no profiles in {_rel(root, folder)}",
                               f"create one with `gitmlops monitor profile DATA --name {text}`")
        return ResolvedProfile(f"{text} ({_rel(root, latest)})", "dataset", sketches.read_view(latest),
                               _rel(root, latest))
    if "#" in text or "@" in text:
        return _from_registry(root, text)
    raise MonitorError(
        f"--{role} {text!r} does not resolve: no such file, no dataset {text!r} in "
        f"{settings.profiles_dir}/, not a registry reference (name#stage or name@version)",
        f"list profiles with `ls {settings.profiles_dir}/`, or give a path to a .bin profile or data file",
    )


def default_reference(root: Path, config: dict[str, Any]) -> str:
    """The reference used when none is given: the training data's profile (``paths.reference_profile``)."""
    path = str((config.get("paths") or {}).get("reference_profile") or "models/reference_profile.bin")
    if not (root / path).is_file():
        raise MonitorError(
            f"no --reference given and the training reference profile {path} does not exist",
            "run the pipeline (`gitmlops run`) or `gitmlops data pull`, or pass --reference",
        )
    return path
