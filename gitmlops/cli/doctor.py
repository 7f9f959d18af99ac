"""`gitmlops doctor`: versions, the git identity, the DVC remote and what the workflows need."""

from __future__ import annotations

from typing import Any

import click

from gitmlops.cli import repo_path
from gitmlops.cli.output import emit, json_option, table


@click.command()
@click.option("--no-remote", is_flag=True, help="Do not contact the DVC remotes.")
@json_option
@click.pass_context
def doctor(ctx: click.Context, no_remote: bool, as_json: bool) -> None:
    """Check this machine and project: versions, git identity, DVC remotes, workflows' needs.

    Exits 1 when a check fails (a remote that does not answer, no git identity, a missing engine).
    """
    from gitmlops.doctor import diagnose
    from gitmlops.errors import CheckFailed

    report = diagnose(repo_path(ctx), remote=not no_remote)

    def render(r: Any) -> str:
        lines = [f"gitmlops {r.gitmlops} on Python {r.python} ({r.platform})", ""]
        lines.append(table(["package", "version"], [(k, v or "not installed") for k, v in r.versions.items()]))
        lines += ["", table(["check", "status", "found"], [(c.name, c.status, c.detail) for c in r.checks])]
        hints = [f"  {c.name}: {c.hint}" for c in r.checks if c.hint and c.status != "ok"]
        if hints:
            lines += ["", "to do:", *hints]
        if r.workflows:
            lines += ["", table(["workflow", "secrets it needs"],
                                [(name, ", ".join(s) or "-") for name, s in r.workflows.items()])]
        return "\n".join(lines)

    emit(report, as_json, render)
    if report.failed:
        raise CheckFailed(f"{len(report.failed)} check(s) failed: {', '.join(c.name for c in report.failed)}",
                          "see the 'to do' lines above (or the hint fields of --json)")
