"""`gitmlops pipeline sync|show`, `gitmlops run`, `gitmlops exp show|diff`."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from gitmlops.cli import completion as complete
from gitmlops.cli import repo_path
from gitmlops.cli.output import emit, json_option, table


@click.group()
def pipeline() -> None:
    """Render dvc.yaml from conf/ and inspect it."""


@pipeline.command()
@click.argument("overrides", nargs=-1, shell_complete=complete.overrides)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if dvc.yaml or params.yaml is stale.")
@click.option("--force", is_flag=True, help="Replace a dvc.yaml that gitmlops did not generate.")
@json_option
@click.pass_context
def sync(ctx: click.Context, overrides: tuple[str, ...], check: bool, force: bool, as_json: bool) -> None:
    """Compose conf/ (with OVERRIDES) and write params.yaml and dvc.yaml."""
    from gitmlops.errors import CheckFailed
    from gitmlops.pipeline import sync as do_sync

    result = do_sync(repo_path(ctx), overrides, check=check, force=force)
    if as_json:
        emit({"check": check, "written": result.written, "stale": result.stale,
              "up_to_date": not (result.stale if check else result.written)}, True, str)
    if check:
        if result.stale:
            raise CheckFailed(
                f"{' and '.join(result.stale)} {'is' if len(result.stale) == 1 else 'are'} stale: not what conf/ composes to",
                "run `gitmlops pipeline sync` and commit the result",
            )
        if not as_json:
            click.echo("dvc.yaml and params.yaml are up to date")
        return
    if not as_json:
        click.echo("\n".join(f"wrote {p}" for p in result.written) or "dvc.yaml and params.yaml are up to date")


@pipeline.command()
@json_option
@click.pass_context
def show(ctx: click.Context, as_json: bool) -> None:
    """Show stages, their deps and outs, and which are stale."""
    from gitmlops.pipeline import show as do_show

    view = do_show(repo_path(ctx))

    def render(v: object) -> str:
        rows = [(s.name, "stale" if s.stale else "up to date", ", ".join(s.deps), ", ".join(s.outs + s.metrics)) for s in view.stages]
        text = table(["stage", "status", "deps", "outs"], rows)
        if not view.in_sync:
            text += f"\n{', '.join(view.stale_files)} differ from conf/: run `gitmlops pipeline sync`"
        return text

    emit(view, as_json, render)


class _Progress:
    """Prints one line per stage with its time; quiet when stdout is not a terminal and --quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.current: str | None = None
        self.started = 0.0

    def _finish(self) -> None:
        if self.current:
            click.secho(f"  done {self.current} ({time.perf_counter() - self.started:.1f}s)", fg="green", err=True)
            self.current = None

    def __call__(self, event: str, name: str, detail: str) -> None:
        if self.quiet:
            return
        if event in ("start", "cached", "skip"):
            self._finish()
        if event == "start":
            self.current, self.started = name, time.perf_counter()
            click.secho(f"> running stage {name}", fg="cyan", err=True)
        elif event == "cached":
            click.secho(f"> {name}: restored from the run cache", fg="cyan", err=True)
        elif event == "skip":
            click.echo(f"> {name}: up to date", err=True)
        elif event == "log" and detail:
            click.echo(f"  dvc: {detail}", err=True)

    def close(self) -> None:
        self._finish()


@click.command()
@click.argument("overrides", nargs=-1, shell_complete=complete.overrides)
@click.option("--force", is_flag=True, help="Run every stage even if nothing changed.")
@click.option("--stage", shell_complete=complete.pipeline_stages, help="Run only this stage (and what it needs).")
@click.option("--sweep", is_flag=True, help="Treat OVERRIDES as a grid (key=a,b,c) and run one DVC experiment per point.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True, help="Sweep: experiments run in parallel.")
@click.option("--save", is_flag=True, help="Write OVERRIDES into conf/ first, so a plain `gitmlops run` keeps them.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@json_option
@click.pass_context
def run(ctx: click.Context, overrides: tuple[str, ...], force: bool, stage: str | None, sweep: bool, jobs: int,
        save: bool, quiet: bool, as_json: bool) -> None:
    """Compose the config with OVERRIDES (Hydra syntax), sync dvc.yaml and reproduce with DVC.

    \b
    Examples:
      gitmlops run
      gitmlops run train.max_depth=6 model=xgb_large
      gitmlops run data.path=data/mine.csv data.target=label
      gitmlops run --save train.max_depth=6
      gitmlops run --sweep 'train.max_depth=3,5,7' 'train.eta=0.1,0.3' --jobs 2
    """
    from gitmlops.errors import UsageError

    progress = _Progress(quiet or as_json)
    if save and (sweep or not overrides):
        raise UsageError("--save keeps the OVERRIDES of one run: give some, and no --sweep",
                         "keep a sweep's best point with `gitmlops exp apply NAME`")
    if sweep:
        from gitmlops.pipeline.experiments import sweep as do_sweep

        if stage or force:
            raise UsageError("--stage and --force do not apply to --sweep")
        from gitmlops.cli.progress import bar

        with bar("experiments", "experiment", quiet or as_json) as advance:
            swept = do_sweep(repo_path(ctx), overrides, jobs=jobs, callback=progress, progress=advance)
        progress.close()
        from gitmlops.cli.experiments import render_experiments

        emit(swept, as_json, lambda r: f"ran {len(swept.points)} experiment(s)\n" + render_experiments(swept.experiments, "table"))
        return
    if save:
        from gitmlops.pipeline.keep import run_saved

        result = run_saved(repo_path(ctx), overrides, force=force, stage=stage, callback=progress)
        if not as_json:
            click.echo(f"kept {' '.join(overrides)} in {', '.join(result.saved)}", err=True)
    else:
        from gitmlops.adapters.git_repo import open_repo
        from gitmlops.models import current_model, is_multi

        git = open_repo(repo_path(ctx))
        if is_multi(git) and current_model(git) is None:
            if overrides or stage:
                raise UsageError("OVERRIDES and --stage apply to one model: pass --model NAME",
                                 "`gitmlops run` with no model runs what changed for every model")
            from gitmlops.pipeline.run import run_all

            every = run_all(git, force=force, callback=progress)
            progress.close()
            sys.stdout.flush()
            emit(every, as_json, render_models_run)
            return
        from gitmlops.pipeline import run as do_run

        result = do_run(git, overrides, force=force, stage=stage, callback=progress)
    progress.close()
    sys.stdout.flush()

    def render(r: object) -> str:
        lines = []
        if not result.ran:
            lines.append("nothing changed: all stages are up to date")
        if result.metrics:
            lines.append(table(["metric", "value"], sorted(result.metrics.items())))
        return "\n".join(lines)

    emit(result, as_json, render)



def render_models_run(every: Any) -> str:
    """One metrics table per model that ran (`gitmlops run` over every model)."""
    if not every.ran:
        return "nothing changed: every model's stages are up to date"
    lines = []
    for name in every.ran:
        result = every.models[name]
        lines.append(f"{name}: ran {', '.join(result.ran)}")
        if result.metrics:
            lines.append(table(["metric", "value"], sorted(result.metrics.items())))
    up = [name for name in every.models if name not in every.ran]
    if up:
        lines.append(f"up to date: {', '.join(up)}")
    return "\n".join(lines)
