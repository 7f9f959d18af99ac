"""Server metrics in shared memory, rendered in the Prometheus text format for GET /metrics.

Every HTTP server process (and, under the litserve engine, every inference worker) writes only its
own slot of one shared array (no locks on the request path); /metrics sums the slots, so any
process answers for the whole server. A slot ends with one count per category feature: the values
unseen in training that were scored as missing (under ``unseen_categories: strict`` they are refused
with 422 instead). After the slots, the supervisor's region: worker restarts and one "ready" flag per
inference worker (what /health reports).

Runtime module: carried by deploy bundles (stdlib only).
"""

from __future__ import annotations

import multiprocessing
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ROUTES = ("/predict", "/info", "/metrics", "/health", "/openapi.json", "/docs", "other")
STATUSES = (200, 400, 401, 404, 405, 408, 413, 415, 422, 431, 500, 503, 504)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

_N_COUNTS = len(ROUTES) * (len(STATUSES) + 1)  # +1: any other status
_LAT = _N_COUNTS  # latency: one count per bucket, +Inf, then sum
_BATCH = _LAT + len(LATENCY_BUCKETS) + 2  # batch sizes: same layout
_ROWS = _BATCH + len(BATCH_BUCKETS) + 2
_SLOT = _ROWS + 1

_ROUTE_INDEX = {r: i for i, r in enumerate(ROUTES)}
_STATUS_INDEX = {s: i for i, s in enumerate(STATUSES)}


class ServerMetrics:
    """Counters and histograms for ``slots`` writer processes, and the state of ``workers`` workers.

    ``unseen_columns``: the model's category features, whose unseen values are counted.
    """

    def __init__(self, slots: int = 1, workers: int = 1, unseen_columns: Sequence[str] = ()) -> None:
        self.slots = max(1, slots)
        self.workers = max(1, workers)
        self.unseen_columns = tuple(unseen_columns)
        self._unseen_index = {name: _SLOT + i for i, name in enumerate(self.unseen_columns)}
        self._slot = _SLOT + len(self.unseen_columns)
        self._super = self.slots * self._slot
        # supervisor region: restarts, a ready flag per worker, a batch count per worker
        self._data: Any = multiprocessing.RawArray("d", self._super + 1 + 2 * self.workers)
        self._base = 0

    def restarted(self) -> None:
        """Count one inference worker that died and was started again (supervisor only)."""
        self._data[self._super] += 1

    def set_ready(self, worker: int, ready: bool) -> None:
        """Mark inference worker ``worker`` as serving (or not)."""
        self._data[self._super + 1 + worker % self.workers] = 1.0 if ready else 0.0

    def worker_batch(self, worker: int) -> None:
        """Count one model call of worker ``worker`` (written by that worker only)."""
        self._data[self._super + 1 + self.workers + worker % self.workers] += 1

    def worker_batches(self) -> list[int]:
        """Model calls per worker (fast engine)."""
        start = self._super + 1 + self.workers
        return [int(self._data[start + w]) for w in range(self.workers)]

    def ready(self) -> bool:
        """Whether every inference worker is serving."""
        return all(self._data[self._super + 1 + w] for w in range(self.workers))

    def restarts(self) -> int:
        """Inference workers restarted so far."""
        return int(self._data[self._super])

    def bind(self, slot: int) -> None:
        """Write to slot ``slot`` from now on (each API server process binds its own)."""
        self._base = (slot % self.slots) * self._slot

    def request(self, route: str, status: int, seconds: float | None = None) -> None:
        """Count one answered request; ``seconds`` (predict only) feeds the latency histogram."""
        data, base = self._data, self._base
        r = _ROUTE_INDEX.get(route, len(ROUTES) - 1)
        s = _STATUS_INDEX.get(status, len(STATUSES))
        data[base + r * (len(STATUSES) + 1) + s] += 1
        if seconds is not None:
            data[base + _LAT + bisect_left(LATENCY_BUCKETS, seconds)] += 1
            data[base + _LAT + len(LATENCY_BUCKETS) + 1] += seconds

    def batch(self, size: int, rows: int) -> None:
        """Record one model call over ``size`` requests holding ``rows`` rows."""
        data, base = self._data, self._base
        data[base + _BATCH + bisect_left(BATCH_BUCKETS, size)] += 1
        data[base + _BATCH + len(BATCH_BUCKETS) + 1] += size
        data[base + _ROWS] += rows

    def unseen(self, counts: dict[str, int]) -> None:
        """Count the values unseen in training of one answered request (feature name -> values)."""
        data, base, index = self._data, self._base, self._unseen_index
        for name, n in counts.items():
            if name in index:
                data[base + index[name]] += n

    def unseen_totals(self, snapshot: Sequence[float]) -> dict[str, int]:
        """Unseen values per category feature, from a :meth:`snapshot`."""
        return {name: int(snapshot[i]) for name, i in self._unseen_index.items()}

    def snapshot(self) -> list[float]:
        """The sum over all slots (one flat list, layout as above)."""
        size = self._slot
        total = [0.0] * size
        data = self._data
        for slot in range(self.slots):
            base = slot * size
            for i in range(size):
                total[i] += data[base + i]
        return total


def _labels(pairs: dict[str, str]) -> str:
    if not pairs:
        return ""
    return "{" + _pairs(pairs) + "}"


def _pairs(pairs: dict[str, str]) -> str:
    esc = {k: v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for k, v in pairs.items()}
    return ",".join(f'{k}="{v}"' for k, v in esc.items())


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _histogram(lines: list[str], name: str, buckets: Sequence[float], values: Sequence[float], labels: str = "") -> None:
    cumulative = 0.0
    for bound, count in zip(buckets, values, strict=False):
        cumulative += count
        lines.append(f'{name}_bucket{{{labels}le="{_num(bound)}"}} {_num(cumulative)}')
    cumulative += values[len(buckets)]
    lines.append(f'{name}_bucket{{{labels}le="+Inf"}} {_num(cumulative)}')
    tail = _labels_of(labels)
    lines.append(f"{name}_sum{tail} {_num(values[len(buckets) + 1])}")
    lines.append(f"{name}_count{tail} {_num(cumulative)}")


def _labels_of(prefix: str) -> str:
    """``{a="x"}`` from the label prefix ``a="x",`` (empty stays empty)."""
    return "{" + prefix[:-1] + "}" if prefix else ""


@dataclass
class ModelSeries:
    """What /metrics shows of one served model: its labels and the snapshot of its metrics."""

    model: dict[str, str]
    snapshot: Sequence[float]
    restarts: int = 0
    worker_batches: Sequence[int] = ()
    #: The name in the model's URL (``/models/NAME/predict``): the ``model`` label of its series.
    served: str = ""
    #: Values unseen in training of the model's category features, per feature.
    unseen: dict[str, int] | None = None


def render(
    snapshot: Sequence[float], model: dict[str, str], restarts: int = 0, worker_batches: Sequence[int] = (),
    unseen: dict[str, int] | None = None,
) -> str:
    """The Prometheus text exposition (format 0.0.4) of a one-model server's snapshot."""
    return render_models([ModelSeries(model, snapshot, restarts, worker_batches, unseen=unseen)])


def render_models(models: Sequence[ModelSeries], server: Sequence[float] | None = None) -> str:
    """The Prometheus text exposition of a server; with ``server`` (several models), every series of
    a model carries ``model="NAME"`` and ``server`` holds the counts of the routes of no model."""
    labelled = server is not None
    # (label prefix, snapshot, is a model's) for every source of request counts
    sources: list[tuple[str, Sequence[float], bool]] = [("", server, False)] if server is not None else []
    prefixes = [_pairs({"model": m.served}) + "," if labelled else "" for m in models]
    sources += [(prefix, m.snapshot, True) for prefix, m in zip(prefixes, models, strict=True)]
    lines = [
        "# HELP gitmlops_model_info The model this server serves.",
        "# TYPE gitmlops_model_info gauge",
    ]
    lines += [f"gitmlops_model_info{_labels({'model': m.served, **m.model} if labelled else m.model)} 1" for m in models]
    lines += [
        "# HELP gitmlops_requests_total Requests answered, by route and HTTP status.",
        "# TYPE gitmlops_requests_total counter",
    ]
    width = len(STATUSES) + 1
    for prefix, snapshot, is_model in sources:
        for r, route in enumerate(ROUTES):
            for s in range(width):
                count = snapshot[r * width + s]
                if count or (is_model and route == "/predict" and s == 0):
                    status = str(STATUSES[s]) if s < len(STATUSES) else "other"
                    lines.append(f'gitmlops_requests_total{{{prefix}route="{route}",status="{status}"}} {_num(count)}')
    lines += [
        "# HELP gitmlops_request_duration_seconds Time to answer POST /predict, parsing included.",
        "# TYPE gitmlops_request_duration_seconds histogram",
    ]
    for prefix, m in zip(prefixes, models, strict=True):
        _histogram(lines, "gitmlops_request_duration_seconds", LATENCY_BUCKETS, m.snapshot[_LAT:_BATCH], prefix)
    lines += [
        "# HELP gitmlops_batch_size Requests per model call.",
        "# TYPE gitmlops_batch_size histogram",
    ]
    for prefix, m in zip(prefixes, models, strict=True):
        _histogram(lines, "gitmlops_batch_size", BATCH_BUCKETS, m.snapshot[_BATCH:_ROWS], prefix)
    lines += [
        "# HELP gitmlops_rows_total Rows predicted.",
        "# TYPE gitmlops_rows_total counter",
    ]
    lines += [f"gitmlops_rows_total{_labels_of(p)} {_num(m.snapshot[_ROWS])}" for p, m in zip(prefixes, models, strict=True)]
    lines += [
        "# HELP gitmlops_worker_restarts_total Inference workers that died and were started again.",
        "# TYPE gitmlops_worker_restarts_total counter",
    ]
    lines += [f"gitmlops_worker_restarts_total{_labels_of(p)} {m.restarts}" for p, m in zip(prefixes, models, strict=True)]
    if any(any(m.worker_batches) for m in models):
        lines += ["# HELP gitmlops_worker_batches_total Model calls per inference worker.",
                  "# TYPE gitmlops_worker_batches_total counter"]
        for prefix, m in zip(prefixes, models, strict=True):
            lines += [f'gitmlops_worker_batches_total{{{prefix}worker="{w}"}} {n}' for w, n in enumerate(m.worker_batches)]
    if any(m.unseen for m in models):
        lines += ["# HELP gitmlops_unseen_categories_total Served values of a category feature unseen in training.",
                  "# TYPE gitmlops_unseen_categories_total counter"]
        for prefix, m in zip(prefixes, models, strict=True):
            lines += [f"gitmlops_unseen_categories_total{{{prefix}{_pairs({'column': name})}}} {n}"
                      for name, n in (m.unseen or {}).items()]
    return "\n".join(lines) + "\n"
