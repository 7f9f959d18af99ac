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
#: The same for the monitoring/ folders of models in their own folders (gitmlops.yaml).
GITATTRIBUTES_MODELS_LINE = "**/monitoring/**/*.bin diff=whylogs"
#: The bundled example's models (`init --example models`): one table, three tasks.
#: name -> (target, columns not used as features)
EXAMPLE_MODELS: dict[str, tuple[str, list[str]]] = {
    "churn": ("churned", ["customer_id"]),  # binary classifier
    "plan": ("plan", ["customer_id"]),  # multi-class
    "revenue": ("monthly_charges", ["customer_id"]),  # regressor
}
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
    models: list[str] = field(default_factory=list)  # models set up (init --model / --example models)


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


def conf_files(data_path: str, target: str, drop_columns: list[str] | None = None,
               model_name: str | None = None) -> dict[str, str]:
    """The conf/ tree of one model, by path relative to its folder."""
    files: dict[str, str] = {}
    for rel, node in _walk(_templates() / "conf"):
        text = node.read_text()
        text = text.replace("__DATA_PATH__", data_path).replace("__TARGET__", target)
        if drop_columns and rel == "data/default.yaml":
            text = text.replace("drop_columns: []", f"drop_columns: [{', '.join(drop_columns)}]")
        if model_name and rel.startswith("model/"):
            text = text.replace("\nname: model\n", f"\nname: {model_name}\n")
        files[f"conf/{rel}"] = text
    return files


def template_files(example: bool, conf: bool = True) -> dict[str, str]:
    """Files `init` writes, by path relative to the repo root (``conf=False``: the shared ones only)."""
    files: dict[str, str] = {}
    data_path, target = (EXAMPLE_DATA, EXAMPLE_TARGET) if example else (GENERIC_DATA, GENERIC_TARGET)
    if conf:
        files.update(conf_files(data_path, target, ["customer_id"] if example else None))
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


def init(repo: str | os.PathLike[str] | GitRepo = ".", example: bool = False, force: bool = False,
         model: str | None = None, folder: str | None = None, example_models: bool = False) -> InitResult:
    """Set up gitmlops in a git work tree; see the module docstring.

    ``model``: set up model NAME in its own folder (``folder``, default models/NAME) and list it in
    gitmlops.yaml; ``example_models``: the bundled example as three models sharing one table."""
    from gitmlops.adapters.dvc_repo import DvcRepo, is_dvc_repo
    from gitmlops.models import add_model

    git = open_repo(repo)
    root = git.root
    result = InitResult(root=str(root), example=example or example_models)
    names = list(EXAMPLE_MODELS) if example_models else [model] if model else []
    for name in names:  # every refusal before anything is written
        add_model(root, name, folder if model else None, write=False)

    result.dvc_initialised = not is_dvc_repo(root)
    with DvcRepo.init(root) as dvc:
        if dvc.config_get("core", "analytics") is not False:
            dvc.config_set("core", {"analytics": False})
        hydra = dvc.config_get("hydra") or {}
        # DVC composes the parameters only (conf/parameters.yaml) into params.yaml for `exp run -S`
        wanted = {"enabled": True, "config_dir": "conf", "config_name": "parameters"}
        if names and not (root / "conf" / "config.yaml").is_file():
            # models in folders: DVC composes the root's conf/ only, so `exp run -S FILE:KEY=VALUE`
            # edits a model's params.yaml directly (what `gitmlops run --sweep` gives it)
            wanted["enabled"] = False
        if any(hydra.get(k) != v for k, v in wanted.items()):
            dvc.config_set("hydra", wanted)
        # the local default goes to .dvc/config.local: nothing machine-specific is committed
        created = ensure_default(dvc)
        if created:
            result.remote = created
        else:
            default = dvc.config_get("core", "remote")
            result.remote = str((dvc.remotes().get(default) or {}).get("url")) if default else None

    for rel, text in template_files(example or example_models, conf=not names).items():
        _write(root, rel, text, force, result)

    if _ensure_line(root / ".gitattributes", GITATTRIBUTES_LINE):
        result.created.append(".gitattributes")
    if names and _ensure_line(root / ".gitattributes", GITATTRIBUTES_MODELS_LINE) \
            and ".gitattributes" not in result.created:
        result.created.append(".gitattributes")
    if git.get_config("diff.whylogs.textconv") != TEXTCONV:
        git.set_config("diff.whylogs.textconv", TEXTCONV)
        git.set_config("diff.whylogs.cachetextconv", "true")

    if (example or example_models) and not (root / f"{EXAMPLE_DATA}.dvc").exists():
        from gitmlops.data import add as data_add
        from gitmlops.example import write_csv

        if not (root / EXAMPLE_DATA).exists():
            write_csv(root / EXAMPLE_DATA)
        data_add(git, [str(root / EXAMPLE_DATA)], check=False)
        result.created.append(f"{EXAMPLE_DATA}.dvc")

    from gitmlops.pipeline.sync import sync

    if names:
        for name in names:
            _init_model(git, result, name, folder if model else None, example or example_models, force)
    else:
        synced = sync(git, force=force, only_missing=not force)
        result.created.extend(p for p in synced.written if p not in result.created)

    # Stage only what init itself wrote, never unrelated changes of the user's.
    git.add([".dvc/config", ".dvc/.gitignore", ".dvcignore", ".gitattributes", *result.created,
             *result.overwritten])
    return result


def _init_model(git: GitRepo, result: InitResult, name: str, folder: str | None, example: bool,
                force: bool) -> None:
    """Write model NAME's folder (conf/, params.yaml, dvc.yaml) and list it in gitmlops.yaml."""
    from gitmlops.models import MANIFEST, add_model
    from gitmlops.pipeline.sync import sync

    root = git.root
    model, new = add_model(root, name, folder)
    if new and MANIFEST not in result.created:
        result.created.append(MANIFEST)
    if example:
        target, drop = EXAMPLE_MODELS.get(name, EXAMPLE_MODELS["churn"])
        data = os.path.relpath(root / EXAMPLE_DATA, model.path)  # one table, tracked once, for all
    else:
        target, drop, data = GENERIC_TARGET, [], GENERIC_DATA
    for rel, text in conf_files(Path(data).as_posix(), target, drop, name).items():
        _write(root, model.rel(rel), text, force, result)
    synced = sync(open_repo(model.path), force=force, only_missing=not force)
    result.created.extend(model.rel(p) for p in synced.written if model.rel(p) not in result.created)
    result.models.append(name)
