"""`gitmlops report` and `gitmlops comment`: the pull-request bot (thin layer over the library)."""

from __future__ import annotations

import click

from gitmlops.cli.output import emit, json_option


@click.command("comment")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--target",
    default="auto",
    show_default=True,
    help="auto (this run's pull request: from the event, else looked up from the commit), "
    "pr/N, issue/N or commit/SHA.",
)
@click.option(
    "--id",
    "comment_id",
    default="gitmlops-report",
    show_default=True,
    help="Name of the sticky comment: a second run with the same id edits it instead of adding one.",
)
@click.option(
    "--token-env",
    default="GITHUB_TOKEN",
    show_default=True,
    metavar="VAR",
    help="Environment variable that holds the token (the token itself is never an argument).",
)
@click.option(
    "--full-report-url",
    default=None,
    metavar="URL",
    help="Where the full report lives, linked when it is truncated (default: this workflow run).",
)
@click.option(
    "--expect-head",
    default=None,
    metavar="SHA",
    help="Post only if the pull request's head is SHA (use in workflow_run jobs).",
)
@click.option(
    "--untrusted",
    is_flag=True,
    help="FILE was written by a pull request's code: remove HTML, images, outside links and mentions, "
    "and quote it under a header saying so (use in workflow_run jobs).",
)
@click.option(
    "--site-url",
    default=None,
    metavar="URL",
    envvar="GITMLOPS_SITE_URL",
    help="The project's published site: with --untrusted, links there are kept "
    "(default: $GITMLOPS_SITE_URL of this job, never from the report).",
)
@json_option
@click.pass_context
def comment(
    ctx: click.Context, file: str, target: str, comment_id: str, token_env: str,
    full_report_url: str | None, expect_head: str | None, untrusted: bool, site_url: str | None, as_json: bool,
) -> None:
    """Post FILE (Markdown) as a sticky comment on a pull request, issue or commit."""
    from gitmlops.cli import repo_path
    from gitmlops.github import comment_from_file

    result = comment_from_file(
        file,
        comment_id=comment_id,
        target=target,
        token_env=token_env,
        full_report_url=full_report_url,
        fallback_sha=_head_sha(repo_path(ctx)),
        expect_head=expect_head,
        untrusted=untrusted,
        site_url=site_url,
    )
    emit(result, as_json, _render_comment)


def _head_sha(path: str) -> str | None:
    """HEAD of the repository, used to find the pull request outside GitHub Actions."""
    from gitmlops.adapters.git_repo import open_repo
    from gitmlops.errors import GitMLOpsError

    try:
        return open_repo(path).head_commit()
    except GitMLOpsError:
        return None


def _render_comment(result) -> str:  # type: ignore[no-untyped-def]
    note = " (truncated to GitHub's limit)" if result.truncated else ""
    return f"{result.action} comment {result.id} on {result.target}{note}: {result.url or '-'}"


@click.command("report")
@click.option("--base", default=None, metavar="REV",
              help="Compare with REV (default: the merge-base with the default branch).")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default=None,
              help="Markdown for a comment (default), or JSON for other bots.")
@json_option
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None, metavar="FILE",
              help="Write the report to FILE instead of printing it.")
@click.option("--no-drift", is_flag=True, help="Skip the drift section (it profiles the new data).")
@click.option("--site-url", default=None, metavar="URL",
              help="Where `gitmlops site build` is published: link versions and drift reports there "
              "(default: $GITMLOPS_SITE_URL, else report.site_url in conf/).")
@click.pass_context
def report(ctx: click.Context, base: str | None, fmt: str | None, output: str | None, no_drift: bool,
           site_url: str | None, as_json: bool) -> None:
    """Write the pull-request report: params, metrics (with charts), data, drift and the registry events of the PR."""
    if as_json and fmt == "md":
        raise click.UsageError("--json and --format md ask for two outputs: give one")
    fmt = "json" if as_json else fmt or "md"
    import json

    from gitmlops.cli import repo_path
    from gitmlops.cli.output import to_jsonable
    from gitmlops.report import collect, render_markdown

    result = collect(repo_path(ctx), base=base, drift=not no_drift, site_url=site_url)
    text = json.dumps(to_jsonable(result), indent=2) + "\n" if fmt == "json" else render_markdown(result)
    if output is None:
        click.echo(text, nl=False)
        return
    with open(output, "w", encoding="utf-8") as fh:
        fh.write(text)
    click.echo(f"wrote {output} ({len(text):,} characters; base {result.base_sha[:12]})")
