"""The LitServe API of a model bundle: validate in the API server, predict in batches in the worker.

``decode_request`` runs in the API server process (see ``server.FrontDoor``), so a bad request is
answered there and never reaches the inference worker; the worker receives ready float32 matrices,
concatenates a batch (``batch``), runs the booster once (``predict``), splits the result
(``unbatch``) and encodes each answer to JSON bytes (``encode_response``).

Runtime module: carried by deploy bundles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import litserve as ls
import numpy as np
import orjson

from .loop import BatchLoop
from .model import Bundle, load_booster
from .schema import ModelSchema, PredictionEncoder, RequestParser


class PredictAPI(ls.LitAPI):
    """Serves one XGBoost bundle at POST /predict."""

    def __init__(
        self,
        bundle: Bundle,
        max_rows: int = 10_000,
        max_batch_size: int = 32,
        batch_timeout: float = 0.0,
        profile_dir: str | None = None,
        profile_rows: int = 10_000,
        profile_seconds: float = 60.0,
    ) -> None:
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout, loop=BatchLoop())
        self.model_file = str(bundle.model_file)
        self.md5 = bundle.info.md5
        self.schema: ModelSchema = bundle.schema
        self.label = bundle.info.label
        self.max_rows = max_rows
        self.profile_dir = profile_dir
        self.profile_rows = profile_rows
        self.profile_seconds = profile_seconds
        self._parser: RequestParser | None = None
        self._encoder = PredictionEncoder(bundle.schema)
        self._sizes: list[int] = []
        self.booster: Any = None
        self.profiler: Any = None

    def __getstate__(self) -> dict[str, Any]:
        # The parser holds closures (not picklable) and is only needed in the API server process.
        state = dict(self.__dict__)
        state["_parser"] = None
        state["booster"] = None
        state["profiler"] = None
        return state

    # -- worker process ------------------------------------------------------------------------
    def setup(self, device: Any) -> None:
        """Load the booster (md5-checked on the bytes it is loaded from) and warm it up."""
        self.booster = load_booster(self.model_file, self.md5)
        warm = np.full((1, len(self.schema.features)), np.nan, dtype=np.float32)
        self.booster.inplace_predict(warm, validate_features=False)
        if self.profile_dir:
            from .profiling import RequestProfiler

            self.profiler = RequestProfiler(
                Path(self.profile_dir), self.schema, every_rows=self.profile_rows, every_seconds=self.profile_seconds
            )
            self.profiler.start()

    def batch(self, inputs: list[np.ndarray]) -> np.ndarray:
        """Stack the requests' matrices (remembering their sizes for ``unbatch``)."""
        self._sizes = [len(x) for x in inputs]
        return inputs[0] if len(inputs) == 1 else np.concatenate(inputs)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Raw booster output for all rows of the batch."""
        # Categorical columns hold the training category codes, which the booster's feature types
        # ('c') tell it to treat as categories: the same split decisions as a pandas frame.
        y = self.booster.inplace_predict(x, validate_features=False)
        if self.profiler is not None:
            self.profiler.add(x, y)
        return y

    def unbatch(self, output: np.ndarray) -> list[np.ndarray]:
        """Split the batch output back into one array per request."""
        if len(self._sizes) == 1:
            return [output]
        bounds = np.cumsum(self._sizes)[:-1]
        return list(np.split(output, bounds))

    def encode_response(self, output: np.ndarray) -> bytes:
        """The JSON body of one answer."""
        return orjson.dumps({"predictions": self._encoder.encode(output), "model": self.label})

    def close(self) -> None:
        """Write the last partial profile (called when the worker stops)."""
        if self.profiler is not None:
            self.profiler.close()

    # -- API server process --------------------------------------------------------------------
    def decode_request(self, request: bytes) -> np.ndarray:
        """Validate a raw body into the model's matrix; raises ``schema.RequestError``."""
        parser = self._parser
        if parser is None:
            parser = self._parser = RequestParser(self.schema, self.max_rows)
        return parser.parse(request)
