"""`gitmlops exp show|diff|apply`: compare DVC experiments (tables, JSON or Markdown for PR comments)
and keep one (its overrides written into conf/)."""

from __future__ import annotations

from typing import Any

import click

from gitmlops.cli import repo_path
from gitmlops.cli.output import emit, format_value, json_option, print_json, table


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
    func = click.option("--md", "md", is_flag=True, help="Markdown (fit for a pull-request comment).")(func)
    func = click.option("--json", "as_json", is_flag=True, help="JSON.")(func)
    return func


def _format(md: bool, as_json: bool) -> str | None:
    """The one output asked for; `--md` with `--json` is refused instead of keeping the last."""
    if md and as_json:
        raise click.UsageError("--md and --json ask for two outputs: give one")
    return "json" if as_json else "md" if md else None


@click.group()
def exp() -> None:
    """Compare DVC experiments (show, diff) and keep one (apply)."""


@exp.command()
@_format_option
@click.pass_context
def show(ctx: click.Context, md: bool, as_json: bool) -> None:
    """Show HEAD and its experiments: metrics and the params that differ."""
    fmt = _format(md, as_json)
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
def diff(ctx: click.Context, a: str | None, b: str | None, md: bool, as_json: bool) -> None:
    """Params and metrics that differ: A vs B, A vs the work tree, or HEAD vs the work tree."""
    fmt = _format(md, as_json)
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


@exp.command()
@click.argument("name")
@json_option
@click.pass_context
def apply(ctx: click.Context, name: str, as_json: bool) -> None:
    """Bring experiment NAME into the work tree and write its overrides into conf/.

    Like `dvc exp apply` (params.yaml, dvc.lock and outputs), and the experiment's parameters are
    written into the files under conf/ that define them, so the next plain `gitmlops run` reproduces
    it. Commit the result to keep it.
    """
    from gitmlops.pipeline.keep import apply as do_apply

    kept = do_apply(repo_path(ctx), name)
    emit(kept, as_json, lambda k: (
        f"applied {k.experiment} ({k.rev[:7]}): {' '.join(k.overrides) or 'no parameter changes'}"
        + (f"\nwrote {', '.join(k.written)}" if k.written else "")
        + "\ncommit it: git add -A && git commit"
    ))
