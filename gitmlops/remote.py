"""DVC remotes set up so that a clone, a teammate and CI reach the same data.

Nothing machine-specific or secret is committed: the zero-set-up local remote (a folder outside the
work tree) lives in ``.dvc/config.local``, DVC's per-machine config, and so do credentials. A team
remote (``remote add s3://...``) goes to ``.dvc/config``, which is committed, with its non-secret
options (endpoint, region, profile).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitmlops.adapters.git_repo import GitRepo, open_repo
from gitmlops.errors import NotADvcRepoError, UsageError

LOCAL_NAME = "local"
DEFAULT_NAME = "storage"
LEVELS = ("system", "global", "repo", "local")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
#: Remote URL schemes and the DVC plugin package each needs (pip extra of gitmlops in brackets).
PLUGINS = {"s3": ("dvc_s3", "pip install 'gitmlops[s3]'")}


@dataclass
class RemoteEntry:
    """One configured remote as `remote list` shows it (secrets masked)."""

    name: str
    url: str | None
    default: bool
    options: dict[str, Any]
    levels: list[str]  # where it is configured: repo (.dvc/config), local (.dvc/config.local), ...


@dataclass
class RemoteList:
    """All remotes and the default one."""

    default: str | None
    remotes: list[RemoteEntry] = field(default_factory=list)


@dataclass
class AddedRemote:
    """What `remote add` wrote."""

    name: str
    url: str
    default: bool
    options: dict[str, Any]
    credentials: list[str]  # option names written to .dvc/config.local (values never shown)
    staged: list[str]


def default_remote_dir(root: Path) -> Path:
    """Where the zero-set-up local DVC remote of a repo lives (outside the work tree).

    ``GITMLOPS_REMOTE_DIR`` overrides the parent folder; the default is
    ``$XDG_DATA_HOME/gitmlops/dvc-remotes`` (``~/.local/share/...``).
    """
    base = os.environ.get("GITMLOPS_REMOTE_DIR")
    if not base:
        data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        base = str(Path(data_home) / "gitmlops" / "dvc-remotes")
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]
    return Path(base) / f"{root.name}-{digest}"


def _dvc(git: GitRepo) -> Any:
    from gitmlops.adapters.dvc_repo import DvcRepo, is_dvc_repo

    if not is_dvc_repo(git.root):
        raise NotADvcRepoError(str(git.root))
    return DvcRepo(git.root)


def ensure_default(dvc: Any) -> str | None:
    """Give a repo without any remote the local default (in ``.dvc/config.local``); its URL, or None
    when a remote was already configured."""
    if dvc.remotes():
        return None
    folder = default_remote_dir(Path(dvc.root))
    folder.mkdir(parents=True, exist_ok=True)
    dvc.add_remote(LOCAL_NAME, str(folder), default=True, level="local")
    return str(folder)


def _mask(options: dict[str, Any]) -> dict[str, Any]:
    from gitmlops.adapters.dvc_repo import is_secret, safe_url

    return {k: ("***" if is_secret(k) else safe_url(v) if k == "url" else v) for k, v in sorted(options.items())}


def list_remotes(repo: str | os.PathLike[str] | GitRepo = ".") -> RemoteList:
    """Every configured remote (all config levels), secrets masked."""
    git = open_repo(repo)
    with _dvc(git) as dvc:
        levels = {level: dvc.config_level(level) for level in LEVELS}
        default = dvc.config_get("core", "remote")
    merged: dict[str, dict[str, Any]] = {}
    for level in LEVELS:  # as written, without the defaults DVC's schema fills in
        for name, spec in (levels[level].get("remote") or {}).items():
            merged.setdefault(name, {}).update(spec)
    merged = {name: _mask(spec) for name, spec in merged.items()}
    entries = []
    for name, spec in sorted(merged.items()):
        where = [level for level in LEVELS if name in (levels[level].get("remote") or {})]
        url = spec.pop("url", None)
        entries.append(RemoteEntry(name=name, url=url, default=name == default, options=spec, levels=where))
    return RemoteList(default=str(default) if default else None, remotes=entries)


def _check_url(url: str) -> None:
    if not url or not url.strip():
        raise UsageError("empty remote URL", "pass s3://BUCKET/PATH, another DVC remote URL, or a folder")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    plugin = PLUGINS.get(scheme)
    if plugin and importlib.util.find_spec(plugin[0]) is None:
        raise UsageError(f"{scheme}:// remotes need DVC's {scheme} support, which is not installed",
                         f"install it: `{plugin[1]}`")


def _parse_credentials(pairs: list[str]) -> dict[str, str]:
    creds: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--credential {key.strip() or '?'}: expected KEY=VALUE",
                             "e.g. --credential access_key_id=... --credential secret_access_key=...")
        creds[key.strip()] = value
    return creds


def add(
    repo: str | os.PathLike[str] | GitRepo,
    url: str,
    name: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    default: bool = True,
    credentials: list[str] | None = None,
) -> AddedRemote:
    """Add (or update) the remote ``name`` in ``.dvc/config`` (staged) and its credentials in
    ``.dvc/config.local`` (never committed); with ``default``, make it the default everywhere."""
    git = open_repo(repo)
    name = name or DEFAULT_NAME
    if not NAME_RE.match(name):
        raise UsageError(f"bad remote name {name!r}", "use letters, digits, '-' and '_'")
    _check_url(url)
    creds = _parse_credentials(credentials or [])
    options = {k: v for k, v in (("endpointurl", endpoint_url), ("region", region), ("profile", profile)) if v}
    from gitmlops.adapters.dvc_repo import is_secret

    leaked = [k for k in options if is_secret(k)]
    if leaked:
        raise UsageError(f"{', '.join(leaked)} is a secret", "pass it with --credential KEY=VALUE")
    with _dvc(git) as dvc:
        existing = dvc.config_level("repo").get("remote", {}).get(name)
        if existing and existing.get("url") not in (None, url):
            raise UsageError(f"remote {name!r} already points at {existing.get('url')}",
                             f"remove it first (`gitmlops remote remove {name}`) or pick another --name")
        section = {"url": url, **options}
        # check the whole remote (credentials included) before writing anything
        dvc.validate_config({"remote": {name: {**section, **creds}}})
        with dvc.edit_config("repo") as conf:
            conf.setdefault("remote", {})[name] = {**(existing or {}), **section}
            if default:
                conf.setdefault("core", {})["remote"] = name
        local = dvc.config_level("local")
        if creds or (default and (local.get("core") or {}).get("remote")):
            with dvc.edit_config("local") as conf:
                if creds:  # DVC checks each config file alone: the section needs its url there too
                    conf.setdefault("remote", {}).setdefault(name, {}).update({"url": url, **creds})
                if default:  # the per-machine default would shadow the team's
                    (conf.get("core") or {}).pop("remote", None)
    git.add([".dvc/config"])
    from gitmlops.adapters.dvc_repo import safe_url

    return AddedRemote(name=name, url=safe_url(url) or url, default=default, options=options,
                       credentials=sorted(creds), staged=[".dvc/config"])


def remove(repo: str | os.PathLike[str] | GitRepo, name: str) -> list[str]:
    """Remove remote ``name`` from ``.dvc/config`` and ``.dvc/config.local`` (and as the default there);
    the levels it was removed from."""
    git = open_repo(repo)
    removed = []
    with _dvc(git) as dvc:
        for level in ("local", "repo"):  # local first: a local section left without its url breaks DVC
            conf = dvc.config_level(level)
            has = name in (conf.get("remote") or {})
            is_default = (conf.get("core") or {}).get("remote") == name
            if not (has or is_default):
                continue
            with dvc.edit_config(level) as edit:
                (edit.get("remote") or {}).pop(name, None)
                if (edit.get("core") or {}).get("remote") == name:
                    edit["core"].pop("remote")
            if has:
                removed.append(level)
    if not removed:
        raise UsageError(f"no remote named {name!r} in .dvc/config or .dvc/config.local",
                         "list them with `gitmlops remote list`")
    if "repo" in removed:
        git.add([".dvc/config"])
    return removed
