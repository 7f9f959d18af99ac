"""Command line of a deploy bundle: ``python serve_app.py [options]`` (no git, DVC or gitmlops needed).

Runtime module: carried by deploy bundles. Options mirror `gitmlops serve`; the API key comes from
the environment variable named by ``--api-key-env`` and is never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .model import BundleError, load_bundles
from .server import ENGINES, HOSTS, ServeOptions, run


def parse_options(argv: list[str]) -> tuple[ServeOptions, str | None]:
    """Options from the command line (defaults also read from GITMLOPS_* environment variables)."""
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="serve_app.py", description="Serve the model(s) of this bundle over HTTP.")
    parser.add_argument("--engine", default=env("GITMLOPS_ENGINE", "fast"), choices=ENGINES)
    parser.add_argument("--host", default=env("GITMLOPS_HOST", "127.0.0.1"), choices=HOSTS)
    parser.add_argument("--port", type=int, default=int(env("GITMLOPS_PORT", "8000")))
    parser.add_argument("--workers", type=int, default=int(env("GITMLOPS_WORKERS", "1")))
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--batch-timeout", type=float, default=0.0)
    parser.add_argument("--max-rows", type=int, default=10_000)
    parser.add_argument("--max-body-bytes", type=int, default=10 * 1024 * 1024)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--body-timeout", type=float, default=10.0)
    parser.add_argument("--max-header-bytes", type=int, default=32 * 1024)
    parser.add_argument("--header-timeout", type=float, default=10.0)
    parser.add_argument("--api-key-env", default=env("GITMLOPS_API_KEY_ENV"), metavar="VAR")
    parser.add_argument("--profile-dir", default=env("GITMLOPS_PROFILE_DIR"))
    parser.add_argument("--profile-rows", type=int, default=10_000)
    parser.add_argument("--profile-seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    key = None
    if args.api_key_env:
        key = os.environ.get(args.api_key_env)
        if not key:
            raise BundleError(f"--api-key-env {args.api_key_env}: that environment variable is unset or empty")
    options = ServeOptions(
        engine=args.engine,
        host=args.host,
        port=args.port,
        workers=args.workers,
        max_batch_size=args.max_batch_size,
        batch_timeout=args.batch_timeout,
        max_rows=args.max_rows,
        max_body_bytes=args.max_body_bytes,
        timeout=args.timeout,
        body_timeout=args.body_timeout,
        max_header_bytes=args.max_header_bytes,
        header_timeout=args.header_timeout,
        api_key=key,
        profile_dir=args.profile_dir,
        profile_rows=args.profile_rows,
        profile_seconds=args.profile_seconds,
    )
    return options, args.api_key_env


def main(folder: Path, argv: list[str] | None = None) -> int:
    """Serve the model(s) of the bundle in ``folder``; returns the exit code (2 when it cannot be served)."""
    try:
        options, _ = parse_options(list(sys.argv[1:] if argv is None else argv))
        options.check()
        bundles = load_bundles(folder)
        labels = ", ".join(bundle.info.label for bundle in bundles)
        print(f"serving {labels} at http://{options.host}:{options.port}", flush=True)
        run(bundles, options)
    except BundleError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
