"""Shell completion: click's own machinery, plus what only gitmlops knows (registry references from the
tags, pipeline stages from dvc.yaml, dataset names from monitoring/, config keys from conf/).

``gitmlops completion bash|zsh|fish`` prints the script to source; the bash script also teaches git's
own completion about ``git mlops``. Completers read files and one ``git for-each-ref``; they never
compose the config or import DVC, so a <TAB> stays fast, and they return nothing on any error.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem, get_completion_class

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_GITMLOPS_COMPLETE"
Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def _root(ctx: click.Context) -> Path | None:
    """The work tree's top for the -C given so far (None outside a git repo)."""
    start = Path((ctx.find_root().params or {}).get("repo") or ".").resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _quiet(func: Completer) -> Completer:
    """A completer that offers nothing instead of failing: a broken <TAB> must not print a traceback."""

    def wrapper(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        try:
            return func(ctx, param, incomplete)
        except Exception:  # noqa: BLE001 - completion is best effort by design
            return []

    wrapper.__doc__ = func.__doc__
    return wrapper


def _tag_names(root: Path) -> list[str]:
    from gitmlops.adapters.git_repo import GitRepo

    out = GitRepo(root).git("for-each-ref", "--format=%(refname:lstrip=2)", "refs/tags", check=False)
    return out.splitlines()


def _registry(root: Path) -> tuple[set[str], dict[str, set[str]], dict[str, set[str]]]:
    """Artifact names, versions per name and stages per name, from the tag names alone."""
    from gitmlops.registry.tags import ASSIGN, REGISTER, parse_tag

    names: set[str] = set()
    versions: dict[str, set[str]] = {}
    stages: dict[str, set[str]] = {}
    for text in _tag_names(root):
        tag = parse_tag(text)
        if tag is None:
            continue
        names.add(tag.name)
        if tag.kind == REGISTER and tag.version:
            versions.setdefault(tag.name, set()).add(tag.version)
        elif tag.kind == ASSIGN and tag.stage:
            stages.setdefault(tag.name, set()).add(tag.stage)
    return names, versions, stages


def _items(values: list[str] | set[str], incomplete: str, help: str | None = None) -> list[CompletionItem]:
    return [CompletionItem(v, help=help) for v in sorted(values) if v.startswith(incomplete)]


@_quiet
def refs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Registry references: NAME#STAGE, NAME@latest, NAME@vX.Y.Z."""
    root = _root(ctx)
    if root is None:
        return []
    names, versions, stages = _registry(root)
    found: list[CompletionItem] = []
    for name in sorted(names):
        found += _items({f"{name}#{s}" for s in stages.get(name, ())}, incomplete, "stage")
        found += _items({f"{name}@latest"}, incomplete, "latest version")
        found += _items({f"{name}@{v}" for v in versions.get(name, ())}, incomplete, "version")
    return found


@_quiet
def artifact_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Artifact names known to the registry."""
    root = _root(ctx)
    return _items(_registry(root)[0], incomplete, "artifact") if root else []


@_quiet
def versions(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Versions of the artifact named earlier on the line (plus latest and greatest)."""
    root = _root(ctx)
    name = ctx.params.get("name")
    if root is None or not name:
        return []
    return _items({*_registry(root)[1].get(name, set()), "latest", "greatest"}, incomplete, "version")


@_quiet
def registry_stages(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Stages of conf/'s registry.stages (or the stages already used in tags)."""
    root = _root(ctx)
    if root is None:
        return []
    import yaml

    found: set[str] = set()
    for path in (root / "conf" / "registry").glob("*.yaml"):
        data = yaml.safe_load(path.read_text()) or {}
        found.update(str(s) for s in data.get("stages", []) or [])
    for per_name in _registry(root)[2].values():
        found |= per_name
    return _items(found, incomplete, "stage")


@_quiet
def pipeline_stages(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Stage names of dvc.yaml."""
    root = _root(ctx)
    if root is None or not (root / "dvc.yaml").is_file():
        return []
    import yaml

    data = yaml.safe_load((root / "dvc.yaml").read_text()) or {}
    return _items(set((data.get("stages") or {}).keys()), incomplete, "stage")


@_quiet
def datasets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Dataset names (folders of monitoring/), then files as usual."""
    root = _root(ctx)
    found: list[CompletionItem] = []
    if root is not None and (root / "monitoring").is_dir():
        found = _items({p.name for p in (root / "monitoring").iterdir() if p.is_dir() and not p.name.startswith(".")},
                       incomplete, "dataset")
    return [*found, CompletionItem(incomplete, type="file")]


@_quiet
def overrides(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Hydra overrides: `group=option` from conf/<group>/*.yaml and `key=` from params.yaml."""
    root = _root(ctx)
    if root is None:
        return []
    import yaml

    from gitmlops.config import flatten

    conf = root / "conf"
    found: set[str] = set()
    if conf.is_dir():
        for group in conf.iterdir():
            if group.is_dir():
                found.update(f"{group.name}={p.stem}" for p in group.glob("*.yaml"))
    params = root / "params.yaml"
    if params.is_file():
        data: Any = yaml.safe_load(params.read_text()) or {}
        if isinstance(data, dict):
            found.update(f"{key}=" for key in flatten(data))
    return _items(found, incomplete)


GIT_BASH = r"""
# `git mlops <TAB>`: git's completion calls _git_mlops with words/cword set.
_git_mlops() {
    local IFS=$'\n' response completion type value
    response=$(env COMP_WORDS="gitmlops ${words[*]:2}" COMP_CWORD=$((cword - 1)) %(var)s=bash_complete gitmlops)
    for completion in $response; do
        IFS=',' read type value <<< "$completion"
        if [[ $type == 'plain' ]]; then
            COMPREPLY+=("$value")
        elif [[ $type == 'file' || $type == 'dir' ]]; then
            COMPREPLY+=($(compgen -f -- "$cur"))
        fi
    done
}
"""


def script(shell: str, prog: str = "gitmlops") -> str:
    """The completion script for ``shell`` (from click's public completion classes)."""
    from gitmlops.cli import cli

    if shell not in SHELLS:
        raise click.BadParameter(f"unknown shell {shell!r}: use one of {', '.join(SHELLS)}")
    cls = get_completion_class(shell)
    if cls is None:  # click ships bash, zsh and fish; this only guards a click without them
        raise click.BadParameter(f"this click has no {shell} completion")
    source = cls(cli, {}, prog, COMPLETE_VAR).source()
    if shell == "bash":
        source += GIT_BASH % {"var": COMPLETE_VAR}
    return source


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS), required=False)
def completion(shell: str | None) -> None:
    """Print the shell completion script for SHELL (default: from $SHELL).

    \b
    bash:  eval "$(gitmlops completion bash)"    (in ~/.bashrc; also completes `git mlops`)
    zsh:   eval "$(gitmlops completion zsh)"     (in ~/.zshrc)
    fish:  gitmlops completion fish > ~/.config/fish/completions/gitmlops.fish

    Completes commands, options, registry references (model#prod, model@v1.2.0), pipeline stages,
    dataset names and config overrides.
    """
    chosen = shell or os.path.basename(os.environ.get("SHELL", "")) or "bash"
    if chosen not in SHELLS:
        raise click.UsageError(f"cannot tell the shell from $SHELL={chosen!r}: give one of {', '.join(SHELLS)}")
    click.echo(script(chosen), nl=False)
