"""The ``litserve`` engine: a stock ``LitServer`` hosting the LitAPI, with public options only.

LitServe runs its own API server and worker processes; gitmlops adds its front door as one of
LitServe's ``middlewares`` (auth, limits, validation, /info, /metrics, /openapi.json, /docs, the
same error bodies as the fast engine). Batching is LitServe's (``max_batch_size``,
``batch_timeout`` on the LitAPI), workers are ``workers_per_device``. Several models are several
LitAPIs with their own ``api_path`` in one ``LitServer`` (LitServe's documented multi-endpoint
serving): each has its own request queue and workers. Runtime module.
"""

from __future__ import annotations

import multiprocessing
import warnings
from typing import Any

import litserve as ls

from .front import FrontDoor
from .metrics import ServerMetrics


def run_litserve(
    apis: list[Any], front_options: dict[str, Any], metrics: list[ServerMetrics], options: Any
) -> None:
    """Serve the LitAPIs (one per model, each at its own ``api_path``) with LitServe until interrupted; blocks."""
    for api, api_metrics in zip(apis, metrics, strict=True):
        # Slot 0 is the API server's; each worker claims the next one in setup (see PredictAPI).
        api.batch_metrics = api_metrics
        api.metrics_slot = multiprocessing.get_context("spawn").Value("i", 0)
    info = front_options["info"]
    server_metrics: ServerMetrics = front_options["metrics"]  # routes of no model, refusals below the app
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = ls.LitServer(
            # LitServe's multi-endpoint form: a list of LitAPIs, each batching in its own workers.
            apis[0] if len(apis) == 1 else apis,
            accelerator="cpu",
            workers_per_device=options.workers,
            timeout=options.timeout,
            model_metadata=info["model"] if "model" in info else {"models": info["models"]},
            middlewares=[(FrontDoor, front_options)],
        )
    from .limits import guarded_protocol

    # LitServe passes extra keywords on to uvicorn.Config: the same header limit and read timeouts.
    protocol = guarded_protocol(options.max_header_bytes, options.header_timeout, options.body_timeout,
                                lambda status: server_metrics.request("other", status))
    server.run(
        host=options.host,
        port=options.port,
        num_api_servers=1,
        log_level=options.log_level,
        generate_client_file=False,
        http=protocol,
    )
