"""`gitmlops init`."""

from __future__ import annotations

import click

from gitmlops.cli import repo_path
from gitmlops.cli.output import emit, json_option


@click.command()
@click.option("--example", is_flag=True, help="Add the bundled churn example (data + config) so `gitmlops run` works at once.")
@click.option("--force", is_flag=True, help="Overwrite files gitmlops writes even if they exist.")
@json_option
@click.pass_context
def init(ctx: click.Context, example: bool, force: bool, as_json: bool) -> None:
    """Set up gitmlops in a git repository.

    Runs `dvc init` if needed, turns DVC analytics off, configures a local DVC remote outside the
    work tree (in .dvc/config.local: per machine, never committed; a team remote is
    `gitmlops remote add URL`), writes the Hydra config tree conf/, params.yaml and dvc.yaml, the whylogs git diff
    driver and GitHub workflows. Existing files are kept unless --force. New files are staged in git.
    """
    from gitmlops.project import init as do_init

    result = do_init(repo_path(ctx), example=example, force=force)

    def render(r: object) -> str:
        lines = [f"Initialised gitmlops in {result.root}"]
        lines += [f"  created      {p}" for p in result.created]
        lines += [f"  overwritten  {p}" for p in result.overwritten]
        if result.kept and not result.created:
            lines.append("  nothing to do: everything was already in place")
        if result.remote:
            lines.append(f"  DVC remote   {result.remote}")
        lines.append("Next: " + ("`gitmlops run`" if example else "`gitmlops data add PATH`, set data.path/data.target in conf/data/, then `gitmlops run`"))
        return "\n".join(lines)

    emit(result, as_json, render)
