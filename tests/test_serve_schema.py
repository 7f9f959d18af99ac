"""Unit tests of the pure serving pieces: schema, request validation, response shape, metrics text."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitmlops.serve.bundle import FORMAT_MODULES, RUNTIME_MODULES
from gitmlops.serve.metrics import ServerMetrics, render
from gitmlops.serve.model import BundleError, load_booster, load_bundle
from gitmlops.serve.schema import (
    ModelSchema,
    PredictionEncoder,
    RequestError,
    RequestParser,
    SchemaError,
    matrix_to_columns,
)
from tests.serve_fixtures import PLANS, feature_frame, make_bundle, sample_records

SCHEMA: dict[str, Any] = {
    "format": 1,
    "task": "binary",
    "objective": "binary:logistic",
    "target": "churned",
    "classes": [0, 1],
    "features": [
        {"name": "tenure_months", "type": "int", "nullable": False},
        {"name": "monthly_charges", "type": "float", "nullable": True},
        {"name": "plan", "type": "category", "nullable": False, "categories": PLANS},
        {"name": "has_partner", "type": "bool", "nullable": False},
    ],
}
GOOD = {"tenure_months": 3, "monthly_charges": 45.5, "plan": "pro", "has_partner": True}


def parser(max_rows: int = 100, unseen: str = "strict") -> RequestParser:
    return RequestParser(ModelSchema.from_dict({**SCHEMA, "unseen_categories": unseen}), max_rows)


def body(records: object) -> bytes:
    return json.dumps({"records": records}).encode()


def refused(raw: bytes, max_rows: int = 100) -> RequestError:
    with pytest.raises(RequestError) as info:
        parser(max_rows).parse(raw)
    return info.value


def test_valid_records_become_the_training_matrix() -> None:
    rows = [GOOD, {**GOOD, "monthly_charges": None, "plan": "basic", "has_partner": False, "tenure_months": 7.0}]
    matrix = parser().parse(body(rows))
    assert matrix.dtype == np.float32
    assert matrix.shape == (2, 4)
    assert matrix[0].tolist() == [3.0, 45.5, 2.0, 1.0]
    assert matrix[1, 0] == 7.0 and math.isnan(matrix[1, 1]) and matrix[1, 2] == 0.0 and matrix[1, 3] == 0.0


@pytest.mark.parametrize(
    ("raw", "status", "field", "words"),
    [
        (b"", 400, None, "empty"),
        (b"{not json", 400, None, "not valid JSON"),
        (b"[1, 2]", 400, None, "JSON object"),
        (b'{"rows": []}', 400, "rows", "unknown top-level key"),
        (b"{}", 400, "records", "missing 'records'"),
        (b'{"records": {}}', 400, "records", "must be a list"),
        (b'{"records": []}', 422, "records", "empty"),
        (body([1]), 422, "records[0]", "must be an object"),
        (body([{k: v for k, v in GOOD.items() if k != "plan"}]), 422, "records[0].plan", "missing feature 'plan'"),
        (body([{**GOOD, "zip": "10115"}]), 422, "records[0].zip", "unknown feature 'zip'"),
        (body([GOOD, {**GOOD, "tenure_months": "3"}]), 422, "records[1].tenure_months", "expected an integer"),
        (body([{**GOOD, "tenure_months": 3.5}]), 422, "records[0].tenure_months", "expected an integer"),
        (body([{**GOOD, "tenure_months": True}]), 422, "records[0].tenure_months", "expected an integer"),
        (body([{**GOOD, "tenure_months": None}]), 422, "records[0].tenure_months", "not nullable"),
        (body([{**GOOD, "monthly_charges": "high"}]), 422, "records[0].monthly_charges", "expected a number"),
        (body([{**GOOD, "has_partner": "maybe"}]), 422, "records[0].has_partner", "expected true/false, 1/0 or yes/no"),
        (body([{**GOOD, "has_partner": 2}]), 422, "records[0].has_partner", "expected true/false, 1/0 or yes/no"),
        (body([{**GOOD, "plan": "gold"}]), 422, "records[0].plan", "not a training category"),
        (body([{**GOOD, "plan": 2}]), 422, "records[0].plan", "not a training category"),
        (body([{**GOOD, "plan": ["pro"]}]), 422, "records[0].plan", "expected a category"),
        (b'{"records": [{"tenure_months": 3, "monthly_charges": NaN, "plan": "pro", "has_partner": true}]}',
         422, "records[0].monthly_charges", "NaN is not allowed; send null"),
        (b'{"records": [{"tenure_months": Infinity, "monthly_charges": 1, "plan": "pro", "has_partner": true}]}',
         422, "records[0].tenure_months", "Infinity is not allowed (not nullable)"),
        (b'{"records": [{"tenure_months": 1, "monthly_charges": 1e999, "plan": "pro", "has_partner": true}]}',
         422, "records[0].monthly_charges", "not allowed"),
    ],
)
def test_bad_requests_name_the_field(raw: bytes, status: int, field: str | None, words: str) -> None:
    error = refused(raw)
    assert error.status == status
    assert error.field == field
    assert words in error.message
    assert json.loads(error.body()) == {"detail": error.message, "field": field}


def test_too_many_rows_is_413() -> None:
    error = refused(body([GOOD] * 11), max_rows=10)
    assert error.status == 413 and "11 > 10" in error.message


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )
)
def test_any_json_is_either_a_matrix_or_a_request_error(payload: object) -> None:
    p = parser()
    for candidate in (payload, {"records": payload}, {"records": [payload]}):
        try:
            matrix = p.parse(json.dumps(candidate).encode())
        except RequestError as exc:
            assert 400 <= exc.status < 500
        else:
            assert matrix.shape[1] == 4


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"format": 2}, "unsupported schema format"),
        ({"task": "ranking"}, "unknown task"),
        ({"classes": [1]}, "at least 2 classes"),
        ({"features": []}, "no features"),
        ({"features": [{"name": "a", "type": "text"}]}, "unknown type"),
        ({"features": [{"name": "a", "type": "category"}]}, "non-empty 'categories'"),
        ({"features": [{"name": "a", "type": "int"}, {"name": "a", "type": "int"}]}, "appears twice"),
    ],
)
def test_bad_schemas_are_refused(change: dict[str, object], words: str) -> None:
    with pytest.raises(SchemaError, match=words):
        ModelSchema.from_dict({**SCHEMA, **change})


def test_schema_round_trips() -> None:
    assert ModelSchema.from_dict(SCHEMA).to_dict() == {**SCHEMA, "features": SCHEMA["features"]}


def test_response_shapes() -> None:
    binary = PredictionEncoder(ModelSchema.from_dict(SCHEMA))
    assert binary.encode(np.array([0.25, 0.5], dtype=np.float32)) == [
        {"label": 0, "probability": 0.25},
        {"label": 1, "probability": 0.5},
    ]
    multi = PredictionEncoder(ModelSchema.from_dict({**SCHEMA, "task": "multiclass", "classes": ["a", "b", "c"]}))
    out = multi.encode(np.array([[0.25, 0.5, 0.25]], dtype=np.float32))
    assert out == [{"label": "b", "probabilities": {"a": 0.25, "b": 0.5, "c": 0.25}}]
    reg = PredictionEncoder(ModelSchema.from_dict({**SCHEMA, "task": "regression", "classes": None}))
    assert reg.encode(np.array([1.5], dtype=np.float32)) == [{"value": 1.5}]


def test_matrix_to_columns_restores_json_values() -> None:
    schema = ModelSchema.from_dict(SCHEMA)
    rows = [GOOD, {**GOOD, "monthly_charges": None}]
    cols = matrix_to_columns(schema, parser().parse(body(rows)))
    assert cols == {
        "tenure_months": [3, 3],
        "monthly_charges": [45.5, None],
        "plan": ["pro", "pro"],
        "has_partner": [True, True],
    }


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_served_matrix_predicts_like_the_pandas_training_frame(tmp_path: Path, task: str) -> None:
    """Category codes from the schema give the same predictions as pd.Categorical at training."""
    import pandas as pd
    import xgboost as xgb

    bundle = load_bundle(make_bundle(tmp_path / "m", task=task))
    booster = load_booster(bundle.model_file, bundle.info.md5)
    records = sample_records(50)
    served = booster.inplace_predict(
        RequestParser(bundle.schema, 100).parse(body(records)), validate_features=False
    )
    frame = feature_frame(pd.DataFrame(records), bundle.schema.to_dict())
    expected = booster.predict(xgb.DMatrix(frame, enable_categorical=True))
    np.testing.assert_allclose(served, expected, rtol=1e-6)


def test_tampered_model_is_refused(tmp_path: Path) -> None:
    folder = make_bundle(tmp_path / "m")
    good = load_bundle(folder)
    (folder / "model.ubj").write_bytes((folder / "model.ubj").read_bytes() + b"x")
    with pytest.raises(BundleError, match="md5 mismatch"):
        load_bundle(folder, expected_md5=good.info.md5)
    with pytest.raises(BundleError, match="md5 mismatch"):
        load_booster(folder / "model.ubj", good.info.md5)


def test_bundle_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not a model folder"):
        load_bundle(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="no model file"):
        load_bundle(tmp_path / "empty")
    folder = make_bundle(tmp_path / "m")
    (folder / "schema.json").write_text("{")
    with pytest.raises(BundleError, match="cannot read"):
        load_bundle(folder)
    (folder / "schema.json").unlink()
    with pytest.raises(BundleError, match="no feature schema"):
        load_bundle(folder)
    (folder / "schema.json").write_text(json.dumps(SCHEMA))
    (folder / "model.ubj").write_bytes(b"not a model")
    with pytest.raises(BundleError, match="not a loadable XGBoost model"):
        load_booster(folder / "model.ubj", None)


def test_metrics_render_prometheus_text() -> None:
    metrics = ServerMetrics(slots=2)
    metrics.bind(0)
    metrics.request("/predict", 200, 0.0007)
    metrics.request("/predict", 422, 0.0001)
    metrics.bind(1)
    metrics.request("/predict", 200, 0.02)
    metrics.request("/info", 401)
    metrics.request("/nope", 418)
    metrics.batch(3, 30)
    text = render(metrics.snapshot(), {"name": 'churn "x"', "version": "v1.0.0", "md5": "abc"})
    lines = text.splitlines()
    assert 'gitmlops_model_info{name="churn \\"x\\"",version="v1.0.0",md5="abc"} 1' in lines
    assert 'gitmlops_requests_total{route="/predict",status="200"} 2' in lines
    assert 'gitmlops_requests_total{route="/predict",status="422"} 1' in lines
    assert 'gitmlops_requests_total{route="/info",status="401"} 1' in lines
    assert 'gitmlops_requests_total{route="other",status="other"} 1' in lines
    assert 'gitmlops_request_duration_seconds_bucket{le="0.0005"} 1' in lines
    assert 'gitmlops_request_duration_seconds_bucket{le="0.001"} 2' in lines
    assert 'gitmlops_request_duration_seconds_bucket{le="+Inf"} 3' in lines
    assert "gitmlops_request_duration_seconds_count 3" in lines
    assert 'gitmlops_batch_size_bucket{le="2"} 0' in lines
    assert 'gitmlops_batch_size_bucket{le="4"} 1' in lines
    assert "gitmlops_batch_size_sum 3" in lines
    assert "gitmlops_rows_total 30" in lines


def test_runtime_modules_import_no_gitmlops_outside_the_package() -> None:
    """A deploy bundle carries these files alone: only relative or optional gitmlops imports."""
    package = Path(__file__).parents[1] / "gitmlops"
    carried = [package / "serve" / name for name in RUNTIME_MODULES]
    carried += [package / "monitor" / name for name in FORMAT_MODULES]
    for path in carried:
        name = path.name
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("gitmlops"):
                # Allowed only inside a try/except ImportError (profiling uses gitmlops.monitor if present).
                assert name == "profiling.py", f"{name} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("gitmlops") for a in node.names), name
                assert not any(a.name.startswith("whylogs") for a in node.names), name
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("whylogs"), name


VALID_RECORD = st.fixed_dictionaries(
    {
        "tenure_months": st.integers(-(2**40), 2**40) | st.integers(-1000, 1000).map(float),
        "monthly_charges": st.none() | st.floats(allow_nan=False, allow_infinity=False, width=32) | st.integers(-9, 9),
        "plan": st.sampled_from(PLANS),
        "has_partner": st.booleans(),
    }
)


@settings(max_examples=60, deadline=None)
@given(st.lists(VALID_RECORD, min_size=16, max_size=40))
def test_columnar_and_row_paths_agree(records: list[dict[str, object]]) -> None:
    p = parser()
    columnar = p._columnar(records)
    assert columnar is not None
    rows = np.array([p._row(i, r) for i, r in enumerate(records)], dtype=np.float32)
    np.testing.assert_array_equal(columnar, rows)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"tenure_months": 1.5}, "tenure_months"),
        ({"monthly_charges": "x"}, "monthly_charges"),
        ({"plan": "gold"}, "plan"),
        ({"plan": None}, "plan"),
        ({"has_partner": "maybe"}, "has_partner"),
        ({"zip": 1}, "zip"),
    ],
)
def test_many_rows_with_one_bad_value_name_it(bad: dict[str, object], field: str) -> None:
    rows = [GOOD] * 30
    rows = [*rows[:17], {**GOOD, **bad}, *rows[17:]]
    assert refused(body(rows)).field == f"records[17].{field}"


def test_booleans_missing_tokens_and_unseen_categories_parse_as_the_stages_read_them() -> None:
    p = parser(unseen="missing")
    nullable = {**SCHEMA, "features": [{**f, "nullable": True} for f in SCHEMA["features"]]}
    lenient = RequestParser(ModelSchema.from_dict(nullable), 100)
    spellings = [True, 1, 1.0, "true", "TRUE", "yes", "Yes", "1"]
    for value in spellings:
        assert p.parse(body([{**GOOD, "has_partner": value}]))[0, 3] == 1.0
    for value in [False, 0, "false", "no", "NO", "0"]:
        assert p.parse(body([{**GOOD, "has_partner": value}]))[0, 3] == 0.0
    # An unseen category is scored as missing under the default rule (and refused under strict).
    assert np.isnan(p.parse(body([{**GOOD, "plan": "gold"}]))[0, 2])
    assert refused(body([{**GOOD, "plan": "gold"}])).status == 422
    # Missing-value tokens ("?" and pandas' own) are missing values, as when prepare read the data.
    row = lenient.parse(body([{**GOOD, "monthly_charges": "?", "has_partner": "NA", "plan": ""}]))[0]
    assert np.isnan(row[1]) and np.isnan(row[2]) and np.isnan(row[3])
    assert "?" in ModelSchema.from_dict(SCHEMA).missing_values
    # A whole number for categories trained from a number column (data.roles: categorical) is its text.
    coded = {**SCHEMA, "features": [{"name": "size", "type": "category", "categories": ["10", "5"]}]}
    assert RequestParser(ModelSchema.from_dict(coded), 10).parse(body([{"size": 5}]))[0, 0] == 1.0


def test_datetimes_parse_to_seconds_as_in_training() -> None:
    import pandas as pd

    from gitmlops.stages.features import feature_frame as stage_frame

    schema = {**SCHEMA, "features": [{"name": "when", "type": "datetime", "nullable": True}]}
    texts = ["2024-05-01", "2024-05-01T13:45:00", "2024-05-01 13:45:00.250", "2024-05-01T13:45:00Z",
             "2024-05-01T13:45:00+02:00", "1969-12-31T23:59:59"]
    served = RequestParser(ModelSchema.from_dict(schema), 100).parse(body([{"when": t} for t in texts]))[:, 0]
    stages = stage_frame(pd.DataFrame({"when": texts}), schema)["when"].to_numpy(dtype=np.float32)
    np.testing.assert_array_equal(served, stages)
    assert served[0] == np.float32(1714521600.0)
    bad = RequestParser(ModelSchema.from_dict(schema), 100)
    with pytest.raises(RequestError, match="ISO 8601"):
        bad.parse(body([{"when": "05/01/2024"}]))


def test_unseen_categories_are_marked_and_counted_per_column_on_both_paths() -> None:
    from gitmlops.serve.schema import UNSEEN_BITS, unseen_counts

    p = parser(unseen="missing")
    nullable = {**SCHEMA, "features": [{**f, "nullable": True} for f in SCHEMA["features"]]}
    lenient = RequestParser(ModelSchema.from_dict(nullable), 100)
    for rows in (3, 30):  # row by row, and column by column (numpy)
        records = [{**GOOD, "plan": "gold" if i % 3 == 0 else "basic"} for i in range(rows)]
        matrix = p.parse(body(records))
        unseen = (matrix.view(np.uint32)[:, 2] == UNSEEN_BITS)
        assert unseen.tolist() == [i % 3 == 0 for i in range(rows)]
        assert np.isnan(matrix[unseen, 2]).all()  # the booster sees a missing value
        assert unseen_counts(p.schema, matrix) == {"plan": len(range(0, rows, 3))}
        # a null is missing too, but not unseen
        nulls = lenient.parse(body([{**GOOD, "plan": None}] * rows))
        assert np.isnan(nulls[:, 2]).all() and unseen_counts(lenient.schema, nulls) == {}
    assert unseen_counts(p.schema, p.parse(body([GOOD] * 20))) == {}


def test_unseen_category_counts_render_per_column() -> None:
    metrics = ServerMetrics(slots=2, unseen_columns=["plan", "city \"x\""])
    metrics.bind(0)
    metrics.unseen({"plan": 3})
    metrics.bind(1)
    metrics.unseen({"plan": 2, "city \"x\"": 1, "not a category": 5})
    metrics.request("/predict", 200, 0.001)
    snapshot = metrics.snapshot()
    assert metrics.unseen_totals(snapshot) == {"plan": 5, "city \"x\"": 1}
    lines = render(snapshot, {"name": "m"}, unseen=metrics.unseen_totals(snapshot)).splitlines()
    assert 'gitmlops_unseen_categories_total{column="plan"} 5' in lines
    assert 'gitmlops_unseen_categories_total{column="city \\"x\\""} 1' in lines
    assert 'gitmlops_requests_total{route="/predict",status="200"} 1' in lines  # the other counters unmoved
    assert "# TYPE gitmlops_unseen_categories_total counter" in lines
