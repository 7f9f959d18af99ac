"""The command line: a thin click layer over the library.

Subcommands live in one module per pillar and are imported only when used, so ``gitmlops --help``
imports nothing but click. Errors are mapped to exit codes here and nowhere else.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any

import click

from gitmlops import __version__
from gitmlops.errors import (
    EXIT_CODES,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    GitMLOpsError,
)

# name -> (module, attribute, one-line help). The help is here so that `--help` lists commands
# without importing their modules.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("gitmlops.cli.project", "init", "Set up gitmlops (DVC, conf/, workflows) in a git repo."),
    "data": ("gitmlops.cli.data", "data", "Version data with DVC: add, status, push, pull."),
    "remote": ("gitmlops.cli.remote", "remote", "DVC remotes for the team: add (S3, MinIO...), list, remove."),
    "pipeline": ("gitmlops.cli.pipeline", "pipeline", "Render dvc.yaml from conf/ and inspect it."),
    "run": ("gitmlops.cli.pipeline", "run", "Compose the config and run the pipeline (or a sweep)."),
    "exp": ("gitmlops.cli.experiments", "exp", "Compare DVC experiments: show, diff."),
    "registry": ("gitmlops.cli.registry", "registry", "Model registry on git tags (GTO-compatible)."),
    "monitor": ("gitmlops.cli.monitor", "monitor", "Data profiles in git, drift and constraints."),
    "serve": ("gitmlops.cli.serve", "serve", "Serve a registered model over HTTP (LitServe)."),
    "deploy": ("gitmlops.cli.serve", "deploy", "Build deployable bundles of registered models."),
    "report": ("gitmlops.cli.bots", "report", "Write the pull-request report (params, metrics, data, drift)."),
    "comment": ("gitmlops.cli.bots", "comment", "Post or update a sticky comment on GitHub."),
    "verify": ("gitmlops.cli.lineage", "verify", "Prove a registered model rebuilds byte for byte."),
    "lineage": ("gitmlops.cli.lineage", "lineage", "Show the data, params, code and events behind a model."),
    "status": ("gitmlops.cli.lineage", "status", "One screen: artifacts, stages, staleness, drift."),
    "site": ("gitmlops.cli.site", "site", "Build a static site of models, experiments, plots and drift."),
    "demo": ("gitmlops.cli.demo", "demo", "Run the whole loop on the bundled example."),
    "doctor": ("gitmlops.cli.doctor", "doctor", "Check versions, git identity, DVC remotes and workflows' needs."),
    "completion": ("gitmlops.cli.completion", "completion", "Print the shell completion script (bash, zsh, fish)."),
}


def _available(name: str) -> bool:
    module = COMMANDS[name][0]
    return importlib.util.find_spec(module) is not None


#: Commands that act on the repository as a whole: no per-command `--model`.
NO_MODEL_OPTION = {"completion", "doctor", "remote", "comment", "demo"}


def _store_model(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        root = ctx.find_root()
        root.ensure_object(dict)
        root.obj["model"] = value


def add_model_option(command: click.Command) -> None:
    """Give ``command`` (and every subcommand of a group) a `--model NAME` option, once."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_model_option(sub)
        return
    if any(p.name == "model_name" for p in command.params):
        return
    command.params.append(click.Option(
        ["--model", "model_name"], metavar="NAME", expose_value=False, callback=_store_model, is_eager=True,
        help="The model to act on, in a repository of several models (like the global --model).",
    ))


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if _available(n))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module, attr, _ = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attr, None)
        if command is not None and cmd_name not in NO_MODEL_OPTION:
            add_model_option(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


EPILOG = "Exit codes: " + "; ".join(f"{code} {text}" for code, text in EXIT_CODES.items()) + "."


@click.group(cls=LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "--repo",
    "repo",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Run as if gitmlops was started in PATH (like `git -C`).",
    metavar="PATH",
)
@click.option(
    "--model",
    "model",
    default=None,
    metavar="NAME",
    help="Act on model NAME of a repository of several models (gitmlops.yaml); also after the command.",
)
@click.option("--traceback", is_flag=True, hidden=True, help="Show the full traceback on errors.")
@click.option(
    "--no-color",
    "no_color",
    is_flag=True,
    help="Never colour the output (also when the NO_COLOR environment variable is set).",
)
@click.version_option(__version__, "--version", prog_name="gitmlops")
@click.pass_context
def cli(ctx: click.Context, repo: str, model: str | None, traceback: bool, no_color: bool) -> None:
    """gitmlops: data, pipelines, registry, serving and monitoring, with git as the source of truth."""
    ctx.ensure_object(dict)
    ctx.obj["repo"] = repo
    ctx.obj.setdefault("model", model)
    ctx.obj["traceback"] = traceback
    if no_color or not color_allowed():
        ctx.color = False  # inherited by every subcommand's context, so `click.secho` stays plain


def color_allowed(args: list[str] | None = None) -> bool:
    """False when the user asked for plain output: `--no-color` or a non-empty NO_COLOR (no-color.org)."""
    if os.environ.get("NO_COLOR", ""):
        return False
    return not (args and "--no-color" in args)


def prog_name(argv0: str | None = None) -> str:
    """`git mlops` when started by git as its `git-mlops` plugin, else `gitmlops`."""
    name = os.path.basename(argv0 if argv0 is not None else (sys.argv[0] if sys.argv else ""))
    return "git mlops" if name.startswith("git-mlops") else "gitmlops"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `gitmlops` and `git-mlops` console scripts."""
    args = list(sys.argv[1:] if argv is None else argv)
    show_traceback = "--traceback" in args or bool(os.environ.get("GITMLOPS_TRACEBACK"))
    sys.exit(run(args, show_traceback, prog=prog_name()))


def run(args: list[str], show_traceback: bool = False, prog: str = "gitmlops") -> int:
    """Run the CLI with ``args`` and return the exit code; the one place errors become codes."""
    color = None if color_allowed(args) else False
    try:
        rv = cli.main(args=args, prog_name=prog, standalone_mode=False)
    except GitMLOpsError as exc:
        if show_traceback:
            import traceback

            traceback.print_exc()
        click.secho(f"error: {exc.message}", fg="red", err=True, color=color)
        if exc.hint:
            click.echo(f"  hint: {exc.hint}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the one place that turns bugs into a clear message
        if show_traceback:
            import traceback

            traceback.print_exc()
        click.secho(f"error: unexpected {type(exc).__name__}: {exc}", fg="red", err=True, color=color)
        click.echo("  hint: rerun with --traceback and report it", err=True)
        return EXIT_INTERNAL
    return rv if isinstance(rv, int) else 0


def repo_path(ctx: click.Context) -> str:
    """The path a command acts on: -C (default: the current directory), or the folder of the model
    named by --model (relative to that repository)."""
    root = ctx.find_root()
    obj: dict[str, Any] = root.obj or {}
    path = obj.get("repo", ".")
    name = obj.get("model")
    if name:
        from gitmlops.models import find_model

        return str(find_model(top_of(path), name).path)
    return path


def model_name(ctx: click.Context) -> str | None:
    """The model named by --model, if any."""
    obj: dict[str, Any] = ctx.find_root().obj or {}
    return obj.get("model")


def top_of(path: str) -> str:
    """The work tree root of ``path`` (git's toplevel)."""
    from gitmlops.adapters.git_repo import open_repo

    return str(open_repo(path).root)
