"""`gitmlops data add|status|push|pull`."""

from __future__ import annotations

import os

import click

from gitmlops.cli import repo_path
from gitmlops.cli.output import emit, json_option, table


def _resolve(ctx: click.Context, paths: tuple[str, ...]) -> list[str]:
    base = repo_path(ctx)
    return [p if os.path.isabs(p) else os.path.abspath(os.path.join(base, p)) for p in paths]


@click.group()
def data() -> None:
    """Version data with DVC: add, status, push, pull."""


@data.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--no-check", is_flag=True, help="Track the data even if it fails the data.constraints checks.")
@click.option("--no-profile", is_flag=True, help="Do not profile tabular data into monitoring/.")
@json_option
@click.pass_context
def add(ctx: click.Context, paths: tuple[str, ...], no_check: bool, no_profile: bool, as_json: bool) -> None:
    """Track files or folders with DVC and stage their .dvc files in git.

    CSV and Parquet data is checked against data.constraints (when configured) and profiled into
    monitoring/<name>/ (whylogs), and the profile is staged too.
    """
    from gitmlops.data import add as do_add

    result = do_add(repo_path(ctx), _resolve(ctx, paths), check=not no_check, profile=not no_profile)

    def render(r: object) -> str:
        lines = [f"tracking {p} ({f})" for p, f in zip(result.paths, result.dvc_files, strict=False)]
        lines += [f"checked  {c.source}: {c.checked} constraint(s) passed" for c in result.checks]
        lines += [f"profile  {p}" for p in result.profiles if p.endswith(".bin")]
        return "\n".join([*lines, "Next: `git commit`, then `gitmlops data push`"])

    emit(result, as_json, render)


@data.command()
@click.option("--no-remote", is_flag=True, help="Do not ask the remote what it has (faster, offline).")
@json_option
@click.pass_context
def status(ctx: click.Context, no_remote: bool, as_json: bool) -> None:
    """Show tracked data: changed in the work tree? pushed to the remote?"""
    from gitmlops.data import status as do_status

    result = do_status(repo_path(ctx), remote=not no_remote)

    def render(r: object) -> str:
        if not result.tracked:
            return "no data tracked yet: `gitmlops data add PATH`"
        rows = [
            (t.path, t.state, "-" if no_remote else ("yes" if t.in_remote else "no"), t.size, (t.md5 or "")[:12])
            for t in result.tracked
        ]
        return table(["path", "state", "in remote", "bytes", "md5"], rows) + f"\nremote: {result.remote or '-'}"

    emit({"remote": result.remote, "clean": result.clean, "tracked": result.tracked}, as_json, render)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def _where(remote: dict[str, str | None]) -> str:
    return f"{remote.get('name')} ({remote.get('url')})"


@data.command()
@click.argument("targets", nargs=-1)
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Parallel transfers.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars (there are none when stderr is not a terminal).")
@json_option
@click.pass_context
def push(ctx: click.Context, targets: tuple[str, ...], jobs: int | None, quiet: bool, as_json: bool) -> None:
    """Push data and pipeline outputs to the default DVC remote; report files and bytes sent.

    A clone without any remote gets the local default first (in .dvc/config.local).
    """
    from gitmlops.cli.progress import shown
    from gitmlops.data import push as do_push

    result = do_push(repo_path(ctx), list(targets), jobs=jobs, bars=shown(quiet or as_json))

    def render(r: object) -> str:
        lines = [f"created the local default remote {result.created_remote} (.dvc/config.local)"] \
            if result.created_remote else []
        if result.objects:
            lines.append(f"{result.files} file(s), {_size(result.bytes)} pushed to {_where(result.remote)}")
        else:
            lines.append(f"everything is already in {_where(result.remote)}")
        return "\n".join(lines)

    emit(result, as_json, render)


@data.command()
@click.argument("targets", nargs=-1)
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Parallel transfers.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars (there are none when stderr is not a terminal).")
@json_option
@click.pass_context
def pull(ctx: click.Context, targets: tuple[str, ...], jobs: int | None, quiet: bool, as_json: bool) -> None:
    """Pull data and pipeline outputs from the default DVC remote; report files and bytes fetched.

    Exits 3 naming every output the work tree needs that the remote could not provide.
    """
    from gitmlops.cli.progress import shown
    from gitmlops.data import pull as do_pull

    result = do_pull(repo_path(ctx), list(targets), jobs=jobs, bars=shown(quiet or as_json))

    def render(r: object) -> str:
        fetched = (f"{result.files} file(s), {_size(result.bytes)} fetched from {_where(result.remote)}"
                   if result.files else f"nothing to fetch from {_where(result.remote)}")
        changed = len(result.added) + len(result.modified)
        return fetched + (f"; {changed} path(s) checked out" if changed else "; the work tree is up to date")

    emit(result, as_json, render)
