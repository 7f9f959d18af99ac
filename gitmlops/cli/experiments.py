"""`gitmlops exp show|diff`: compare DVC experiments (tables, JSON or Markdown for PR comments)."""

from __future__ import annotations

from typing import Any

import click

from gitmlops.cli import repo_path
from gitmlops.cli.output import format_value, print_json, table


def _md_escape(text: str) -> str:
    from gitmlops.markdown import escape

    return escape(text)


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(_md_escape(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md_escape(format_value(c)) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_experiments(experiments: list[Any], fmt: str) -> str:
    """Experiments as a text or Markdown table: metrics, then the params that vary."""
    from gitmlops.pipeline.experiments import varying_params

    if not experiments:
        return "no experiments yet: `gitmlops run --sweep 'train.max_depth=3,5'`"
    metric_keys = sorted({k for e in experiments for k in e.metrics})
    param_keys = varying_params(experiments)
    headers = ["experiment", "rev", *metric_keys, *param_keys]
    rows = [
        [e.name + (" (baseline)" if e.baseline else ""), e.rev[:7], *(e.metrics.get(k) for k in metric_keys),
         *(e.params.get(k) for k in param_keys)]
        for e in experiments
    ]
    return _md_table(headers, rows) if fmt == "md" else table(headers, rows)


def _format_option(func: Any) -> Any:
    func = click.option("--md", "fmt", flag_value="md", help="Markdown (fit for a pull-request comment).")(func)
    func = click.option("--json", "fmt", flag_value="json", help="JSON.")(func)
    return func


@click.group()
def exp() -> None:
    """Compare DVC experiments: show, diff."""


@exp.command()
@_format_option
@click.pass_context
def show(ctx: click.Context, fmt: str | None) -> None:
    """Show HEAD and its experiments: metrics and the params that differ."""
    from gitmlops.pipeline.experiments import show as do_show

    experiments = do_show(repo_path(ctx))
    if fmt == "json":
        print_json(experiments)
    else:
        click.echo(render_experiments(experiments, fmt or "table"))


@exp.command()
@click.argument("a", required=False)
@click.argument("b", required=False)
@_format_option
@click.pass_context
def diff(ctx: click.Context, a: str | None, b: str | None, fmt: str | None) -> None:
    """Params and metrics that differ: A vs B, A vs the work tree, or HEAD vs the work tree."""
    from gitmlops.pipeline.experiments import diff as do_diff

    result = do_diff(repo_path(ctx), a, b)
    if fmt == "json":
        print_json(result)
        return
    parts = []
    for section in ("metrics", "params"):
        rows = [[r["key"], r["old"], r["new"], r["delta"]] for r in result[section]]
        if not rows:
            continue
        headers = [section[:-1], str(result["a"]), str(result["b"]), "change"]
        parts.append((f"**{section}**\n\n" + _md_table(headers, rows)) if fmt == "md" else table(headers, rows))
    click.echo("\n\n".join(parts) or "no differences")
