"""`gitmlops registry register|promote|deprecate|show|history|resolve|get|check-ref`."""

from __future__ import annotations

from typing import Any

import click

from gitmlops.cli import completion as complete
from gitmlops.cli import model_name, repo_path
from gitmlops.cli.output import emit, json_option, table

_push = click.option("--push", is_flag=True, help="Push the tag to the git remote (atomically).")
_remote = click.option("--remote", default="origin", show_default=True, help="Git remote to push to.")
_message = click.option("-m", "--message", help="A note added to the tag message after GTO's wording.")


def _name(ctx: click.Context, name: str | None) -> str:
    """The artifact NAME means: a model's short name stands for its artifact (``churn`` ->
    ``models/churn:churn``); no NAME, the artifact of the model --model or the folder names."""
    from gitmlops.models import current_model, expand_name

    if name is None:
        from gitmlops.adapters.git_repo import open_repo
        from gitmlops.errors import UsageError

        model = current_model(open_repo(repo_path(ctx)))
        if model is None:
            raise UsageError("give the artifact NAME", "`gitmlops registry show` lists the artifacts")
        return model.artifact
    return expand_name(repo_path(ctx), name)


def _ref(ctx: click.Context, ref: str) -> str:
    """A registry reference with a model's short name expanded (``churn#prod``)."""
    from gitmlops.models import expand_ref

    return expand_ref(repo_path(ctx), ref)


def _written(result: Any) -> str:
    event = result.event
    where = f"; pushed to {result.remote}" if result.pushed else "; push it with --push or `git push origin TAG`"
    what = {
        "register": f"registered {event.name}@{event.version}",
        "assign": f"{event.name}@{event.version} is now in stage {event.stage}",
        "unassign": f"{event.name}@{event.version} left stage {event.stage}",
        "deregister": f"deregistered {event.name}@{event.version}",
        "deprecate": f"deprecated {event.name}",
    }.get(event.kind, event.kind)
    return f"{what} (tag {event.tag} on {event.commit[:8]}){where}"


@click.group()
def registry() -> None:
    """Model registry on git tags (GTO-compatible)."""


@registry.command()
@click.argument("name", required=False, shell_complete=complete.artifact_names)
@click.option("--ref", default=None, help="Commit to register, as committed [default: HEAD, which must have no "
              "uncommitted changes to the artifact, dvc.yaml or params.yaml].")
@click.option("--version", "version", help="Version to register, e.g. v1.2.0.")
@click.option("--bump", type=click.Choice(["major", "minor", "patch"]), help="Bump this part of the greatest version.")
@click.option("--force", is_flag=True, help="Allow a version lower than the greatest one, or a commit whose "
              "dvc.lock is stale or disagrees with dvc.yaml/params.yaml (the tag records it).")
@_message
@_push
@_remote
@json_option
@click.pass_context
def register(ctx: click.Context, name: str | None, ref: str, version: str | None, bump: str | None, force: bool,
             message: str | None, push: bool, remote: str, as_json: bool) -> None:
    """Register a new version of artifact NAME at commit --ref (a model's name stands for its artifact;
    no NAME: the artifact of --model)."""
    from gitmlops.registry import register as do_register

    result = do_register(repo_path(ctx), _name(ctx, name), ref=ref, version=version, bump=bump, message=message,
                         force=force, push=push, remote=remote)
    emit(result, as_json, _written)


@registry.command()
@click.argument("name", shell_complete=complete.artifact_names)
@click.argument("version", shell_complete=complete.versions)
@click.option("--stage", required=True, shell_complete=complete.registry_stages, help="Stage to assign (see registry.stages in conf/).")
@click.option("--force", is_flag=True, help="Record the assignment even if VERSION is already in STAGE.")
@_message
@_push
@_remote
@json_option
@click.pass_context
def promote(ctx: click.Context, name: str, version: str, stage: str, force: bool, message: str | None,
            push: bool, remote: str, as_json: bool) -> None:
    """Assign STAGE to VERSION (vX.Y.Z, latest or greatest) of NAME."""
    from gitmlops.registry import promote as do_promote

    result = do_promote(repo_path(ctx), _name(ctx, name), version, stage, message=message, force=force, push=push,
                        remote=remote)
    emit(result, as_json, _written)


@registry.command()
@click.argument("name", shell_complete=complete.artifact_names)
@click.argument("version", required=False, shell_complete=complete.versions)
@click.option("--stage", shell_complete=complete.registry_stages, help="Unassign this stage (from VERSION, default its current version).")
@_message
@_push
@_remote
@json_option
@click.pass_context
def deprecate(ctx: click.Context, name: str, version: str | None, stage: str | None, message: str | None,
              push: bool, remote: str, as_json: bool) -> None:
    """Deprecate artifact NAME, deregister its VERSION, or unassign --stage."""
    from gitmlops.registry import deprecate as do_deprecate

    result = do_deprecate(repo_path(ctx), _name(ctx, name), version=version, stage=stage, message=message, push=push,
                          remote=remote)
    emit(result, as_json, _written)


@registry.command()
@click.argument("name", required=False, shell_complete=complete.artifact_names)
@json_option
@click.pass_context
def show(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Per artifact: latest version and the version in each stage (with NAME: every version)."""
    from gitmlops.registry.api import show as do_show
    from gitmlops.registry.api import versions

    if name is None and model_name(ctx):
        name = _name(ctx, None)
    if name is not None:
        name = _name(ctx, name)
        found = versions(repo_path(ctx), name)
        emit({"name": name, "versions": found}, as_json, lambda _: table(
            ["version", "commit", "registered", "active", "stages", "forced"],
            [(v.version, v.commit[:8], v.registered_at, "yes" if v.active else "no", ", ".join(v.stages),
              "yes" if v.forced else "") for v in found],
        ))
        return
    result = do_show(repo_path(ctx))

    def render(r: Any) -> str:
        if not r.artifacts:
            return "no registry tags yet: `gitmlops registry register NAME`"
        rows = []
        for artifact in r.to_dict()["artifacts"]:
            rows.append([artifact["name"] + (" (deprecated)" if artifact["deprecated"] else ""),
                         artifact["latest"], *artifact["stages"].values()])
        return table(["name", "latest", *(f"#{s}" for s in r.stages)], rows)

    emit(result, as_json, render)


@registry.command()
@click.argument("name", required=False, shell_complete=complete.artifact_names)
@json_option
@click.pass_context
def history(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Every event of NAME in order (stage events by counter)."""
    from gitmlops.registry import history as do_history

    events = do_history(repo_path(ctx), _name(ctx, name))
    emit(events, as_json, lambda _: table(
        ["#", "event", "version", "stage", "created", "author", "tag"],
        [(e.counter, e.kind, e.version, e.stage, e.created_at, e.author, e.tag) for e in events],
    ))


@registry.command()
@click.argument("ref", shell_complete=complete.refs)
@json_option
@click.pass_context
def resolve(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Resolve NAME@vX.Y.Z, NAME@latest, NAME@greatest or NAME#STAGE to one version."""
    from gitmlops.registry import resolve as do_resolve

    result = do_resolve(repo_path(ctx), _ref(ctx, ref))
    emit(result, as_json, lambda r: "\n".join(
        f"{k}: {v}" for k, v in (("name", r.name), ("version", r.version), ("stage", r.stage), ("tag", r.tag),
                                 ("commit", r.commit), ("path", r.path), ("md5", r.md5))
        if v is not None
    ))


@registry.command()
@click.argument("ref", shell_complete=complete.refs)
@click.option("-o", "--output", type=click.Path(), help="Where to write the file (default: its name, here).")
@click.option("--force", is_flag=True, help="Overwrite an existing different file.")
@json_option
@click.pass_context
def get(ctx: click.Context, ref: str, output: str | None, force: bool, as_json: bool) -> None:
    """Fetch the artifact file of REF through DVC (cache or remote), checking its md5."""
    from gitmlops.registry import get as do_get
    from gitmlops.registry import resolve as do_resolve

    ref = _ref(ctx, ref)
    dest = do_get(repo_path(ctx), ref, output=output, force=force)
    if not as_json:
        click.echo(str(dest))
        return
    found = do_resolve(repo_path(ctx), ref)
    emit({"ref": ref, "path": str(dest), "name": found.name, "version": found.version, "tag": found.tag,
          "commit": found.commit, "md5": found.md5, "bytes": dest.stat().st_size}, True, str)


@registry.command("check-ref")
@click.argument("tag")
@json_option
@click.pass_context
def check_ref(ctx: click.Context, tag: str, as_json: bool) -> None:
    """What registry event git tag TAG records (empty for other tags; for CI on tag pushes)."""
    from gitmlops.registry import check_ref as do_check_ref

    event = do_check_ref(repo_path(ctx), tag)
    if as_json:
        emit(event.to_dict() if event else {}, True, str)
    elif event is not None:
        click.echo(f"{event.kind} {event.name}" + (f"@{event.version}" if event.version else "")
                   + (f" #{event.stage}" if event.stage else "") + f" ({event.tag} on {event.commit[:8]})")
