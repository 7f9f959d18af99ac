"""Keeping an experiment: write its overrides into conf/ so that a plain `gitmlops run` reproduces it.

`gitmlops run --save key=value` and `gitmlops exp apply NAME` both end here. An override goes to
the file that defines its key: a group choice (``model=xgb_large``) to the defaults list of the
primary config that selects the group, ``group.key=value`` to the chosen option's file
(``conf/train/default.yaml``) unless the primary config sets that key itself, any other key to the
primary config. Files are edited in place with ruamel.yaml, so comments and layout survive.

Every change is proven before it is written: the edited tree is composed in a scratch folder and
must give exactly the config that conf/ with the overrides gives; otherwise nothing is written.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitmlops.adapters.git_repo import GitRepo, open_repo
from gitmlops.config import CONF_DIR, CONFIG_NAME, compose, conf_dir, flatten, validate_overrides
from gitmlops.errors import ConfigError, GitMLOpsError, NotADvcRepoError
from gitmlops.pipeline.run import RunResult

PRIMARIES = ("parameters", CONFIG_NAME)  # primary configs that may hold a defaults list, in search order


@dataclass
class Kept:
    """What keeping wrote: the overrides, the conf/ files changed, the experiment they came from."""

    overrides: list[str]
    written: list[str] = field(default_factory=list)
    experiment: str | None = None
    rev: str | None = None


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip: comments, key order and quoting are kept
    yaml.preserve_quotes = True
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


class _Tree:
    """conf/ files loaded for editing (each parsed once, dumped only if changed)."""

    def __init__(self, conf: Path) -> None:
        self.conf = conf
        self.docs: dict[str, Any] = {}
        self.changed: set[str] = set()

    def doc(self, rel: str) -> Any:
        if rel not in self.docs:
            path = self.conf / rel
            self.docs[rel] = _yaml().load(path.read_text()) if path.is_file() else None
        return self.docs[rel]

    def primaries(self) -> list[str]:
        return [f"{name}.yaml" for name in PRIMARIES if (self.conf / f"{name}.yaml").is_file()]

    def choice(self, group: str) -> tuple[str, Any, int] | None:
        """The primary file, defaults list and index where ``group`` is chosen."""
        for rel in self.primaries():
            defaults = (self.doc(rel) or {}).get("defaults") or []
            for index, item in enumerate(defaults):
                if hasattr(item, "keys") and group in item:
                    return rel, defaults, index
        return None

    def texts(self) -> dict[str, str]:
        out = {}
        for rel in sorted(self.changed):
            stream = io.StringIO()
            _yaml().dump(self.docs[rel], stream)
            out[rel] = stream.getvalue()
        return out


def _set(doc: Any, parts: list[str], value: Any, delete: bool) -> None:
    from ruamel.yaml.comments import CommentedMap

    node = doc
    for part in parts[:-1]:
        if part not in node or not hasattr(node[part], "keys"):
            node[part] = CommentedMap()
        node = node[part]
    if delete:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value


def _has(doc: Any, parts: list[str]) -> bool:
    node = doc
    for part in parts:
        if not hasattr(node, "keys") or part not in node:
            return False
        node = node[part]
    return True


def _place(tree: _Tree, text: str, override: Any, primary: bool = False) -> None:
    """Apply one parsed override to the loaded files (with ``primary``, a key goes to the first
    primary config, whose ``_self_`` comes last and so wins over every group option)."""
    key = str(override.key_or_group)
    if override.package:
        raise ConfigError(f"override {text!r} names a package (@...), which cannot be kept in conf/",
                          "edit the defaults list in conf/config.yaml by hand")
    value = override.value()
    if (tree.conf / key).is_dir() and isinstance(value, str) and not override.is_delete():
        if not (tree.conf / key / f"{value}.yaml").is_file():
            raise ConfigError(f"override {text!r}: conf/{key}/{value}.yaml does not exist")
        found = tree.choice(key)
        if found is None:
            raise ConfigError(f"override {text!r}: no defaults list under conf/ chooses the group {key!r}",
                              f"add `- {key}: {value}` to the defaults of conf/{CONFIG_NAME}.yaml")
        rel, defaults, index = found
        defaults[index][key] = value
        tree.changed.add(rel)
        return
    parts = key.split(".")
    target, path = None, parts
    for rel in tree.primaries():  # a primary config that sets the key itself wins over the group file
        if _has(tree.doc(rel), parts if len(parts) > 1 else parts[:1]):
            target = rel
            break
    if target is None and primary and tree.primaries():
        target = tree.primaries()[0]
    chosen = tree.choice(parts[0]) if target is None and len(parts) > 1 else None
    if chosen is not None:
        _, defaults, index = chosen
        target, path = f"{parts[0]}/{defaults[index][parts[0]]}.yaml", parts[1:]
    if target is None:
        target = f"{CONFIG_NAME}.yaml"
    doc = tree.doc(target)
    if doc is None:
        raise ConfigError(f"override {text!r}: conf/{target} does not exist")
    _set(doc, path, value, override.is_delete())
    tree.changed.add(target)


def plan(root: Path, overrides: Sequence[str]) -> dict[str, str]:
    """The new text of each conf/ file that keeping ``overrides`` changes, proven by composing."""
    parsed = validate_overrides(overrides)
    conf = conf_dir(root)
    wanted = compose(root, overrides)
    keys: list[str] = []
    # first each key in the file that defines it; if another option overrides that file (a model
    # preset setting train.* keys), in the primary config, which is applied last
    for primary in (False, True):
        tree = _Tree(conf)
        ordered = sorted(zip(overrides, parsed, strict=True), key=lambda p: not (conf / str(p[1].key_or_group)).is_dir())
        for text, override in ordered:  # group choices first: later keys go to the newly chosen file
            _place(tree, text, override, primary)
        texts = tree.texts()
        with tempfile.TemporaryDirectory(prefix="gitmlops-keep-") as scratch:
            shutil.copytree(conf, Path(scratch) / CONF_DIR)
            for rel, text in texts.items():
                (Path(scratch) / CONF_DIR / rel).write_text(text)
            got = compose(scratch)
        if got == wanted:
            return texts
        a, b = flatten(wanted), flatten(got)
        keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    raise ConfigError(
        f"cannot keep {' '.join(overrides)}: conf/ edited that way composes differently at "
        f"{', '.join(keys[:5])}",
        "write these values into conf/ by hand (another file or interpolation sets them)",
    )


@contextmanager
def written(root: Path, texts: dict[str, str]) -> Iterator[list[str]]:
    """Write ``texts`` under conf/; put the old files back if the body raises."""
    from gitmlops.pipeline.sync import write_atomic

    conf = root / CONF_DIR
    old = {rel: (conf / rel).read_text() for rel in texts}
    for rel, text in texts.items():
        write_atomic(conf / rel, text)
    try:
        yield [f"{CONF_DIR}/{rel}" for rel in texts]
    except BaseException:
        for rel, text in old.items():
            write_atomic(conf / rel, text)
        raise


def save(repo: str | os.PathLike[str] | GitRepo, overrides: Sequence[str]) -> Kept:
    """Write ``overrides`` into conf/ (nothing else changes)."""
    from gitmlops.models import project_root

    root = project_root(open_repo(repo))
    with written(root, plan(root, overrides)) as files:
        return Kept(overrides=list(overrides), written=files)


def run_saved(repo: str | os.PathLike[str] | GitRepo, overrides: Sequence[str], **options: Any) -> RunResult:
    """`gitmlops run --save`: keep ``overrides`` in conf/, then run plainly; a failed run keeps nothing
    (``saved`` of the result lists the conf/ files written)."""
    from gitmlops.models import project_root
    from gitmlops.pipeline.run import run

    git = open_repo(repo)
    root = project_root(git)
    with written(root, plan(root, overrides)) as files:
        result = run(git, (), **options)
    result.saved = files
    return result


def _experiment(git: GitRepo, name: str) -> tuple[str, str]:
    from gitmlops.pipeline.experiments import show

    rows = [e for e in show(git) if not e.baseline]
    for row in rows:
        if name in (row.name, row.rev) or (len(name) >= 7 and row.rev.startswith(name)):
            return row.name, row.rev
    known = ", ".join(r.name for r in rows) or "none"
    raise GitMLOpsError(f"no experiment {name!r} of HEAD (experiments: {known})",
                        "`gitmlops exp show` lists them; run one with `gitmlops run --sweep` or `dvc exp run`")


def _group_choices(root: Path, base: dict[str, Any], target: dict[str, Any]) -> list[str]:
    """Group choices that explain a parameter group's new values best (``model=xgb_large``)."""
    from gitmlops.config import overrides_between

    tree = _Tree(conf_dir(root))
    choices = []
    for group in sorted(set(base) & set(target)):
        found = tree.choice(group)
        if found is None or base[group] == target[group]:
            continue
        current = str(found[1][found[2]][group])
        best, fewest = current, len(overrides_between({group: base[group]}, {group: target[group]}))
        for option in sorted(p.stem for p in (tree.conf / group).glob("*.yaml")):
            if option == current:
                continue
            composed = compose(root, [f"{group}={option}"]).get(group)
            count = len(overrides_between({group: composed}, {group: target[group]}))
            if count < fewest:
                best, fewest = option, count
        if best != current:
            choices.append(f"{group}={best}")
    return choices


def apply(repo: str | os.PathLike[str] | GitRepo, name: str) -> Kept:
    """`gitmlops exp apply NAME`: bring experiment NAME into the work tree (DVC's `exp apply`:
    params.yaml, dvc.lock and outputs) and write its overrides into conf/."""
    import yaml

    from gitmlops.adapters.dvc_repo import DvcRepo, is_dvc_repo
    from gitmlops.config import overrides_between, parameters_of
    from gitmlops.models import project_root

    git = open_repo(repo)
    if not is_dvc_repo(git.root):
        raise NotADvcRepoError(str(git.root))
    root = project_root(git)
    folder = root.relative_to(git.root).as_posix()
    mine = [f if folder == "." else f"{folder}/{f}" for f in (CONF_DIR, "params.yaml", "dvc.yaml", "dvc.lock")]
    dirty = git.dirty_paths(mine)
    if dirty:
        raise GitMLOpsError(f"uncommitted changes in {', '.join(sorted(dirty))}",
                            "commit or discard them first: applying an experiment rewrites these files")
    exp_name, rev = _experiment(git, name)
    target = yaml.safe_load(git.file_at(rev, mine[1]) or "") or {}
    base = parameters_of(root, compose(root))
    choices = _group_choices(root, base, target)
    chosen = parameters_of(root, compose(root, choices)) if choices else base
    overrides = choices + overrides_between(chosen, target)
    texts = plan(root, overrides) if overrides else {}
    with DvcRepo(git.root) as dvc:
        dvc.cli("exp", "apply", rev)
    from gitmlops.pipeline.sync import sync

    with written(root, texts) as files:
        sync(git)
    return Kept(overrides=overrides, written=files, experiment=exp_name, rev=rev)
