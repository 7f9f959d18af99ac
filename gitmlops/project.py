"""`gitmlops init`: set up DVC, the Hydra config tree, git integration and workflows in a repo.

Idempotent: running it twice changes nothing, and it never overwrites an existing file unless
``force`` is given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from gitmlops.adapters.git_repo import GitRepo, open_repo
from gitmlops.remote import ensure_default

EXAMPLE_DATA = "data/churn.csv"
EXAMPLE_TARGET = "churned"
GENERIC_DATA = "data/data.csv"
GENERIC_TARGET = "label"
GITATTRIBUTES_LINE = "monitoring/**/*.bin diff=whylogs"
TEXTCONV = "gitmlops monitor textconv"


@dataclass
class InitResult:
    """What `init` did."""

    root: str
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)
    dvc_initialised: bool = False
    remote: str | None = None
    example: bool = False


def _templates() -> resources.abc.Traversable:
    return resources.files("gitmlops") / "templates"


def _walk(node: resources.abc.Traversable, prefix: str = "") -> list[tuple[str, resources.abc.Traversable]]:
    items = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            items.extend(_walk(child, rel + "/"))
        elif not child.name.endswith((".pyc",)):
            items.append((rel, child))
    return items


def template_files(example: bool) -> dict[str, str]:
    """Files `init` writes, by path relative to the repo root."""
    files: dict[str, str] = {}
    data_path, target = (EXAMPLE_DATA, EXAMPLE_TARGET) if example else (GENERIC_DATA, GENERIC_TARGET)
    for rel, node in _walk(_templates() / "conf"):
        text = node.read_text()
        text = text.replace("__DATA_PATH__", data_path).replace("__TARGET__", target)
        if example and rel == "data/default.yaml":
            text = text.replace("drop_columns: []", "drop_columns: [customer_id]")
        files[f"conf/{rel}"] = text
    if example:
        for rel, node in _walk(_templates() / "example"):
            files[rel] = node.read_text()
    workflows = _templates() / "workflows"
    if workflows.is_dir():
        for rel, node in _walk(workflows):
            if rel.endswith((".yml", ".yaml")):
                files[f".github/workflows/{rel}"] = node.read_text()
        from gitmlops.install_spec import SPEC_FILE, requirements_text

        files[SPEC_FILE] = requirements_text()  # what the workflows install
    return files


def _write(root: Path, rel: str, text: str, force: bool, result: InitResult) -> None:
    path = root / rel
    if path.exists():
        if path.read_text() == text:
            result.kept.append(rel)
            return
        if not force:
            result.kept.append(rel)
            return
        result.overwritten.append(rel)
    else:
        result.created.append(rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _ensure_line(path: Path, line: str) -> bool:
    text = path.read_text() if path.exists() else ""
    if line in text.splitlines():
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    path.write_text(text + line + "\n")
    return True


def init(repo: str | os.PathLike[str] | GitRepo = ".", example: bool = False, force: bool = False) -> InitResult:
    """Set up gitmlops in a git work tree; see the module docstring."""
    from gitmlops.adapters.dvc_repo import DvcRepo, is_dvc_repo

    git = open_repo(repo)
    root = git.root
    result = InitResult(root=str(root), example=example)

    result.dvc_initialised = not is_dvc_repo(root)
    with DvcRepo.init(root) as dvc:
        if dvc.config_get("core", "analytics") is not False:
            dvc.config_set("core", {"analytics": False})
        hydra = dvc.config_get("hydra") or {}
        # DVC composes the parameters only (conf/parameters.yaml) into params.yaml for `exp run -S`
        wanted = {"enabled": True, "config_dir": "conf", "config_name": "parameters"}
        if any(hydra.get(k) != v for k, v in wanted.items()):
            dvc.config_set("hydra", wanted)
        # the local default goes to .dvc/config.local: nothing machine-specific is committed
        created = ensure_default(dvc)
        if created:
            result.remote = created
        else:
            default = dvc.config_get("core", "remote")
            result.remote = str((dvc.remotes().get(default) or {}).get("url")) if default else None

    for rel, text in template_files(example).items():
        _write(root, rel, text, force, result)

    if _ensure_line(root / ".gitattributes", GITATTRIBUTES_LINE):
        result.created.append(".gitattributes")
    if git.get_config("diff.whylogs.textconv") != TEXTCONV:
        git.set_config("diff.whylogs.textconv", TEXTCONV)
        git.set_config("diff.whylogs.cachetextconv", "true")

    if example and not (root / f"{EXAMPLE_DATA}.dvc").exists():
        from gitmlops.data import add as data_add
        from gitmlops.example import write_csv

        if not (root / EXAMPLE_DATA).exists():
            write_csv(root / EXAMPLE_DATA)
        data_add(git, [str(root / EXAMPLE_DATA)], check=False)
        result.created.append(f"{EXAMPLE_DATA}.dvc")

    from gitmlops.pipeline.sync import sync

    synced = sync(git, force=force, only_missing=not force)
    result.created.extend(p for p in synced.written if p not in result.created)

    # Stage only what init itself wrote, never unrelated changes of the user's.
    git.add([".dvc/config", ".dvc/.gitignore", ".dvcignore", ".gitattributes", *result.created,
             *result.overwritten])
    return result
