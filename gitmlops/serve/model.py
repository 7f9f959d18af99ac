"""A model bundle folder: the booster file, its schema and metadata, checked before anything serves.

Layout (what `gitmlops deploy bundle` writes, and what the train stage writes under models/)::

    model.ubj       the XGBoost booster (``booster.save_model``)
    schema.json     the feature schema (see ``schema.py``)
    metadata.json   optional: name, version, tag, commit, stage, md5, metrics
    metrics.json    optional: training metrics, used when metadata.json has none

Runtime module: carried by deploy bundles, so it imports no gitmlops code outside this package.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .schema import ModelSchema, SchemaError

MODEL_FILE = "model.ubj"
SCHEMA_FILE = "schema.json"
METADATA_FILE = "metadata.json"
METRICS_FILE = "metrics.json"
#: A deploy bundle of several models lists their folders (``models/NAME``) here.
MANIFEST_FILE = "models.json"


class BundleError(Exception):
    """The bundle cannot be served: a message saying what is wrong and a hint saying what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass
class ModelInfo:
    """Where a served model comes from (shown by /info and in every response's ``model``)."""

    name: str
    version: str | None = None
    tag: str | None = None
    commit: str | None = None
    stage: str | None = None
    md5: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``NAME@vX.Y.Z`` (just NAME for an unregistered folder)."""
        return f"{self.name}@{self.version}" if self.version else self.name

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return asdict(self)


@dataclass
class Bundle:
    """A checked bundle folder: schema parsed, model file present and matching its md5."""

    root: Path
    model_file: Path
    schema: ModelSchema
    info: ModelInfo


def file_md5(path: str | Path) -> str:
    """The md5 of a file (the hash DVC records for it)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"cannot read {path}: {exc}", "rebuild the bundle or re-run the train stage") from None


def load_schema(path: str | Path) -> ModelSchema:
    """Parse a schema.json; :class:`BundleError` when it is missing or unusable."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(
            f"no feature schema at {path}",
            "the train stage writes schema.json next to the model; re-run it or rebuild the bundle",
        )
    try:
        return ModelSchema.from_dict(_read_json(path))
    except SchemaError as exc:
        raise BundleError(f"invalid feature schema {path}: {exc}", "re-run the train stage") from None


def load_bundle(folder: str | Path, expected_md5: str | None = None) -> Bundle:
    """Check a bundle folder and return it; refuse (BundleError) when the md5 does not match.

    The expected md5 is ``expected_md5`` if given (the registry's record), else metadata.json's.
    """
    root = Path(folder)
    if not root.is_dir():
        raise BundleError(f"not a model folder: {root}", "pass a registry reference (name#stage) or a bundle folder")
    meta: dict[str, Any] = {}
    if (root / METADATA_FILE).is_file():
        loaded = _read_json(root / METADATA_FILE)
        meta = loaded if isinstance(loaded, dict) else {}
    model_file = root / str(meta.get("model_file") or MODEL_FILE)
    if not model_file.is_file():
        raise BundleError(
            f"no model file in {root} (expected {model_file.name})",
            "a bundle holds model.ubj, schema.json and metadata.json; rebuild it with `gitmlops deploy bundle`",
        )
    schema = load_schema(root / SCHEMA_FILE)
    actual = file_md5(model_file)
    expected = expected_md5 or meta.get("md5")
    if expected and actual != expected:
        raise BundleError(
            f"md5 mismatch for {model_file}: expected {expected}, got {actual}; refusing to serve",
            "the file was modified or corrupted; fetch it again (`gitmlops data pull`) or rebuild the bundle",
        )
    metrics = meta.get("metrics")
    if not isinstance(metrics, dict):
        metrics = {}
        if (root / METRICS_FILE).is_file():
            loaded = _read_json(root / METRICS_FILE)
            metrics = loaded if isinstance(loaded, dict) else {}
    info = ModelInfo(
        name=str(meta.get("name") or root.resolve().name),
        version=meta.get("version"),
        tag=meta.get("tag"),
        commit=meta.get("commit"),
        stage=meta.get("stage"),
        md5=actual,
        metrics=metrics,
    )
    return Bundle(root=root, model_file=model_file, schema=schema, info=info)


def load_bundles(folder: str | Path) -> list[Bundle]:
    """The bundles a folder serves: each listed in its ``models.json`` (a bundle of several
    models), or the folder itself."""
    root = Path(folder)
    manifest = root / MANIFEST_FILE
    if not manifest.is_file():
        return [load_bundle(root)]
    listed = _read_json(manifest)
    entries = listed.get("models") if isinstance(listed, dict) else None
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise BundleError(f"{manifest} lists no models", "rebuild the bundle with `gitmlops deploy bundle`")
    bundles = []
    for entry in entries:
        sub = str(entry.get("folder") or "")
        target = (root / sub).resolve()
        if not sub or not target.is_relative_to(root.resolve()):
            raise BundleError(f"{manifest} names a model folder outside the bundle: {sub!r}",
                              "rebuild the bundle with `gitmlops deploy bundle`")
        bundles.append(load_bundle(target))
    return bundles


def load_booster(model_file: str | Path, expected_md5: str | None, nthread: int = 1) -> Any:
    """Read the model file once, check its md5 on those bytes, and load the booster from them."""
    import xgboost as xgb

    data = Path(model_file).read_bytes()
    actual = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if expected_md5 and actual != expected_md5:
        raise BundleError(f"md5 mismatch for {model_file}: expected {expected_md5}, got {actual}; refusing to serve")
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(data))
    except xgb.core.XGBoostError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unknown error"
        raise BundleError(f"{model_file} is not a loadable XGBoost model: {first}") from None
    # One thread per worker: a request is a few rows, and threads only add hand-off latency.
    booster.set_param({"nthread": nthread})
    return booster
