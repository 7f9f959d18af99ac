"""The models one server serves: their URL names, and what the front door keeps of each.

One server serves one model or several. Each model answers at ``/models/NAME/predict`` (and
``/models/NAME/info``); a lone model also keeps ``/predict``. NAME is the artifact name without a
monorepo folder (``dir/sub:churn`` serves as ``churn``), and two models may not share it. Each
model has its own LitAPI, its own inference workers (so its own batching queue) and its own
metrics. Runtime module: carried by deploy bundles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .metrics import ServerMetrics
from .model import Bundle, BundleError


def served_name(name: str) -> str:
    """The URL name of an artifact name (``dir/sub:churn`` -> ``churn``)."""
    return name.rsplit(":", 1)[-1]


def check_names(names: Sequence[str], sources: Sequence[str] | None = None) -> None:
    """BundleError when two models would answer at the same URL (same served name)."""
    seen: dict[str, str] = {}
    for i, name in enumerate(names):
        served = served_name(name)
        source = sources[i] if sources is not None else name
        if served in seen:
            raise BundleError(
                f"{seen[served]} and {source} are both model {served!r}: one server serves a model name once",
                "pass each model once (one version per name); serve two versions of a model from two servers",
            )
        seen[served] = source


@dataclass
class ServedModel:
    """One model of the server, as the front door sees it."""

    name: str
    api: Any  # the model's PredictAPI (its ``decode_request`` validates requests in the front door)
    metrics: ServerMetrics
    info: dict[str, Any]  # its entry in /info
    labels: dict[str, str] = field(default_factory=dict)  # of gitmlops_model_info
    #: litserve engine: the LitAPI's ``api_path`` the front door hands a valid request on to.
    api_path: str = "/predict"
    #: fast engine: the addresses of its workers' queues, and this HTTP process's end of them.
    channels: Any = None
    side: Any = None

    def __getstate__(self) -> dict[str, Any]:
        # The fast engine's ZeroMQ end lives in one process; it never travels to another.
        return {**self.__dict__, "side": None}


def served_models(bundles: Sequence[Bundle]) -> list[tuple[str, Bundle]]:
    """(URL name, bundle) of each bundle, in order; BundleError when two share a name."""
    check_names([b.info.name for b in bundles], [b.info.label for b in bundles])
    return [(served_name(b.info.name), b) for b in bundles]


def model_entry(name: str, bundle: Bundle) -> dict[str, Any]:
    """A model's entry in /info: where it comes from, its label and its feature schema."""
    info = bundle.info
    return {**info.to_dict(), "label": info.label, "route": f"/models/{name}/predict", "schema": bundle.schema.to_dict()}
