"""`gitmlops demo`."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from typing import Any

import click

from gitmlops.cli.output import print_json


@click.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), help="Run in DIR (new or empty; kept).")
@click.option("--keep", is_flag=True, help="Keep the temporary project folder (always kept with --dir).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--models", "several", is_flag=True,
              help="Show several models in one repository instead (churn, plan and revenue sharing one table).")
def demo(directory: str | None, keep: bool, as_json: bool, several: bool) -> None:
    """Run the whole loop on the bundled example in a fresh git repo.

    data add -> run -> sweep of 3 configs -> register the best -> promote to prod -> serve and
    predict over HTTP -> profile a normal and a drifted production batch -> drift reports -> PR
    report -> verify the prod model reproduces. Ends with a summary.
    """
    from gitmlops.demo import run_demo

    started: dict[int, float] = {}

    def on_step(number: int, total: int, title: str, event: str) -> None:
        if as_json:
            return
        if event == "start":
            started[number] = time.perf_counter()
            click.secho(f"[{number}/{total}] {title}", fg="cyan", err=True)
        else:
            click.secho(f"      done in {time.perf_counter() - started[number]:.1f}s", fg="green", err=True)

    workdir = directory or tempfile.mkdtemp(prefix="gitmlops-demo-")
    if several:
        _models_demo(workdir, directory, keep, as_json, on_step)
        return
    try:
        result = run_demo(workdir, on_step)
    finally:
        if directory is None and not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if as_json:
        print_json(result)
        return
    kept = directory is not None or keep
    rows = [
        ("model in prod", result.model + f" (best experiment {result.best_experiment})"),
        ("metrics", ", ".join(f"{k}={v}" for k, v in result.metrics.items() if k != "rows")),
        ("endpoint answer", json.dumps(result.prediction, sort_keys=True)[:160]),
        *((f"drift ({batch} batch)", verdict) for batch, verdict in result.drift.items()),
        ("verify model#prod", "reproduces byte for byte" if result.verified else "DOES NOT REPRODUCE"),
        ("project", result.directory if kept else f"{result.directory} (removed; use --keep or --dir)"),
        *((name, path) for name, path in result.files.items() if kept),
        ("time", f"{result.seconds:.0f}s"),
    ]
    width = max(len(name) for name, _ in rows)
    click.echo("\n".join(f"{name.ljust(width)}  {value}" for name, value in rows))


def _models_demo(workdir: str, directory: str | None, keep: bool, as_json: bool, on_step: Any) -> None:
    """`gitmlops demo --models` and its summary."""
    from gitmlops.cli.output import table
    from gitmlops.demo_models import run_models_demo

    try:
        result = run_models_demo(workdir, on_step)
    finally:
        if directory is None and not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if as_json:
        print_json(result)
        return
    rows = [[name, m["version"], (m.get("stages") or {}).get("prod") or "-", m.get("pipeline", "-"),
             ", ".join(f"{k}={v:.4g}" for k, v in m["metrics"].items() if k not in ("rows", "unseen_category_rows"))]
            for name, m in result.models.items()]
    click.echo(table(["model", "version", "#prod", "pipeline", "metrics"], rows))
    kept = directory is not None or keep
    click.echo("\n".join([
        f"churn#prod answered  {json.dumps(result.prediction, sort_keys=True)[:120]}",
        f"drift (churn)        {result.drift}",
        f"verify revenue#prod  {'reproduces byte for byte' if result.verified else 'DOES NOT REPRODUCE'}",
        f"project              {result.directory if kept else result.directory + ' (removed; use --keep or --dir)'}",
        f"time                 {result.seconds:.0f}s",
    ]))
