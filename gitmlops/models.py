"""Several models in one repository: which models there are, and which one a command acts on.

A repository lists its models in ``gitmlops.yaml`` at its root (``gitmlops init --model NAME`` writes
it)::

    models:
      churn: {dir: models/churn}
      revenue: {dir: models/revenue}

Each model folder is a project of its own (``conf/``, ``params.yaml``, ``dvc.yaml``, ``dvc.lock``,
outputs, ``monitoring/``, every path relative to the folder), sharing the repository's ``.dvc/``,
remote, workflows and registry. A model's registry artifact is GTO's monorepo name ``DIR:NAME``
(``models/churn:churn``); ``churn#prod`` is short for ``models/churn:churn#prod``. A model may live
at the root (``dir: .``): the single-model layout, whose artifact is plain ``NAME``. A repository
without ``gitmlops.yaml`` is that single-model layout, unchanged.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitmlops.adapters.git_repo import GitRepo
from gitmlops.errors import ModelError

MANIFEST = "gitmlops.yaml"
DEFAULT_PARENT = "models"
MANIFEST_HEADER = """\
# The models of this repository: NAME -> {dir: FOLDER} (relative to the repository root).
# Each folder holds a model's own conf/, params.yaml, dvc.yaml and outputs; `gitmlops init --model NAME`
# adds one. See docs/models.md.
"""
_NAME_RE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9_-]*[a-zA-Z0-9])?$")
NAME_RULE = "a model name uses letters, digits, '-' and '_', and starts and ends with a letter or digit"
_RESERVED = {".git", ".dvc", ".github"}


@dataclass(frozen=True)
class Model:
    """One model of the repository: its name, its folder (POSIX, relative to the root) and path."""

    name: str
    dir: str
    path: Path

    @property
    def artifact(self) -> str:
        """The model's registry artifact: ``DIR:NAME`` (GTO's monorepo form), ``NAME`` at the root."""
        return self.name if self.dir == "." else f"{self.dir}:{self.name}"

    def rel(self, path: str) -> str:
        """A path of the model's folder, relative to the repository root."""
        return posixpath.normpath(posixpath.join(self.dir, path))

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (docs/json.md)."""
        return {"name": self.name, "dir": self.dir, "artifact": self.artifact}


def _read_manifest(root: Path) -> dict[str, Any] | None:
    path = root / MANIFEST
    if not path.is_file():
        return None
    import yaml

    try:
        data = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError as exc:
        raise ModelError(f"{MANIFEST} is not valid YAML: {str(exc).splitlines()[0]}",
                         f"fix {MANIFEST} (models: {{NAME: {{dir: FOLDER}}}})") from None
    if not isinstance(data, dict) or not isinstance(data.get("models") or {}, dict):
        raise ModelError(f"{MANIFEST} must hold `models:`, a mapping NAME -> {{dir: FOLDER}}",
                         f"fix {MANIFEST}; see docs/models.md")
    return dict(data.get("models") or {})


def check_dir(root: Path, folder: str, name: str = "") -> str:
    """``folder`` as a clean POSIX path relative to ``root``; ModelError when it leaves the repository
    or is one of git's or DVC's own folders."""
    full = Path(folder) if Path(folder).is_absolute() else root / folder
    resolved = Path(os.path.normpath(full))
    top = root.resolve()
    try:
        real = resolved.resolve()
    except OSError:
        real = resolved
    if not real.is_relative_to(top):
        raise ModelError(
            f"model folder {folder!r}{f' of model {name!r}' if name else ''} is outside the repository {root}",
            "put the model in a folder of the repository, e.g. --dir models/NAME",
        )
    rel = real.relative_to(top).as_posix() or "."
    if rel != "." and rel.split("/")[0] in _RESERVED:
        raise ModelError(f"model folder {folder!r} is inside {rel.split('/')[0]}/", "use a folder such as models/NAME")
    return rel


def _overlap(a: str, b: str) -> bool:
    """Whether one of two (non-root) model folders lies inside the other."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def _models(root: Path, manifest: dict[str, Any]) -> list[Model]:
    models: list[Model] = []
    for key, entry in manifest.items():
        name = str(key)
        if not _NAME_RE.match(name):
            raise ModelError(f"invalid model name {name!r} in {MANIFEST}", NAME_RULE)
        folder = entry.get("dir") if isinstance(entry, dict) else None
        if not isinstance(folder, str) or not folder:
            raise ModelError(f"model {name!r} in {MANIFEST} has no `dir:`", f"write `{name}: {{dir: models/{name}}}`")
        rel = check_dir(root, folder, name)
        for other in models:
            if rel != "." and other.dir != "." and _overlap(rel, other.dir):
                raise ModelError(f"models {other.name!r} and {name!r} share the folder {other.dir!r} / {rel!r}",
                                 f"give each model a folder of its own in {MANIFEST}")
            if rel == other.dir:
                raise ModelError(f"models {other.name!r} and {name!r} both live at the root", f"fix {MANIFEST}")
        models.append(Model(name, rel, root / rel if rel != "." else root))
    return models


def _top(repo: str | os.PathLike[str] | GitRepo) -> Path:
    """The work tree root of a GitRepo or of any path inside one."""
    if isinstance(repo, GitRepo):
        return repo.root
    path = Path(repo)
    return path if (path / ".git").exists() else GitRepo(path).root


def list_models(repo: str | os.PathLike[str] | GitRepo) -> list[Model]:
    """The models of ``gitmlops.yaml`` in their order (empty in a single-model repository)."""
    root = _top(repo)
    manifest = _read_manifest(root)
    return _models(root, manifest) if manifest else []


def is_multi(repo: str | os.PathLike[str] | GitRepo) -> bool:
    """Whether the repository lists its models in ``gitmlops.yaml``."""
    root = _top(repo)
    return (root / MANIFEST).is_file()


def find_model(repo: str | os.PathLike[str] | GitRepo, name: str) -> Model:
    """The model called ``name``; ModelError listing the known ones when there is none."""
    models = list_models(repo)
    for model in models:
        if model.name == name:
            return model
    known = ", ".join(m.name for m in models)
    raise ModelError(
        f"unknown model {name!r}" + (f" (models: {known})" if known else " (this repository has no gitmlops.yaml)"),
        "pass one of the models listed" if known else "add a model with `gitmlops init --model NAME`",
    )


def model_at(repo: str | os.PathLike[str] | GitRepo, path: str | os.PathLike[str]) -> Model | None:
    """The model whose folder holds ``path`` (the innermost; the root model last), or None."""
    models = list_models(repo)
    if not models:
        return None
    full = Path(os.path.normpath(Path(path).resolve()))
    best: Model | None = None
    for model in models:
        if (model.dir == "." and best is None) or (model.dir != "." and full.is_relative_to(model.path.resolve()) and (
                best is None or best.dir == "." or len(model.dir) > len(best.dir))):
            best = model
    return best


def current_model(git: GitRepo) -> Model | None:
    """The model a command opened at ``git.start`` acts on (None in a single-model repository)."""
    return model_at(git, getattr(git, "start", git.root))


def project_root(git: GitRepo) -> Path:
    """The folder of the project a command acts on: the model's folder in a several-model repository,
    the repository root otherwise; ModelError when a several-model repository gives no model."""
    model = current_model(git)
    if model is not None:
        return model.path
    models = list_models(git)
    if models:
        raise ModelError(
            f"this repository has several models ({', '.join(m.name for m in models)}): which one?",
            "pass --model NAME, a registry reference such as NAME#prod, or run inside the model's folder",
        )
    return git.root


def project_or_root(git: GitRepo) -> Path:
    """The folder of the model ``git`` was opened in, else the repository root (for what belongs to the
    repository as a whole too, such as the profile of a shared table `data add` files)."""
    model = current_model(git)
    return model.path if model is not None else git.root


def expand_name(repo: str | os.PathLike[str] | GitRepo, name: str) -> str:
    """An artifact name with a model's short name expanded (``churn`` -> ``models/churn:churn``).

    Names with a folder (``dir:name``), and every name of a single-model repository, are kept."""
    if ":" in name or not is_multi(repo):
        return name
    for model in list_models(repo):
        if model.name == name:
            if not (model.path / "dvc.yaml").is_file():
                raise ModelError(f"model {name!r} has no pipeline: {model.rel('dvc.yaml')} is missing",
                                 f"run `gitmlops --model {name} run` (or `pipeline sync`) and commit")
            return model.artifact
    return name


def expand_ref(repo: str | os.PathLike[str] | GitRepo, ref: str) -> str:
    """A registry reference with a model's short name expanded (``churn#prod`` ->
    ``models/churn:churn#prod``); other references are kept as they are."""
    match = re.match(r"^([^#@]+)([#@].*)?$", ref)
    if not match:
        return ref
    return expand_name(repo, match.group(1)) + (match.group(2) or "")


def model_of_ref(repo: str | os.PathLike[str] | GitRepo, ref: str) -> Model | None:
    """The model a registry reference (``churn#prod``, ``models/churn:churn@v1.0.0``) names, if any."""
    if not is_multi(repo):
        return None
    match = re.match(r"^([^#@]+)[#@]", ref)
    if not match:
        return None
    return model_of_artifact(repo, expand_name(repo, match.group(1)))


def model_of_artifact(repo: str | os.PathLike[str] | GitRepo, artifact: str) -> Model | None:
    """The model an artifact name belongs to (by its folder, or its name at the root)."""
    for model in list_models(repo):
        if model.artifact == artifact or (model.dir != "." and artifact.startswith(model.dir + ":")):
            return model
    return None


def add_model(root: Path, name: str, folder: str | None = None, write: bool = True) -> tuple[Model, bool]:
    """Record model ``name`` (in ``folder``, default ``models/NAME``) in gitmlops.yaml; (model, new).

    Refuses a bad name, a folder outside the repository, a folder another model holds or holds part
    of, and a name taken by another folder, before anything is written (``write=False``: only check)."""
    import yaml

    if not _NAME_RE.match(name):
        raise ModelError(f"invalid model name {name!r}", NAME_RULE)
    rel = check_dir(root, folder if folder is not None else f"{DEFAULT_PARENT}/{name}", name)
    manifest = _read_manifest(root) or {}
    models = _models(root, manifest)
    for model in models:
        if model.name == name:
            if folder is not None and model.dir != rel:
                raise ModelError(f"model {name!r} already lives in {model.dir!r}, not {rel!r}",
                                 f"pick another name, or run `gitmlops init --model {name}` without --dir")
            return model, False
        if rel == "." and model.dir == ".":
            raise ModelError(f"model {model.name!r} already lives at the repository root", "use --dir models/NAME")
        if rel != "." and model.dir != "." and _overlap(rel, model.dir):
            raise ModelError(f"folder {rel!r} overlaps the folder {model.dir!r} of model {model.name!r}",
                             "give each model a folder of its own (e.g. --dir models/NAME)")
    if not write:
        return Model(name, rel, root / rel if rel != "." else root), True
    manifest[name] = {"dir": rel}
    text = MANIFEST_HEADER + yaml.safe_dump({"models": manifest}, sort_keys=False, default_flow_style=None)
    (root / MANIFEST).write_text(text)
    return Model(name, rel, root / rel if rel != "." else root), True


def check_models(root: Path, configs: dict[str, dict[str, Any]]) -> None:
    """Refuse two models claiming one output path or one artifact name.

    ``configs`` maps model name -> its composed config (the one its dvc.yaml is rendered from)."""
    from gitmlops.pipeline.render import artifacts_from_config, stages_from_config

    models = {m.name: m for m in list_models(root)}
    outputs: dict[str, str] = {}
    artifacts: dict[str, str] = {}
    for name, config in configs.items():
        model = models[name]
        for stage in stages_from_config(config).values():
            for key in ("outs", "metrics", "plots"):
                for item in stage.get(key) or []:
                    for path in [item] if isinstance(item, str) else list(item):
                        full = model.rel(path)
                        owner = outputs.setdefault(full, name)
                        if owner != name:
                            raise ModelError(f"models {owner!r} and {name!r} both write {full}",
                                             f"change paths.* in {model.rel('conf')}/ so each model writes its own files")
        for short in artifacts_from_config(config):
            owner = artifacts.setdefault(short, name)
            if owner != name:
                raise ModelError(f"models {owner!r} and {name!r} both declare the artifact name {short!r}",
                                 f"set model.name in {model.rel('conf/model')}/ to {name!r}")
