"""`gitmlops remote add|list|remove`: where DVC keeps the data, shared by the team."""

from __future__ import annotations

import click

from gitmlops.cli import repo_path
from gitmlops.cli.output import emit, json_option, table


@click.group()
def remote() -> None:
    """DVC remotes: add the team's (S3, MinIO...), list them, remove one."""


@remote.command()
@click.argument("url")
@click.option("--name", help="Remote name (default: storage).")
@click.option("--endpoint-url", help="S3-compatible endpoint (MinIO, Ceph...), e.g. http://minio:9000.")
@click.option("--region", help="S3 region.")
@click.option("--profile", help="AWS profile of the credentials (in ~/.aws, never in git).")
@click.option("--default/--no-default", default=True, show_default=True, help="Make it the default remote.")
@click.option("--credential", "credentials", multiple=True, metavar="KEY=VALUE",
              help="A secret option (e.g. secret_access_key=...), written to .dvc/config.local only.")
@json_option
@click.pass_context
def add(ctx: click.Context, url: str, name: str | None, endpoint_url: str | None, region: str | None,
        profile: str | None, default: bool, credentials: tuple[str, ...], as_json: bool) -> None:
    """Add the remote URL to .dvc/config (staged for commit); credentials stay on this machine."""
    from gitmlops.remote import add as do_add

    result = do_add(repo_path(ctx), url, name=name, endpoint_url=endpoint_url, region=region, profile=profile,
                    default=default, credentials=list(credentials))

    def render(r: object) -> str:
        lines = [f"remote {result.name}: {result.url}" + (" (default)" if result.default else "")]
        lines += [f"  {k} = {v}" for k, v in result.options.items()]
        if result.credentials:
            lines.append(f"  credentials in .dvc/config.local (not committed): {', '.join(result.credentials)}")
        lines.append("Next: `git commit -m 'DVC remote' .dvc/config`, then `gitmlops data push`")
        return "\n".join(lines)

    emit(result, as_json, render)


@remote.command(name="list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List the DVC remotes (secrets masked) and where each is configured."""
    from gitmlops.remote import list_remotes

    result = list_remotes(repo_path(ctx))

    def render(r: object) -> str:
        if not result.remotes:
            return "no DVC remote: add one with `gitmlops remote add s3://BUCKET/PATH` (or `gitmlops data push`)"
        rows = [(e.name + (" *" if e.default else ""), e.url, ",".join(e.levels),
                 " ".join(f"{k}={v}" for k, v in e.options.items()) or "-") for e in result.remotes]
        return table(["name", "url", "config", "options"], rows) + "\n* default"

    emit(result, as_json, render)


@remote.command()
@click.argument("name")
@json_option
@click.pass_context
def remove(ctx: click.Context, name: str, as_json: bool) -> None:
    """Remove remote NAME from .dvc/config and .dvc/config.local."""
    from gitmlops.remote import remove as do_remove

    levels = do_remove(repo_path(ctx), name)
    emit({"name": name, "removed_from": levels}, as_json,
         lambda r: f"removed remote {name} from {', '.join(levels)} config")
