"""`gitmlops doctor`: what this machine and this repository have, and what is missing, in one report.

Versions are read from package metadata (nothing heavy is imported); the DVC remote is asked whether
it answers; the workflows are read for the secrets and the gitmlops they need. Secrets are never
printed: remote options that hold credentials are shown as set or not set.
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Final, Literal

from gitmlops import __version__

CheckStatus = Literal["ok", "warn", "fail"]
OK: Final = "ok"
WARN: Final = "warn"
FAIL: Final = "fail"
ENGINES = ("dvc", "dvc-s3", "hydra-core", "omegaconf", "xgboost", "pandas", "numpy", "pyarrow",
           "litserve", "whylogs", "datasketches", "protobuf", "click")
SECRET_OPTIONS = ("secret_access_key", "access_key_id", "session_token", "password", "token", "key",
                  "credentialpath", "sas_token", "connection_string", "account_key", "gdrive_client_secret")
_SECRET_REF = re.compile(r"\$\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass
class Check:
    """One line of the report: what was checked, its status (ok, warn, fail) and what was found."""

    name: str
    status: CheckStatus
    detail: str
    hint: str | None = None


@dataclass
class Report:
    """Every check, the package versions, and the workflows' needs."""

    gitmlops: str
    python: str
    platform: str
    versions: dict[str, str | None] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    workflows: dict[str, list[str]] = field(default_factory=dict)

    @property
    def failed(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if c.status == FAIL]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git(root: Path, *args: str) -> str | None:
    from gitmlops.adapters.git_repo import GitRepo

    try:
        value = GitRepo(root).git(*args, check=False)
    except Exception:  # noqa: BLE001 - a doctor reports, it does not stop at the first problem
        return None
    return value or None


def _top(path: Path) -> Path | None:
    from gitmlops.adapters.git_repo import project_root
    from gitmlops.errors import NotAGitRepoError

    try:
        return project_root(path)
    except NotAGitRepoError:
        return None


def _remote_checks(root: Path) -> list[Check]:
    from gitmlops.adapters.dvc_repo import DvcRepo, remote_answers

    with DvcRepo(root) as dvc:
        remotes = dvc.remotes()
        default = dvc.config_get("core", "remote")
        checks: list[Check] = []
        if not remotes:
            return [Check("DVC remote", FAIL, "no DVC remote is configured",
                          "add one with `gitmlops remote add URL` or `dvc remote add -d NAME URL`")]
        for name, options in sorted(remotes.items()):
            url = str(options.get("url", ""))
            secrets = sorted(k for k in options if k in SECRET_OPTIONS)
            label = f"DVC remote {name}" + (" (default)" if name == default else "")
            detail = url + (f"; credentials set: {', '.join(secrets)}" if secrets else "")
            error = remote_answers(dvc, name)
            if error is None:
                checks.append(Check(label, OK, f"{detail}; answers"))
            else:
                checks.append(Check(label, FAIL, f"{detail}; does not answer: {error}",
                                    "check the URL, the endpoint, the credentials and the network"))
        if default is None:
            checks.append(Check("default DVC remote", WARN, "none is set: push and pull need `-r NAME`",
                                "`dvc remote default NAME`"))
        return checks


def _workflow_needs(root: Path) -> dict[str, list[str]]:
    needs: dict[str, list[str]] = {}
    folder = root / ".github" / "workflows"
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []:
        secrets = sorted(set(_SECRET_REF.findall(path.read_text(encoding="utf-8", errors="replace"))))
        needs[path.name] = secrets
    return needs


def diagnose(path: str | os.PathLike[str] = ".", remote: bool = True) -> Report:
    """Check the machine, the git repository at ``path`` and (with ``remote``) its DVC remotes."""
    report = Report(__version__, platform.python_version(), f"{platform.system()} {platform.machine()}")
    report.versions = {dist: _version(dist) for dist in ENGINES}
    for dist in ("dvc", "hydra-core", "xgboost"):
        if report.versions[dist] is None:
            report.checks.append(Check(dist, FAIL, "not installed", "reinstall gitmlops: `pip install gitmlops`"))
    from gitmlops.adapters.git_repo import git_version

    found_git = git_version()
    if found_git is None:
        report.checks.append(Check("git", FAIL, "git is not on PATH", "install git 2.30 or newer"))
        return report
    report.checks.append(Check("git", OK, found_git))
    root = _top(Path(path).resolve())
    if root is None:
        report.checks.append(Check("repository", WARN, f"{Path(path).resolve()} is not inside a git work tree",
                                   "run doctor inside a project (or pass -C PATH)"))
        return report
    report.checks.append(Check("repository", OK, str(root)))
    name, email = _git(root, "config", "user.name"), _git(root, "config", "user.email")
    if name and email:
        report.checks.append(Check("git identity", OK, f"{name} <{email}>"))
    else:
        report.checks.append(Check("git identity", FAIL, "user.name or user.email is not set: registry tags need an author",
                                   "git config --global user.name 'Ada'; git config --global user.email ada@example.com"))
    if not (root / ".dvc").is_dir():
        report.checks.append(Check("gitmlops project", WARN, "no .dvc/ folder", "run `gitmlops init`"))
        return report
    report.checks.append(Check("gitmlops project", OK if (root / "conf").is_dir() else WARN,
                               "conf/ and .dvc/ present" if (root / "conf").is_dir() else "no conf/ folder",
                               None if (root / "conf").is_dir() else "run `gitmlops init`"))
    if remote:
        report.checks += _remote_checks(root)
    report.workflows = _workflow_needs(root)
    pinned = [p for p in ("requirements-gitmlops.txt", "requirements.txt") if (root / p).is_file()
              and "gitmlops" in (root / p).read_text(encoding="utf-8", errors="replace")]
    if report.workflows:
        report.checks.append(Check("workflows", OK if pinned else WARN,
                                   f"{len(report.workflows)} in .github/workflows; gitmlops pinned in {pinned[0]}" if pinned
                                   else f"{len(report.workflows)} in .github/workflows; no file pins the gitmlops CI installs",
                                   None if pinned else f"pin it, e.g. `gitmlops=={__version__}` in requirements-gitmlops.txt"))
    return report
