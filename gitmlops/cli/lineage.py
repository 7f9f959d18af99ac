"""`gitmlops verify`, `gitmlops lineage` and `gitmlops status`."""

from __future__ import annotations

from typing import Any

import click

from gitmlops.cli import repo_path
from gitmlops.cli.output import emit, format_value, json_option, table
from gitmlops.errors import CheckFailed


def _short(md5: str | None) -> str:
    return md5[:12] if md5 else "-"


def render_verify(report: Any) -> str:
    """The text form of a VerifyReport."""
    lines = [f"verify {report.ref}: {report.name}@{report.version} (tag {report.tag}, commit {report.commit[:12]})"]
    lines.append(f"artifact {report.artifact}: registered {_short(report.registered_md5)}, dvc.lock "
                 f"{_short(report.lock_md5)}, reproduced {_short(report.reproduced_md5)}")
    lines.append("")
    lines.append(table(
        ["output", "stage", "expected", "actual", "status", "note"],
        [(o.path + (" *" if o.registered else ""), o.stage, _short(o.expected), _short(o.actual), o.status,
          o.note or "") for o in report.outputs],
    ))
    if report.inputs:
        lines.append("")
        lines.append("inputs: " + ", ".join(
            f"{i.path} ({i.source}" + ("" if i.in_remote is None else ", in remote" if i.in_remote else ", NOT in remote")
            + ")" for i in report.inputs))
    if report.stored:
        lines.append("stored copies: " + ", ".join(
            f"{c.where} " + ("missing" if not c.present else "ok" if c.match else f"CORRUPT ({_short(c.md5)})")
            for c in report.stored))
    if report.metrics:
        lines.append("")
        lines.append(table(["metric", "recorded", "reproduced", "match"],
                           [(m.name, m.recorded, m.reproduced, "yes" if m.match else "NO") for m in report.metrics]))
    phases = ", ".join(f"{k.replace('_', ' ')} {format_value(v)}s" for k, v in report.phases.items())
    lines.append("")
    lines.append(f"time: {format_value(report.seconds)}s ({phases})")
    if report.worktree:
        lines.append(f"work tree kept at {report.worktree} (remove it with `git worktree remove --force PATH`)")
    if report.reproduced:
        lines.append(f"REPRODUCED: {report.artifact} rebuilds byte for byte from {report.commit[:12]}")
    else:
        lines.append("NOT REPRODUCED:")
        lines.extend(f"  - [{p.kind}] {p.message}" for p in report.problems)
    return "\n".join(lines)


@click.command()
@click.argument("ref")
@click.option("--keep", is_flag=True, help="Keep the temporary work tree and print its path.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Parallel transfers when pulling data.")
@json_option
@click.pass_context
def verify(ctx: click.Context, ref: str, keep: bool, jobs: int | None, as_json: bool) -> None:
    """Rebuild model REF (model#prod, model@v1.2.0) from its commit and compare it byte for byte.

    Exit 0 when the registered artifact reproduces exactly, 1 when anything differs.
    """
    from gitmlops.lineage.reproduce import verify as do_verify

    report = do_verify(repo_path(ctx), ref, keep=keep, jobs=jobs)
    emit(report, as_json, render_verify)
    if not report.reproduced:
        first = report.problems[0].message if report.problems else "the reproduced md5 differs"
        raise CheckFailed(
            f"{report.name}@{report.version} does not reproduce: {first}",
            "see the report above; `--keep` leaves the rebuilt work tree for inspection",
        )
