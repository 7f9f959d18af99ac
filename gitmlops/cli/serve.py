"""`gitmlops serve` and `gitmlops deploy bundle` (docs/serving.md)."""

from __future__ import annotations

import os
from typing import Any

import click

from gitmlops.cli import completion as complete
from gitmlops.cli.output import emit, json_option
from gitmlops.errors import UsageError


def _api_key(var: str | None) -> str | None:
    if not var:
        return None
    key = os.environ.get(var)
    if not key:
        raise UsageError(
            f"--api-key-env {var}: that environment variable is unset or empty",
            f"export {var}=<secret> before starting the server",
        )
    return key


CONFIG_KEYS = ("engine", "host", "port", "workers", "max_batch_size", "batch_timeout", "max_rows", "max_body_bytes")


def _apply_config_defaults(ctx: click.Context, opts: dict[str, Any]) -> None:
    """Options not given on the command line come from the project's `serve` config group."""
    from gitmlops.adapters.git_repo import open_repo
    from gitmlops.cli import repo_path
    from gitmlops.config import load_params
    from gitmlops.errors import NotAGitRepoError

    try:
        root = open_repo(repo_path(ctx)).root  # -C may name a subfolder; REF may be a bundle elsewhere
    except NotAGitRepoError:
        return
    if not (root / "params.yaml").is_file():
        return
    serve_conf = load_params(root).get("serve") or {}
    for key in CONFIG_KEYS:
        if key in serve_conf and ctx.get_parameter_source(key) == click.core.ParameterSource.DEFAULT:
            opts[key] = type(opts[key])(serve_conf[key])


@click.command("serve")
@click.argument("refs", nargs=-1, required=True, metavar="REF...", shell_complete=complete.refs)
@click.option("--engine", type=click.Choice(["fast", "litserve"]), default="fast", show_default=True,
              help="fast: gitmlops' own HTTP and worker processes; litserve: a stock LitServer.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind: 127.0.0.1, 0.0.0.0 or ::.")
@click.option("--port", type=click.IntRange(1024, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Inference worker processes (and as many HTTP server processes).")
@click.option("--max-batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Most requests one model call takes.")
@click.option("--batch-timeout", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Seconds a worker waits for a batch to fill (0: take what is queued).")
@click.option("--max-rows", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Most records per request (more: 413).")
@click.option("--max-body-bytes", type=click.IntRange(min=1024), default=10 * 1024 * 1024, show_default=True,
              help="Largest request body (larger: 413).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds a request may wait for the model (then 504).")
@click.option("--body-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds a client may take to send the request body (then 408).")
@click.option("--max-header-bytes", type=click.IntRange(min=1024), default=32 * 1024, show_default=True,
              help="Largest request line plus headers (larger: 431).")
@click.option("--header-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds a client may take to send the request line and headers (then 408).")
@click.option("--api-key-env", metavar="VAR",
              help="Require the key held by environment variable VAR on every route but /health.")
@click.option("--profile-dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Write whylogs profiles of requests and predictions into DIR.")
@click.option("--profile-rows", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Write a profile every N rows ...")
@click.option("--profile-seconds", type=click.FloatRange(min=0.05), default=60.0, show_default=True,
              help="... or every T seconds, whichever comes first.")
@click.pass_context
def serve(ctx: click.Context, refs: tuple[str, ...], **opts: Any) -> None:
    """Serve each REF over HTTP (a LitServe LitAPI): NAME#STAGE, NAME@vX.Y.Z, NAME@latest or a bundle folder.

    POST /models/NAME/predict {"records": [{...}]} (or dataframe_split, or text/csv), also
    POST /predict when one model is served; GET /health, /info, /models/NAME/info, /metrics,
    /openapi.json, /docs. Each model batches in its own workers. Ctrl-C stops it. Options not
    given here come from the project's `serve` config group (params.yaml), then the defaults shown.
    """
    import tempfile

    from gitmlops.cli import repo_path
    from gitmlops.serve import prepare
    from gitmlops.serve import serve as run_server
    from gitmlops.serve.server import ServeOptions

    _apply_config_defaults(ctx, opts)
    options = ServeOptions(api_key=_api_key(opts.pop("api_key_env")), **opts)
    with tempfile.TemporaryDirectory(prefix="gitmlops-serve-") as workdir:
        from pathlib import Path

        bundles = prepare(repo_path(ctx), refs, options, Path(workdir) / "model")
        auth = ", API key required" if options.api_key else ""
        url = f"http://{options.host}:{options.port}"
        if len(bundles) == 1:
            bundle = bundles[0]
            click.echo(
                f"serving {bundle.info.label} (md5 {bundle.info.md5}) at {url}"
                f" with {options.workers} worker(s) ({options.engine} engine){auth}; Ctrl-C stops"
            )
        else:
            from gitmlops.serve.served import served_name

            click.echo(f"serving {len(bundles)} models at {url} with {options.workers} worker(s) each"
                       f" ({options.engine} engine){auth}; Ctrl-C stops")
            for bundle in bundles:
                click.echo(f"  POST {url}/models/{served_name(bundle.info.name)}/predict: {bundle.info.label}"
                           f" (md5 {bundle.info.md5})")
        run_server(bundles, options)


@click.group("deploy")
def deploy() -> None:
    """Build deployable bundles of registered models."""


def _render_bundle(result: Any) -> str:
    if len(result.models) == 1:
        return f"bundle of {result.model} (md5 {result.md5}) written to {result.path}: {len(result.files)} files"
    lines = [f"bundle of {len(result.models)} models written to {result.path}: {len(result.files)} files"]
    lines += [f"  /models/{m.name}/predict: {m.model} (md5 {m.md5})" for m in result.models]
    return "\n".join(lines)


@deploy.command("bundle")
@click.argument("refs", nargs=-1, required=True, metavar="REF...", shell_complete=complete.refs)
@click.option("-o", "--output", required=True, type=click.Path(), metavar="DIR", help="Folder to write.")
@click.option("--force", is_flag=True, help="Replace DIR if it exists.")
@click.option("--engine", type=click.Choice(["fast", "litserve"]), default="fast", show_default=True,
              help="The image's serving engine (GITMLOPS_ENGINE; `docker run -e` overrides it).")
@json_option
@click.pass_context
def bundle(ctx: click.Context, refs: tuple[str, ...], output: str, force: bool, engine: str, as_json: bool) -> None:
    """Write a self-contained serving folder for each REF (several: one server for all): models, schemas,
    app, pinned requirements, Dockerfile."""
    from gitmlops.cli import repo_path
    from gitmlops.serve.bundle import build_bundle

    emit(build_bundle(repo_path(ctx), list(refs), output, force=force, engine=engine), as_json, _render_bundle)
