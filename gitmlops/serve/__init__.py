"""Serving: a LitServe endpoint for a registry reference or a bundle folder, and deploy bundles.

``prepare`` resolves and checks everything that can fail before the server starts (reference, md5,
schema, options, port); ``serve`` then blocks. Modules listed in ``bundle.RUNTIME_MODULES`` are the
serving runtime, copied into every deploy bundle: they import nothing from gitmlops outside this
package (errors cross over as ``model.BundleError``, turned into ``ServeError`` here).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitmlops.serve.model import Bundle
    from gitmlops.serve.server import ServeOptions


def prepare(repo: str, ref: str, options: ServeOptions, workdir: Path | None = None) -> Bundle:
    """Check the options and the port, then fetch and check the model; returns the bundle to serve."""
    from gitmlops.serve.model import BundleError, load_booster
    from gitmlops.serve.server import check_port
    from gitmlops.serve.source import open_bundle, serve_error

    try:
        options.check()
        check_port(options.host, options.port)
    except BundleError as exc:
        raise serve_error(exc) from None
    bundle = open_bundle(repo, ref, workdir)
    try:
        load_booster(bundle.model_file, bundle.info.md5)
    except BundleError as exc:
        raise serve_error(exc) from None
    return bundle


def serve(bundle: Bundle, options: ServeOptions) -> None:
    """Serve ``bundle`` until interrupted; blocks."""
    from gitmlops.serve.model import BundleError
    from gitmlops.serve.server import run
    from gitmlops.serve.source import serve_error

    try:
        run(bundle, options)
    except BundleError as exc:
        raise serve_error(exc) from None
