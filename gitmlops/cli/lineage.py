"""`gitmlops verify`, `gitmlops lineage` and `gitmlops status`."""

from __future__ import annotations

from typing import Any

import click

from gitmlops.cli import completion as complete
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
@click.argument("ref", shell_complete=complete.refs)
@click.option("--keep", is_flag=True, help="Keep the temporary work tree and print its path.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Parallel transfers when pulling data.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar (there is none when stderr is not a terminal).")
@json_option
@click.pass_context
def verify(ctx: click.Context, ref: str, keep: bool, jobs: int | None, quiet: bool, as_json: bool) -> None:
    """Rebuild model REF (model#prod, model@v1.2.0) from its commit and compare it byte for byte.

    Exit 0 when the registered artifact reproduces exactly, 1 when anything differs.
    """
    from gitmlops.cli.progress import bar
    from gitmlops.lineage.reproduce import verify as do_verify

    with bar(f"verifying {ref}", "step", quiet or as_json) as advance:
        report = do_verify(repo_path(ctx), ref, keep=keep, jobs=jobs, progress=advance)
    emit(report, as_json, render_verify)
    if not report.reproduced:
        first = report.problems[0].message if report.problems else "the reproduced md5 differs"
        raise CheckFailed(
            f"{report.name}@{report.version} does not reproduce: {first}",
            "see the report above; `--keep` leaves the rebuilt work tree for inspection",
        )


def render_lineage(found: Any) -> str:
    """The text form of a Lineage."""
    code = found.code
    lines = [
        f"{found.name}@{found.version}  tag {found.tag}",
        f"code      {found.commit[:12]} {code['date'][:19]} {code['author']}: {code['subject']}",
        f"artifact  {found.artifact['path']} md5 {_short(found.artifact['md5'])}",
        "",
        "data inputs:",
    ]
    for item in found.data:
        lines.append(f"  {item.path}  md5 {_short(item.md5)}  ({item.tracked_by})")
        lines.extend(f"    {c['commit'][:8]} {c['date'][:10]} {c['author']}: {c['subject']}" for c in item.commits)
    lines.append("")
    lines.append(f"params hash {_short(found.params_hash)}; vs previous version "
                 + (found.previous_version or "(none: first version)"))
    lines.extend(f"  {c.key}: {format_value(c.previous)} -> {format_value(c.current)}" for c in found.params_changed)
    if found.metrics:
        lines.append("metrics: " + ", ".join(f"{k}={format_value(v)}" for k, v in sorted(found.metrics.items())))
    lines.append("")
    lines.append(table(["event", "stage", "#", "created", "author", "tag"],
                       [(e["event"], e["stage"], e["counter"], e["created_at"], e["author"], e["tag"])
                        for e in found.events]))
    if found.reference_profile:
        lines.append("")
        lines.append(f"reference profile {found.reference_profile['path']} md5 "
                     f"{_short(found.reference_profile['md5'])}")
    if found.production is not None:
        p = found.production
        verdict = p.verdict or "unknown"
        detail = f" ({p.drifted}/{p.compared} columns drifted)" if p.compared is not None else ""
        lines.append(f"production profile {p.profile} ({p.rows} rows): {verdict}{detail}"
                     + (f"; {p.note}" if p.note else ""))
    else:
        lines.append("production profile: none under the monitoring folder")
    return "\n".join(lines)


@click.command()
@click.argument("ref", shell_complete=complete.refs)
@click.option("--dataset", help="Compare the newest profile of this dataset (default: newest of any).")
@click.option("--no-drift", is_flag=True, help="Skip the drift verdict (no DVC or whylogs import).")
@json_option
@click.pass_context
def lineage(ctx: click.Context, ref: str, dataset: str | None, no_drift: bool, as_json: bool) -> None:
    """Show the data, params, code, events and drift behind model version REF."""
    from gitmlops.lineage.trace import lineage as do_lineage

    emit(do_lineage(repo_path(ctx), ref, dataset=dataset, drift=not no_drift), as_json, render_lineage)


def render_models_status(found: Any) -> str:
    """The text form of the Status of a several-model repository: one row per model."""
    def drift(model: Any) -> str:
        return ", ".join(f"{d.dataset}: {d.verdict or d.note}" for d in model.drift) or "-"

    def verify(model: Any) -> str:
        if not model.verify:
            return "-"
        return f"{model.verify['version']} " + ("reproduced" if model.verify["reproduced"] else "NOT reproduced")

    def pipeline(model: Any) -> str:
        if model.pipeline["up_to_date"]:
            return "up to date"
        stale = [s["name"] for s in model.pipeline["stages"] if s["changes"]]
        return "STALE" + (f" ({', '.join(stale)})" if stale else "")

    lines = [table(["model", "latest", *(f"#{s}" for s in found.stages), "pipeline", "drift", "verify"],
                   [[m.name, m.latest, *(m.stages.get(s) for s in found.stages), pipeline(m), drift(m), verify(m)]
                    for m in found.models])]
    if not found.pipeline["up_to_date"]:
        lines.append("stale: `gitmlops run` runs what changed for every model")
    for m in found.models:
        if m.pipeline["config_error"]:
            lines.append(f"  {m.name} conf/: {m.pipeline['config_error']}")
        lines.extend(f"  {name} differs from conf/ (`gitmlops --model {m.name} pipeline sync`)"
                     for name in m.pipeline["stale_files"])
    if found.data:
        pushed = {None: "not checked (--remote)", True: "all pushed", False: "NOT all pushed (`gitmlops data push`)"}
        lines.append(f"data: {pushed[found.pushed]}")
        for item in found.data:
            if item.state != "unchanged" or item.in_remote is False:
                lines.append(f"  {item.path}: {item.state}" + (", not in remote" if item.in_remote is False else ""))
    return "\n".join(lines)


def render_status(found: Any) -> str:
    """The text form of a Status."""
    if found.models:
        return render_models_status(found)
    lines = []
    if found.artifacts:
        lines.append(table(["artifact", "latest", *(f"#{s}" for s in found.stages)],
                           [[a["name"] + (" (deprecated)" if a["deprecated"] else ""), a["latest"],
                             *(a["stages"].get(s) for s in found.stages)] for a in found.artifacts]))
    else:
        lines.append("registry: no artifacts registered yet (`gitmlops registry register NAME`)")
    lines.append("")
    pipeline = found.pipeline
    if pipeline["up_to_date"]:
        lines.append("pipeline: up to date")
    else:
        lines.append("pipeline: STALE (`gitmlops run`)")
        if pipeline["config_error"]:
            lines.append(f"  conf/: {pipeline['config_error']}")
        lines.extend(f"  {name} differs from conf/ (`gitmlops pipeline sync`)" for name in pipeline["stale_files"])
        lines.extend(f"  {s['name']}: {', '.join(s['changes'])}" for s in pipeline["stages"] if s["changes"])
    if found.data:
        pushed = {None: "not checked (--remote)", True: "all pushed", False: "NOT all pushed (`gitmlops data push`)"}
        lines.append(f"data: {pushed[found.pushed]}")
        for item in found.data:
            if item.state != "unchanged" or item.in_remote is False:
                lines.append(f"  {item.path}: {item.state}" + (", not in remote" if item.in_remote is False else ""))
    if found.drift:
        lines.append("")
        lines.append(table(["dataset", "newest profile", "rows", "drift"],
                           [(d.dataset, d.profile, d.rows, d.verdict or d.note) for d in found.drift]))
    return "\n".join(lines)


@click.command()
@click.option("--remote", is_flag=True, help="Also check that data and outputs are in the DVC remote (imports DVC).")
@json_option
@click.pass_context
def status(ctx: click.Context, remote: bool, as_json: bool) -> None:
    """One screen: artifacts and stages, pipeline staleness, data, newest drift per dataset."""
    from gitmlops.lineage.overview import status as do_status

    emit(do_status(repo_path(ctx), remote=remote), as_json, render_status)
