"""The LitServe API of a model bundle: LitServe's ``LitAPI`` contract, as LitServe documents it.

``setup`` loads the booster in each inference worker; ``decode_request`` turns a request into the
model's float32 matrix (or raises ``schema.RequestError``); ``batch`` stacks the matrices of a
batch, ``predict`` runs the booster once, ``unbatch`` splits the output per request and
``encode_response`` makes each answer's JSON object. Both engines host this same object:

- ``fast``: the HTTP processes call ``decode_request`` on the raw body (so a bad request is answered
  there and never reaches a worker) and send the matrix; the workers call the rest (``worker.py``);
- ``litserve``: a stock ``LitServer`` calls every hook in its own worker processes, with the parsed
  JSON body (``request.json()``), after gitmlops' front door middleware has validated it.

Runtime module: carried by deploy bundles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import litserve as ls
import numpy as np

from .metrics import ServerMetrics
from .model import Bundle, load_booster
from .schema import CsvBody, ModelSchema, PredictionEncoder, RequestError, RequestParser


class PredictAPI(ls.LitAPI):
    """Serves one XGBoost bundle at POST ``api_path`` (several: one PredictAPI per model)."""

    def __init__(
        self,
        bundle: Bundle,
        max_rows: int = 10_000,
        max_batch_size: int = 32,
        batch_timeout: float = 0.0,
        profile_dir: str | None = None,
        profile_rows: int = 10_000,
        profile_seconds: float = 60.0,
        api_path: str = "/predict",
    ) -> None:
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout, api_path=api_path)
        self.model_file = str(bundle.model_file)
        self.md5 = bundle.info.md5
        self.schema: ModelSchema = bundle.schema
        self.label = bundle.info.label
        self.max_rows = max_rows
        self.profile_dir = profile_dir
        self.profile_rows = profile_rows
        self.profile_seconds = profile_seconds
        self.parser: RequestParser | None = None
        self.encoder = PredictionEncoder(bundle.schema)
        self.sizes: list[int] = []
        self.booster: Any = None
        self.profiler: Any = None
        #: Set by the litserve engine: the workers record their batches here (slot chosen in setup).
        self.batch_metrics: ServerMetrics | None = None
        self.metrics_slot: Any = None

    def __getstate__(self) -> dict[str, Any]:
        # The parser holds closures (not picklable); each process builds its own.
        state = dict(self.__dict__)
        state["parser"] = None
        state["booster"] = None
        state["profiler"] = None
        return state

    # -- inference worker ----------------------------------------------------------------------
    def setup(self, device: Any) -> None:
        """Load the booster (md5-checked on the bytes it is loaded from) and warm it up."""
        self.booster = load_booster(self.model_file, self.md5)
        warm = np.full((1, len(self.schema.features)), np.nan, dtype=np.float32)
        self.booster.inplace_predict(warm, validate_features=False)
        if self.batch_metrics is not None and self.metrics_slot is not None:
            with self.metrics_slot.get_lock():
                self.metrics_slot.value += 1
                self.batch_metrics.bind(self.metrics_slot.value)
        if self.profile_dir:
            from .profiling import RequestProfiler

            self.profiler = RequestProfiler(
                Path(self.profile_dir), self.schema, every_rows=self.profile_rows, every_seconds=self.profile_seconds
            )
            self.profiler.start()

    def batch(self, inputs: list[np.ndarray]) -> np.ndarray:
        """Stack the requests' matrices (remembering their sizes for ``unbatch``)."""
        self.sizes = [len(x) for x in inputs]
        return inputs[0] if len(inputs) == 1 else np.concatenate(inputs)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Raw booster output for all rows of the batch."""
        # Categorical columns hold the training category codes, which the booster's feature types
        # ('c') tell it to treat as categories: the same split decisions as a pandas frame.
        y = self.booster.inplace_predict(x, validate_features=False)
        if self.profiler is not None:
            self.profiler.add(x, y)
        if self.batch_metrics is not None:
            self.batch_metrics.batch(len(self.sizes) or 1, len(x))
        return y

    def unbatch(self, output: np.ndarray) -> list[np.ndarray]:
        """Split the batch output back into one array per request."""
        if len(self.sizes) <= 1:
            return [output]
        bounds = np.cumsum(self.sizes)[:-1]
        return list(np.split(output, bounds))

    # No return annotation: LitServe turns it into the endpoint's FastAPI response type.
    def encode_response(self, output: np.ndarray):  # type: ignore[no-untyped-def]
        """The JSON object of one answer."""
        return {"predictions": self.encoder.encode(output), "model": self.label}

    def close(self) -> None:
        """Write the last partial profile (called when the worker stops)."""
        if self.profiler is not None:
            self.profiler.close()

    # -- both sides ----------------------------------------------------------------------------
    # No annotation on ``request``: LitServe then hands over the parsed JSON body (its documented default).
    def decode_request(self, request) -> np.ndarray:  # type: ignore[no-untyped-def]
        """Validate a request into the model's matrix; raises ``schema.RequestError``.

        ``request`` is a raw JSON body (bytes), a parsed JSON payload (what LitServe passes), or a
        :class:`schema.CsvBody`.
        """
        parser = self.parser
        if parser is None:
            parser = self.parser = RequestParser(self.schema, self.max_rows)
        if isinstance(request, bytes):
            return parser.parse(request)
        if isinstance(request, CsvBody):
            return parser.parse_csv(request.data)
        try:
            return parser.payload_matrix(request)
        except RequestError as exc:
            # The litserve engine's workers: LitServe answers an HTTPException with its status (its
            # documented way), where any other exception would be a 500.
            from fastapi import HTTPException

            raise HTTPException(exc.status, {"detail": exc.message, "field": exc.field}) from None
