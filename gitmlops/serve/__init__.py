"""Serving: LitServe endpoints for registry references or bundle folders (one model or several), and deploy bundles.

``prepare`` resolves and checks everything that can fail before the server starts (reference, md5,
schema, options, port); ``serve`` then blocks. Modules listed in ``bundle.RUNTIME_MODULES`` are the
serving runtime, copied into every deploy bundle: they import nothing from gitmlops outside this
package (errors cross over as ``model.BundleError``, turned into ``ServeError`` here).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gitmlops.errors import ServeError

if TYPE_CHECKING:
    from gitmlops.serve.model import Bundle
    from gitmlops.serve.server import ServeOptions


def prepare(
    repo: str, refs: str | Sequence[str], options: ServeOptions, workdir: Path | None = None
) -> list[Bundle]:
    """Check the options and the port, then fetch and check each model; returns the bundles to serve.

    Two references naming the same model (``churn#prod churn@v1.0.0``, or ``a:churn`` and
    ``b:churn``, which would both answer at /models/churn/predict) are refused before anything is fetched.
    """
    from gitmlops.serve.model import BundleError, load_booster
    from gitmlops.serve.served import check_names, served_models
    from gitmlops.serve.server import check_port
    from gitmlops.serve.source import open_bundles, ref_name, serve_error

    refs = [refs] if isinstance(refs, str) else list(refs)
    if not refs:
        raise ServeError("no model to serve", "pass one or more of NAME#STAGE, NAME@vX.Y.Z, NAME@latest or a folder")
    try:
        options.check()
        named = [(ref, name) for ref in refs if (name := ref_name(ref)) is not None]
        check_names([name for _, name in named], [ref for ref, _ in named])
        check_port(options.host, options.port)
    except BundleError as exc:
        raise serve_error(exc) from None
    bundles = []
    for i, ref in enumerate(refs):
        target = None if workdir is None else (workdir if len(refs) == 1 else workdir / f"model-{i}")
        bundles += open_bundles(repo, ref, target)
    try:
        served_models(bundles)  # folders, and registry names only known now
        for bundle in bundles:
            load_booster(bundle.model_file, bundle.info.md5)
    except BundleError as exc:
        raise serve_error(exc) from None
    return bundles


def serve(bundles: Bundle | Sequence[Bundle], options: ServeOptions) -> None:
    """Serve ``bundles`` (one or several models) until interrupted; blocks."""
    from gitmlops.serve.model import BundleError
    from gitmlops.serve.server import run
    from gitmlops.serve.source import serve_error

    try:
        run(bundles, options)
    except BundleError as exc:
        raise serve_error(exc) from None
