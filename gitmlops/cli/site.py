"""`gitmlops site build`: the static site of the repository."""

from __future__ import annotations

from typing import Any

import click

from gitmlops.cli import repo_path
from gitmlops.cli.output import emit, json_option


@click.group()
def site() -> None:
    """A static site of models, experiments, plots, monitoring and lineage (no server needed)."""


def render_build(result: Any) -> str:
    """The text form of a SiteBuild."""
    lines = [
        f"site written to {result.output} ({result.seconds:.2f} s): open {result.index}",
        f"  {result.models} model(s), {result.versions} version(s), {result.events} registry event(s), "
        f"{result.experiments} experiment row(s), {result.profiles} profile(s) in {result.datasets} dataset(s)",
        f"  read {result.commits_read} new commit(s), compared {result.profiles_compared} new profile(s)",
    ]
    lines += [f"  note: {note}" for note in result.notes]
    return "\n".join(lines)


@site.command("build")
@click.option("-o", "--output", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Folder to write the site into (default: _site in the repository). Building into the "
                   "same folder again redoes only what changed.")
@click.option("--verify-report", "verify_reports", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="A `gitmlops verify REF --json` report to show as the version's verify status (repeatable).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Processes comparing new profiles (default: up to 2).")
@json_option
@click.pass_context
def build(ctx: click.Context, output: str | None, verify_reports: tuple[str, ...], jobs: int | None,
          as_json: bool) -> None:
    """Build the site: open DIR/index.html from disk, or publish DIR (e.g. to GitHub Pages)."""
    from gitmlops.site import build as build_site

    result = build_site(repo_path(ctx), output, verify_reports=list(verify_reports), jobs=jobs)
    emit(result, as_json, render_build)
