"""The feature schema saved at training, request validation against it, and the response shape.

Pure functions: no I/O, no server. This module (like every module of ``gitmlops.serve`` that a
deploy bundle carries, see ``bundle.RUNTIME_MODULES``) imports only the standard library, numpy
and orjson, plus its siblings through relative imports, so a bundle runs without gitmlops.

Request: ``{"records": [{feature: value, ...}, ...]}``. Response:
``{"predictions": [...], "model": "NAME@vX.Y.Z"}`` where each prediction is

- binary: ``{"label": <class>, "probability": <P(classes[1])>}`` (label = classes[1] when p >= 0.5)
- multiclass: ``{"label": <class>, "probabilities": {"<class>": p, ...}}``
- regression: ``{"value": <number>}``
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from .formats import csv_records, split_records
from .refusal import RequestError
from .values import MISSING_TOKENS, parse_bool, parse_datetime

__all__ = ["CsvBody", "Feature", "ModelSchema", "PredictionEncoder", "RequestError", "RequestParser",
           "SchemaError", "matrix_to_columns"]

TASKS = ("binary", "multiclass", "regression")
FEATURE_TYPES = ("int", "float", "bool", "category", "datetime")
UNSEEN_RULES = ("missing", "strict")
_MAX_LISTED_CATEGORIES = 10
#: From this many records on, clean input is converted column by column (numpy) instead of row by row.
_COLUMNAR_MIN_ROWS = 16
#: The largest magnitude the booster's float32 input holds; beyond it a value would become infinity.
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: The float32 bits of a category value unseen in training, in the model matrix: a quiet NaN, so the
#: booster scores it as missing (the unseen-category rule), whose payload lets /metrics and the
#: serving profile count it per column (a null is the plain NaN).
UNSEEN_BITS = np.uint32(0x7FC0_A115)
#: What a category converter returns for an unseen value, before the matrix is built (codes are >= 0).
_UNSEEN_CODE = -1.0


class SchemaError(Exception):
    """schema.json is missing fields or has values this server cannot use."""


@dataclass(frozen=True)
class Feature:
    """One input column: its name, type, whether null is allowed, and (categories) the levels."""

    name: str
    type: str
    nullable: bool = True
    categories: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class ModelSchema:
    """The content of ``schema.json`` (format 1), features in training column order."""

    task: str
    objective: str
    target: str | None
    classes: tuple[Any, ...] | None
    features: tuple[Feature, ...]
    #: Strings read as a missing value for any feature (as prepare read the data).
    missing_values: frozenset[str] = frozenset(MISSING_TOKENS)
    #: A category value not seen in training: ``missing`` (scored as missing) or ``strict`` (422).
    unseen_categories: str = "missing"

    @classmethod
    def from_dict(cls, data: Any) -> ModelSchema:
        """Build from the parsed JSON; :class:`SchemaError` names what is wrong."""
        if not isinstance(data, dict):
            raise SchemaError("schema.json must hold a JSON object")
        if data.get("format") != 1:
            raise SchemaError(f"unsupported schema format {data.get('format')!r} (expected 1)")
        task = data.get("task")
        if task not in TASKS:
            raise SchemaError(f"unknown task {task!r} (expected one of {', '.join(TASKS)})")
        classes = data.get("classes")
        if task == "regression":
            classes = None
        elif not isinstance(classes, list) or len(classes) < 2:
            raise SchemaError(f"a {task} model needs a list of at least 2 classes, got {classes!r}")
        raw_features = data.get("features")
        if not isinstance(raw_features, list) or not raw_features:
            raise SchemaError("schema.json has no features")
        features = []
        seen: set[str] = set()
        for i, item in enumerate(raw_features):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise SchemaError(f"features[{i}] needs a string 'name'")
            name, ftype = item["name"], item.get("type")
            if name != name.strip() or not name:
                raise SchemaError(
                    f"feature name {name!r} is empty or has surrounding whitespace: no request could name it"
                )
            if ftype not in FEATURE_TYPES:
                raise SchemaError(f"feature {name!r} has unknown type {ftype!r}")
            if name in seen:
                raise SchemaError(f"feature {name!r} appears twice")
            seen.add(name)
            categories = None
            if ftype == "category":
                cats = item.get("categories")
                if not isinstance(cats, list) or not cats:
                    raise SchemaError(f"category feature {name!r} needs a non-empty 'categories' list")
                categories = tuple(cats)
            features.append(Feature(name, ftype, bool(item.get("nullable", True)), categories))
        missing = data.get("missing_values", list(MISSING_TOKENS))
        if not isinstance(missing, list) or not all(isinstance(t, str) for t in missing):
            raise SchemaError("'missing_values' must be a list of strings")
        unseen = data.get("unseen_categories", "missing")
        if unseen not in UNSEEN_RULES:
            raise SchemaError(f"unknown unseen_categories rule {unseen!r} (expected one of {', '.join(UNSEEN_RULES)})")
        return cls(
            task=task,
            objective=str(data.get("objective", "")),
            target=data.get("target"),
            classes=tuple(classes) if classes is not None else None,
            features=tuple(features),
            missing_values=frozenset(missing),
            unseen_categories=str(unseen),
        )

    def to_dict(self) -> dict[str, Any]:
        """The schema in its JSON form (as served by /info)."""
        features = []
        for f in self.features:
            item: dict[str, Any] = {"name": f.name, "type": f.type, "nullable": f.nullable}
            if f.categories is not None:
                item["categories"] = list(f.categories)
            features.append(item)
        return {
            "format": 1,
            "task": self.task,
            "objective": self.objective,
            "target": self.target,
            "classes": list(self.classes) if self.classes is not None else None,
            "features": features,
        }

    @property
    def names(self) -> list[str]:
        """Feature names in training column order."""
        return [f.name for f in self.features]


@dataclass(frozen=True)
class CsvBody:
    """A ``text/csv`` request body (see ``formats.py``)."""

    data: bytes


class _NonFinite:
    """Stands for a NaN/Infinity literal found by the lenient parser, so the error names the field."""

    def __init__(self, text: str) -> None:
        self.text = text


class _Invalid(Exception):
    """Raised by a converter; the caller adds the field path."""


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        first_error = str(exc)
    # orjson rejects NaN/Infinity (they are not JSON); find out whether that was the reason so the
    # error can name the field instead of a character offset.
    try:
        return json.loads(body, parse_constant=_NonFinite)
    except RecursionError:
        raise RequestError(400, "request body is nested too deeply; records are flat objects") from None
    except (ValueError, UnicodeDecodeError):
        raise RequestError(400, f"request body is not valid JSON: {first_error}") from None


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, _NonFinite):
        return value.text
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _in_range(value: float) -> float:
    if -FLOAT32_MAX <= value <= FLOAT32_MAX:
        return value
    raise _Invalid(f"{value:g} is beyond the model's float32 range (about ±3.4e38)")


def _big_int(value: int) -> float:
    try:
        return _in_range(float(value))
    except OverflowError:
        raise _Invalid(f"an integer of {len(str(abs(value)))} digits is beyond the model's float32 range") from None


def _int(value: Any) -> float:
    kind = type(value)
    if kind is int:
        return _big_int(value)
    if kind is float and value.is_integer():
        return _in_range(value)
    raise _Invalid(f"expected an integer, got {_describe(value) if kind is not float else value}")


def _float(value: Any) -> float:
    kind = type(value)
    if kind is float:
        if math.isfinite(value):
            return _in_range(value)
        raise _Invalid(f"{value} is not allowed")
    if kind is int:
        return _big_int(value)
    raise _Invalid(f"expected a number, got {_describe(value)}")


def _bool(value: Any) -> float:
    try:
        return parse_bool(value)
    except ValueError:
        raise _Invalid(f"expected true/false, 1/0 or yes/no, got {_describe(value)}") from None


def _datetime(value: Any) -> float:
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise _Invalid(f"{exc}, got {_describe(value)}") from None


def _category(feature: Feature, strict: bool = False) -> Callable[[Any], float]:
    # Codes are the positions in the training categories: the same codes pd.Categorical(values,
    # categories=feature.categories) gives, which is what the booster was trained on.
    categories = feature.categories or ()
    codes = {c: float(i) for i, c in enumerate(categories) if not isinstance(c, bool)}
    shown = ", ".join(json.dumps(c) for c in categories[:_MAX_LISTED_CATEGORIES])
    if len(categories) > _MAX_LISTED_CATEGORIES:
        shown += f", ... ({len(categories)} in all)"

    def convert(value: Any) -> float:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            code = codes.get(value)
            if code is None and type(value) is int:  # a whole-number column trained as categories
                code = codes.get(str(value))
            if code is not None:
                return code
            if not strict:  # scored as missing, as XGBoost and the evaluate stage do (marked: see UNSEEN_BITS)
                return _UNSEEN_CODE
            raise _Invalid(f"{json.dumps(value)} is not a training category (one of: {shown}); "
                           "this model refuses unseen categories (unseen_categories: strict)")
        raise _Invalid(f"expected a category (one of: {shown}), got {_describe(value)}")

    return convert


class RequestParser:
    """Turns a raw request body into the float32 matrix the booster takes (or a RequestError)."""

    def __init__(self, schema: ModelSchema, max_rows: int) -> None:
        self.schema = schema
        self.max_rows = max_rows
        self.names = schema.names
        self.expected = frozenset(self.names)
        self._converters: list[tuple[str, bool, Callable[[Any], float]]] = []
        self._category_columns = [j for j, f in enumerate(schema.features) if f.type == "category"]
        self._strict = schema.unseen_categories == "strict"
        self._codes = {
            f.name: {c: float(i) for i, c in enumerate(f.categories or ()) if type(c) is str}
            for f in schema.features
            if f.type == "category"
        }
        for f in schema.features:
            if f.type == "category":
                conv = _category(f, strict=self._strict)
            else:
                conv = {"int": _int, "float": _float, "bool": _bool, "datetime": _datetime}[f.type]
            self._converters.append((f.name, f.nullable, conv))

    def parse(self, body: bytes) -> np.ndarray:
        """Validate ``body`` and return a (rows, features) float32 matrix, NaN for null."""
        if not body:
            raise RequestError(400, 'request body is empty; send {"records": [{...}, ...]}')
        return self.payload_matrix(_loads(body))

    def parse_csv(self, body: bytes) -> np.ndarray:
        """Validate a ``text/csv`` body (header row, then records) and return the matrix."""
        return self.records_matrix({"records": csv_records(self.schema, body, self.max_rows)})

    def payload_matrix(self, payload: Any) -> np.ndarray:
        """Validate a parsed payload (``{"records": [...]}`` or ``{"dataframe_split": {...}}``)."""
        if isinstance(payload, dict) and payload.keys() == {"dataframe_split"}:
            return self.records_matrix({"records": split_records(payload["dataframe_split"])})
        return self.records_matrix(payload)

    def records_matrix(self, payload: Any) -> np.ndarray:
        """Validate a parsed payload (``{"records": [...]}``) and return the matrix."""
        if not isinstance(payload, dict):
            raise RequestError(400, f'expected a JSON object {{"records": [...]}}, got {_describe(payload)}')
        if payload.keys() != {"records"}:
            extra = sorted(str(k) for k in payload if k != "records")
            if extra:
                raise RequestError(
                    400, f"unknown top-level key {extra[0]!r}; send 'records' or 'dataframe_split'", extra[0]
                )
            raise RequestError(400, "missing 'records' (a list of feature objects)", "records")
        records = payload["records"]
        if not isinstance(records, list):
            raise RequestError(400, f"'records' must be a list of objects, got {_describe(records)}", "records")
        if not records:
            raise RequestError(422, "'records' is empty; send at least one record", "records")
        if len(records) > self.max_rows:
            raise RequestError(
                413, f"too many records: {len(records)} > {self.max_rows} per request; split the request", "records"
            )
        matrix = self._columnar(records) if len(records) >= _COLUMNAR_MIN_ROWS else None
        if matrix is None:
            matrix = np.array([self._row(i, record) for i, record in enumerate(records)], dtype=np.float32)
        self._mark_unseen(matrix)
        return matrix

    def _mark_unseen(self, matrix: np.ndarray) -> None:
        """Turn the unseen-category codes of the converters into the marked NaN (UNSEEN_BITS)."""
        bits = matrix.view(np.uint32)
        for j in self._category_columns:
            unseen = matrix[:, j] == _UNSEEN_CODE
            if unseen.any():
                bits[unseen, j] = UNSEEN_BITS

    def _columnar(self, records: list[Any]) -> np.ndarray | None:
        """Many rows at once, column by column with numpy; None when anything needs a closer look.

        Only clean input takes this path; everything else goes row by row, where errors are
        found and named. Both paths give the same matrix (tests check it).
        """
        expected = self.expected
        for record in records:
            if type(record) is not dict or record.keys() != expected:
                return None
        out = np.empty((len(records), len(self._converters)), dtype=np.float32)
        for j, feature in enumerate(self.schema.features):
            name = feature.name
            column = [record[name] for record in records]
            kinds = set(map(type, column))
            has_null = type(None) in kinds
            if has_null:
                if not feature.nullable:
                    return None
                kinds.discard(type(None))
            if feature.type == "category":
                if not kinds <= {str}:
                    return None
                codes = self._codes[name]
                mapped = [codes.get(v, _UNSEEN_CODE) if v is not None else math.nan for v in column]
                values = np.array(mapped, dtype=np.float64)
                if self._strict and (values < 0).any():
                    return None
            elif feature.type in ("bool", "datetime"):
                if not kinds <= {bool} or feature.type == "datetime":
                    return None
                values = np.array(column, dtype=np.float64)
            else:
                if not kinds <= {int, float}:
                    return None
                try:
                    values = np.array(column, dtype=np.float64)
                except OverflowError:
                    return None
                present = values[~np.isnan(values)] if has_null else values
                if not np.isfinite(present).all() or (np.abs(present) > FLOAT32_MAX).any():
                    return None
                if feature.type == "int" and float in kinds and (present != np.floor(present)).any():
                    return None
            out[:, j] = values
        return out

    def _row(self, i: int, record: Any) -> list[float]:
        if not isinstance(record, dict):
            raise RequestError(422, f"records[{i}] must be an object, got {_describe(record)}", f"records[{i}]")
        if record.keys() != self.expected:
            self._key_error(i, record)
        row = []
        missing = self.schema.missing_values
        for name, nullable, convert in self._converters:
            value = record[name]
            if value is None or (type(value) is str and value in missing):
                if not nullable:
                    raise RequestError(422, f"records[{i}].{name}: null is not allowed (not nullable)", f"records[{i}].{name}")
                row.append(math.nan)
                continue
            try:
                row.append(convert(value))
            except _Invalid as exc:
                detail = str(exc)
                if isinstance(value, _NonFinite):
                    detail = f"{value.text} is not allowed" + (
                        "; send null for a missing value" if nullable else " (not nullable)"
                    )
                raise RequestError(422, f"records[{i}].{name}: {detail}", f"records[{i}].{name}") from None
        return row

    def _key_error(self, i: int, record: dict[str, Any]) -> None:
        missing = [n for n in self.names if n not in record]
        if missing:
            raise RequestError(
                422, f"records[{i}]: missing feature {missing[0]!r}", f"records[{i}].{missing[0]}"
            )
        extra = sorted(str(k) for k in record if k not in self.expected)
        raise RequestError(
            422,
            f"records[{i}]: unknown feature {extra[0]!r} (the model takes: {', '.join(self.names)})",
            f"records[{i}].{extra[0]}",
        )


def _jsonable_class(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


class PredictionEncoder:
    """Turns raw booster output for one request into the JSON-ready prediction list."""

    def __init__(self, schema: ModelSchema) -> None:
        self.task = schema.task
        self.classes = [_jsonable_class(c) for c in schema.classes or ()]
        self.class_keys = [str(c) for c in self.classes]

    def encode(self, raw: np.ndarray) -> list[dict[str, Any]]:
        """Predictions for the rows of ``raw`` (1-d for binary/regression/softmax, 2-d for softprob)."""
        if self.task == "regression":
            return [{"value": v} for v in raw.astype(np.float64).tolist()]
        if self.task == "binary":
            positive, negative = self.classes[1], self.classes[0]
            return [
                {"label": positive if p >= 0.5 else negative, "probability": p}
                for p in raw.astype(np.float64).tolist()
            ]
        if raw.ndim == 1:  # multi:softmax gives class indices only
            return [{"label": self.classes[int(k)], "probabilities": None} for k in raw.tolist()]
        keys, classes = self.class_keys, self.classes
        out = []
        for probs in raw.astype(np.float64).tolist():
            best = max(range(len(probs)), key=probs.__getitem__)
            out.append({"label": classes[best], "probabilities": dict(zip(keys, probs, strict=True))})
        return out


def unseen_counts(schema: ModelSchema, matrix: np.ndarray) -> dict[str, int]:
    """Per category feature, how many rows of a validated matrix hold a value unseen in training (only
    features with at least one)."""
    bits = np.ascontiguousarray(matrix, dtype=np.float32).view(np.uint32)
    counts = {}
    for j, f in enumerate(schema.features):
        if f.type == "category":
            n = int(np.count_nonzero(bits[:, j] == UNSEEN_BITS))
            if n:
                counts[f.name] = n
    return counts


def matrix_to_columns(schema: ModelSchema, matrix: np.ndarray) -> dict[str, list[Any]]:
    """The feature values of a validated matrix back in their JSON types (for profiling)."""
    columns: dict[str, list[Any]] = {}
    for j, f in enumerate(schema.features):
        col = matrix[:, j].astype(np.float64)
        if f.type == "category":
            cats: Sequence[Any] = f.categories or ()
            columns[f.name] = [None if math.isnan(v) else cats[int(v)] for v in col.tolist()]
        elif f.type == "bool":
            columns[f.name] = [None if math.isnan(v) else bool(v) for v in col.tolist()]
        elif f.type == "datetime":
            columns[f.name] = [None if math.isnan(v) else v for v in col.tolist()]
        elif f.type == "int":
            columns[f.name] = [None if math.isnan(v) else int(v) for v in col.tolist()]
        else:
            columns[f.name] = [None if math.isnan(v) else v for v in col.tolist()]
    return columns
