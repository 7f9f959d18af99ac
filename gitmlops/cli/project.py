"""`gitmlops init`."""

from __future__ import annotations

import click

from gitmlops.cli import model_name as global_model
from gitmlops.cli.output import emit, json_option


@click.command()
@click.option("--example", type=click.Choice(["churn", "models"]), is_flag=False, flag_value="churn", default=None,
              help="Add the bundled churn example (data + config) so `gitmlops run` works at once; "
                   "`--example models`: three models (binary, multi-class, regression) sharing its table.")
@click.option("--model", "model_name", metavar="NAME",
              help="Set up model NAME in a folder of its own (models/NAME), listed in gitmlops.yaml.")
@click.option("--dir", "folder", metavar="DIR", help="With --model: the model's folder (default models/NAME).")
@click.option("--force", is_flag=True, help="Overwrite files gitmlops writes even if they exist.")
@json_option
@click.pass_context
def init(ctx: click.Context, example: str | None, model_name: str | None, folder: str | None, force: bool,
         as_json: bool) -> None:
    """Set up gitmlops in a git repository.

    Runs `dvc init` if needed, turns DVC analytics off, configures a local DVC remote outside the
    work tree (in .dvc/config.local: per machine, never committed; a team remote is
    `gitmlops remote add URL`), writes the Hydra config tree conf/, params.yaml and dvc.yaml, the whylogs git diff
    driver and GitHub workflows. Existing files are kept unless --force. New files are staged in git.
    """
    from gitmlops.cli import top_of
    from gitmlops.errors import UsageError
    from gitmlops.project import init as do_init

    model_name = model_name or global_model(ctx)
    if folder and not model_name:
        raise UsageError("--dir names the folder of a model: give --model NAME too")
    if example == "models" and model_name:
        raise UsageError("--example models sets up the models churn, plan and revenue: leave out --model")
    obj = ctx.find_root().obj or {}
    result = do_init(top_of(obj.get("repo", ".")), example=example == "churn", force=force, model=model_name,
                     folder=folder, example_models=example == "models")

    def render(r: object) -> str:
        lines = [f"Initialised gitmlops in {result.root}"]
        lines += [f"  created      {p}" for p in result.created]
        lines += [f"  overwritten  {p}" for p in result.overwritten]
        if result.kept and not result.created:
            lines.append("  nothing to do: everything was already in place")
        if result.remote:
            lines.append(f"  DVC remote   {result.remote}")
        conf = f"{(folder or f'models/{model_name}').rstrip('/')}/conf/data/" if model_name else "conf/data/"
        lines.append("Next: " + ("`gitmlops run`" if example else
                                 f"`gitmlops data add PATH`, set data.path/data.target in {conf}, then `gitmlops run`"))
        return "\n".join(lines)

    emit(result, as_json, render)
