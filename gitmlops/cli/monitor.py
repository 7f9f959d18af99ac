"""`gitmlops monitor`: profiles in git, drift between them, ingestion checks, the git diff driver.

Thin: each command maps its options onto one call in :mod:`gitmlops.monitor` and prints the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gitmlops.cli import completion as complete
from gitmlops.cli.output import emit, json_option, table
from gitmlops.errors import CheckFailed


def _root(ctx: click.Context) -> str:
    from gitmlops.cli import repo_path

    return repo_path(ctx)


def _here(ctx: click.Context, path: str) -> str:
    """A data or folder path as the user meant it: relative to -C (or the current directory), also
    when --model makes the command act in a model's folder."""
    from pathlib import Path

    from gitmlops.cli import model_name

    obj = ctx.find_root().obj or {}
    given = Path(obj.get("repo", ".")) / path
    return str(given.resolve()) if model_name(ctx) and not Path(path).is_absolute() and given.exists() else path


def _model_of_reference(root: str, target: str | None, reference: str | None) -> tuple[str, str | None, str | None]:
    """(project, target, reference) of `monitor diff`: a registry reference to a model (``churn#prod``)
    picks that model's folder when no model is chosen; a target path stays relative to where it was."""
    from pathlib import Path

    from gitmlops.adapters.git_repo import open_repo
    from gitmlops.errors import NotAGitRepoError
    from gitmlops.models import current_model, model_of_ref

    try:
        git = open_repo(root)
    except NotAGitRepoError:  # plain profiles compared outside any git work tree: no models there
        return root, target, reference
    model = model_of_ref(git, reference) if reference and current_model(git) is None else None
    if model is None:
        return root, target, reference
    if target and (Path(root) / target).exists():
        target = str((Path(root) / target).resolve())
    return str(model.path), target, reference


@click.group()
def monitor() -> None:
    """Data profiles (whylogs) committed to git, drift reports, constraints, a git diff driver."""


@monitor.command("profile")
@click.argument("path")
@click.option("--name", "name", metavar="DATASET", help="Dataset name (default: the file name).")
@click.option("--chunk-size", type=click.IntRange(min=1), help="Rows per chunk (default: monitor.chunk_size).")
@click.option("--segment", metavar="COLUMN", help="Write one profile per value of COLUMN.")
@click.option("--jobs", "-j", type=click.IntRange(min=0), help="Worker processes (0: one per core).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar (there is none when stderr is not a terminal).")
@json_option
@click.pass_context
def profile_cmd(ctx: click.Context, path: str, name: str | None, chunk_size: int | None, segment: str | None,
                jobs: int | None, quiet: bool, as_json: bool) -> None:
    """Profile a CSV/Parquet file or folder into monitoring/<DATASET>/<UTC timestamp>.bin (+ .json)."""
    from gitmlops.cli.progress import bar
    from gitmlops.monitor import profile

    with bar(f"profiling {path}", "chunk", quiet or as_json) as advance:
        result = profile(_root(ctx), _here(ctx, path), name=name, chunk_size=chunk_size, segment=segment,
                         jobs=jobs, progress=advance)

    def render(r: Any) -> str:
        lines = [f"profiled {r.rows} rows of {r.source} in {r.chunks} chunk(s), {r.jobs} worker(s), {r.seconds:.1f}s"]
        lines += [f"  wrote {p.path} and {p.summary} ({p.columns} columns, {p.rows} rows)" for p in r.profiles]
        return "\n".join(lines)

    emit(result, as_json, render)


@monitor.command("show")
@click.argument("path", shell_complete=complete.datasets)
@json_option
@click.pass_context
def show_cmd(ctx: click.Context, path: str, as_json: bool) -> None:
    """Summary table of one profile (a .bin, a dataset name, or a data file profiled on the fly)."""
    from gitmlops.monitor import show
    from gitmlops.monitor.summary import SUMMARY_HEADERS, summary_rows

    summary = show(_root(ctx), path)

    def render(s: dict[str, Any]) -> str:
        head = s["profile"]
        return f"{head['source']}: {head['rows']} rows, {head['columns']} columns\n" + table(
            SUMMARY_HEADERS, summary_rows(s)
        )

    emit(summary, as_json, render)


@monitor.command("diff")
@click.option("--reference", "-r", metavar="REF|PATH", shell_complete=complete.refs,
              help="model#stage, model@version, a profile, a dataset name or data (default: paths.reference_profile).")
@click.option("--target", "-t", metavar="PATH|DATASET", shell_complete=complete.datasets, help="A profile, a data file (profiled now) or a dataset name.")
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json", "html"]),
              help="text (a terminal table), md (Markdown for PR comments), json or html. "
                   "Default: text on a terminal, md when piped or with --output.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write the report to FILE.")
@click.option("--fail-on", type=click.Choice(["drift", "possible", "never"]), default="never", show_default=True,
              help="Exit 1 when the dataset verdict is drift (or, with 'possible', any flagged column).")
@json_option
@click.pass_context
def diff_cmd(ctx: click.Context, reference: str | None, target: str | None, fmt: str | None, output: str | None,
             fail_on: str, as_json: bool) -> None:
    """Drift between a reference and a target profile, per column, with a dataset verdict."""
    import sys

    from gitmlops.cli.output import to_jsonable
    from gitmlops.monitor import compare, render_html, render_markdown

    if as_json and fmt not in (None, "json"):
        raise click.UsageError(f"--json and --format {fmt} ask for two outputs: give one")
    report = compare(*_model_of_reference(_root(ctx), target and _here(ctx, target), reference))
    if as_json:
        fmt = "json"
    elif fmt is None:
        fmt = "text" if output is None and sys.stdout.isatty() else "md"
    if fmt == "text":
        text = render_terminal(report) + "\n"
    elif fmt == "json":
        import json

        text = json.dumps(to_jsonable(report), indent=2) + "\n"
    elif fmt == "html":
        text = render_html(report)
    else:
        text = render_markdown(report)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output} (verdict: {report.verdict})", err=fmt == "json")
    else:
        click.echo(text, nl=False)
    if report.fails(fail_on):
        raise CheckFailed(
            f"drift check failed: verdict {report.verdict}, {report.drifted} of {report.compared} columns drifted",
            "inspect the report; adjust monitor.drift thresholds only if the change is expected",
        )


def render_terminal(report: Any) -> str:
    """The drift report for a terminal: a verdict line and a table fitted to the width, no Markdown."""
    from gitmlops.cli.output import fit

    labels = {"drift": "DRIFT", "possible_drift": "possible", "no_drift": "no drift"}
    head = [
        f"{report.reference} -> {report.target}: {labels.get(report.verdict, report.verdict)} "
        f"({report.drifted} of {report.compared} columns drifted, {report.possible} possibly)",
    ]
    if report.removed:
        head.append(f"missing from the target: {', '.join(report.removed)}")
    if report.added:
        head.append(f"new in the target: {', '.join(report.added)}")
    def nulls(c: Any) -> str:
        ref, now = c.reference_null_fraction, c.target_null_fraction
        return "-" if ref is None and now is None else f"{ref or 0:.3g} -> {now or 0:.3g}"

    rows = [
        [c.column, "skipped" if c.rule == "skipped" else labels.get(c.category, c.category),
         f"{c.effect_size} {c.effect:.3g}" if c.effect_size and c.effect is not None else "-",
         c.hellinger, nulls(c), f"{c.reference_rows} -> {c.target_rows}"]
        for c in report.columns
    ]
    return fit("\n".join(head)) + "\n" + table(
        ["column", "result", "effect", "hellinger", "nulls", "rows"], rows)


@monitor.command("check")
@click.argument("path")
@json_option
@click.pass_context
def check_cmd(ctx: click.Context, path: str, as_json: bool) -> None:
    """Check data (or a .bin profile) against data.constraints of the config; exit 1 on failure."""
    from gitmlops.monitor import check

    result = check(_root(ctx), _here(ctx, path))

    def render(r: Any) -> str:
        if not r.checked:
            return f"{r.source}: no constraints configured (data.constraints is empty)"
        rows = [[x.column, x.constraint, "ok" if x.passed else "FAILED", x.expected, x.observed] for x in r.results]
        head = f"{r.source}: {r.checked - r.failed} of {r.checked} constraints passed"
        return head + "\n" + table(["column", "constraint", "result", "expected", "observed"], rows)

    emit(result, as_json, render)
    if not result.passed:
        failed = ", ".join(f"{r.column} ({r.constraint})" for r in result.results if not r.passed)
        raise CheckFailed(f"{result.failed} constraint(s) failed: {failed}",
                          "fix the data, or change data.constraints in conf/data/ if the rule is wrong")


@monitor.command("textconv")
@click.argument("file", type=click.Path(dir_okay=False))
def textconv_cmd(file: str) -> None:
    """Print a profile as text (the git diff driver for monitoring/**/*.bin)."""
    from gitmlops.monitor.textconv import textconv

    click.echo(textconv(file), nl=False)


@monitor.command("collect")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--name", "name", required=True, metavar="DATASET", help="Dataset to file the merged profile under.")
@click.option("--commit", is_flag=True, help="Commit the merged profile and its summary.")
@click.option("--remove", is_flag=True, help="Delete the merged input profiles afterwards.")
@json_option
@click.pass_context
def collect_cmd(ctx: click.Context, directory: str, name: str, commit: bool, remove: bool, as_json: bool) -> None:
    """Merge the profiles a server wrote into one profile for the window."""
    from gitmlops.monitor import collect

    result = collect(_root(ctx), _here(ctx, directory), name, commit=commit, remove=remove)

    def render(r: Any) -> str:
        text = f"merged {r.merged} profiles ({r.rows} rows) into {r.path} and {r.summary}"
        return text + (f"\ncommitted {r.commit[:12]}" if r.commit else "")

    emit(result, as_json, render)

