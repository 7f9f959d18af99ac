"""Request formats other than ``{"records": [...]}``, turned into records for the one validator.

- MLflow's ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}`` (``index`` ignored);
- ``text/csv`` bodies: a header row of feature names, then one row per record; an empty cell is
  null, ints and floats are read as numbers, bools as true/false/1/0, categories by their text.

Rows are named ``records[i]`` in errors whatever the format, so one message shape serves all.
Runtime module: carried by deploy bundles.
"""

from __future__ import annotations

import csv
import io
import math
from typing import TYPE_CHECKING, Any

from .refusal import RequestError

if TYPE_CHECKING:
    from .schema import ModelSchema

_TRUE = {"true", "1", "True", "TRUE"}
_FALSE = {"false", "0", "False", "FALSE"}


def split_records(split: Any) -> list[Any]:
    """Records of a ``dataframe_split`` object."""
    if not isinstance(split, dict):
        raise RequestError(400, "'dataframe_split' must be an object {\"columns\": [...], \"data\": [[...]]}",
                           "dataframe_split")
    unknown = sorted(k for k in split if k not in ("columns", "data", "index"))
    if unknown:
        raise RequestError(400, f"unknown key {unknown[0]!r} in 'dataframe_split' (columns, data, index)",
                           f"dataframe_split.{unknown[0]}")
    columns, data = split.get("columns"), split.get("data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise RequestError(400, "'dataframe_split.columns' must be a list of feature names", "dataframe_split.columns")
    if not isinstance(data, list):
        raise RequestError(400, "'dataframe_split.data' must be a list of rows", "dataframe_split.data")
    records: list[Any] = []
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(columns):
            raise RequestError(422, f"dataframe_split.data[{i}] must be a list of {len(columns)} values",
                               f"dataframe_split.data[{i}]")
        records.append(dict(zip(columns, row, strict=True)))
    return records


def csv_records(schema: ModelSchema, body: bytes, max_rows: int) -> list[dict[str, Any]]:
    """Records of a CSV body, values converted to their JSON types by the schema."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RequestError(400, "the CSV body is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise RequestError(400, "the CSV body is empty; send a header row of feature names, then rows")
    header = [h.strip() for h in header]
    types = {f.name: f for f in schema.features}
    records: list[dict[str, Any]] = []
    for i, row in enumerate(reader):
        if not row:
            continue
        if len(records) >= max_rows:
            raise RequestError(413, f"too many records: more than {max_rows} per request; split the request", "records")
        if len(row) != len(header):
            raise RequestError(422, f"records[{i}]: {len(row)} values for {len(header)} columns", f"records[{i}]")
        record: dict[str, Any] = {}
        for name, cell in zip(header, row, strict=True):
            feature = types.get(name)
            record[name] = cell if feature is None else _cell(feature.type, cell, feature.categories, i, name)
        records.append(record)
    return records


def _cell(kind: str, cell: str, categories: tuple[Any, ...] | None, i: int, name: str) -> Any:
    text = cell.strip()
    if text == "":
        return None
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            value = float(text)
            if not math.isfinite(value):
                raise RequestError(422, f"records[{i}].{name}: {text} is not allowed", f"records[{i}].{name}")
            return value
        if kind == "bool":
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(text)
    except ValueError:
        expected = {"int": "an integer", "float": "a number", "bool": "true or false"}[kind]
        raise RequestError(422, f"records[{i}].{name}: expected {expected}, got {text!r}", f"records[{i}].{name}") from None
    for category in categories or ():
        if str(category) == text:
            return category
    return text  # the validator names the allowed categories
