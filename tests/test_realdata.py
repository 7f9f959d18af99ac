"""Messy data through the built-in stages and a real server: IDs, dates as text, free text,
?-marked numbers, booleans with gaps, awkward column names, unseen categories."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from tests.conftest import invoke
from tests.serve_fixtures import ServerProcess, free_port, gitmlops_argv

pytestmark = pytest.mark.slow

WORDS = ["late", "payment", "called", "support", "happy", "moved", "asked", "about", "discount", "router"]


def messy_frame(n: int = 1200, seed: int = 7) -> Any:
    import pandas as pd

    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, size=n)
    partner = rng.choice(["yes", "no", ""], size=n, p=[0.45, 0.45, 0.1])
    plan = rng.choice(["basic", "pro", "team"], size=n)
    area = rng.normal(50.0, 10.0, size=n).round(6)
    signup = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, size=n), unit="D")
    income = rng.normal(40_000, 9_000, size=n).round(0)
    score = tenure * 0.5 + (plan == "pro") * 8 + (area - 50) * 0.4 + (partner == "yes") * 5
    frame = pd.DataFrame({
        "customer_id": [f"C{100000 + i}" for i in rng.permutation(n)],
        "signup_date": signup.strftime("%Y-%m-%d"),
        "notes": [" ".join(rng.choice(WORDS, size=5)) + f" #{i}" for i in range(n)],
        "income": income.astype(object),
        "has_partner": partner,
        "plan": plan,
        "worst [area] <mm2>": area,
        "tenure": tenure,
        "churned": np.where(score + rng.normal(0, 2, size=n) > np.median(score), "yes_churn", "no_churn"),
    })
    frame.loc[rng.random(n) < 0.08, "income"] = "?"
    return frame


@pytest.fixture(scope="module")
def messy_repo(tmp_path_factory: pytest.TempPathFactory, example_template: Path) -> Path:
    repo = tmp_path_factory.mktemp("messy") / "repo"
    shutil.copytree(example_template, repo, symlinks=True)
    messy_frame().to_csv(repo / "data" / "messy.csv", index=False)
    assert invoke(repo, "data", "add", "data/messy.csv").exit_code == 0
    conf = repo / "conf" / "data" / "default.yaml"
    conf.write_text(conf.read_text().replace("data/churn.csv", "data/messy.csv").replace("target: churned", "target: churned")
                    .replace("drop_columns: [customer_id]", "drop_columns: []"))
    result = invoke(repo, "run", "--json")
    assert result.exit_code == 0, result.output
    (repo / "run.json").write_text(result.output)
    return repo


def test_roles_are_inferred_reported_and_recorded(messy_repo: Path) -> None:
    roles = {r["name"]: r["role"] for r in json.loads((messy_repo / "run.json").read_text())["roles"]}
    assert roles == {"customer_id": "id", "signup_date": "datetime", "notes": "text", "income": "numeric",
                     "has_partner": "boolean", "plan": "categorical", "worst [area] <mm2>": "numeric",
                     "tenure": "numeric"}
    schema = json.loads((messy_repo / "models" / "schema.json").read_text())
    types = {f["name"]: f["type"] for f in schema["features"]}
    assert types == {"signup_date": "datetime", "income": "float", "has_partner": "bool", "plan": "category",
                     "worst [area] <mm2>": "float", "tenure": "int"}
    assert [r["name"] for r in schema["roles"]][:3] == ["customer_id", "signup_date", "notes"]
    assert "?" in schema["missing_values"] and schema["unseen_categories"] == "missing"
    metrics = json.loads((messy_repo / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.8


def test_prepare_prints_the_role_table_and_warns(messy_repo: Path) -> None:
    proc = subprocess.run(gitmlops_argv("-C", str(messy_repo), "run", "--force", "--stage", "prepare", "-q"),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "warning: left out of the features: customer_id (id), notes (text)" in proc.stderr
    assert re.search(r"^column\s+role\s+feature\s+why$", proc.stderr, flags=re.M)
    assert re.search(r"^signup_date\s+datetime\s+yes\s+ISO 8601 dates", proc.stderr, flags=re.M)
    assert re.search(r"^notes\s+text\s+no\s+free text", proc.stderr, flags=re.M)


def test_roles_are_overridable_and_checked(messy_repo: Path) -> None:
    result = invoke(messy_repo, "run", "+data.roles.plan=nonsense")
    assert result.exit_code == 2 and "data.roles.plan: unknown role 'nonsense'" in result.output
    result = invoke(messy_repo, "run", "+data.roles.signup_date=ignore", "+data.roles.tenure=categorical", "--json")
    assert result.exit_code == 0, result.output
    schema = json.loads((messy_repo / "models" / "schema.json").read_text())
    types = {f["name"]: f["type"] for f in schema["features"]}
    assert "signup_date" not in types and types["tenure"] == "category"
    assert invoke(messy_repo, "run", "data.unseen_categories=strict", "-q").exit_code == 0
    assert json.loads((messy_repo / "models" / "schema.json").read_text())["unseen_categories"] == "strict"
    assert json.loads((messy_repo / "metrics.json").read_text())["refused_rows"] == 0
    assert invoke(messy_repo, "run", "-q").exit_code == 0  # back to the inferred roles
    assert json.loads((messy_repo / "metrics.json").read_text())["unseen_category_rows"] == 0


def _predict(server: ServerProcess, records: list[dict[str, object]]) -> requests.Response:
    return requests.post(server.url + "/predict", data=json.dumps({"records": records}), timeout=20)


def test_served_rows_score_as_evaluate_scored_them(messy_repo: Path, tmp_path: Path) -> None:
    import pandas as pd
    import xgboost as xgb

    from gitmlops.stages.features import feature_frame

    schema = json.loads((messy_repo / "models" / "schema.json").read_text())
    booster = xgb.Booster(model_file=str(messy_repo / "models" / "model.ubj"))
    test = pd.read_parquet(messy_repo / "data" / "prepared" / "test.parquet")
    evaluated = booster.predict(xgb.DMatrix(feature_frame(test, schema), enable_categorical=True))
    # The same held-out rows as a client sends them: the raw CSV's values (pandas to_json records).
    raw = pd.read_csv(messy_repo / "data" / "messy.csv", keep_default_na=False, dtype=str)
    raw["worst [area] <mm2>"] = raw["worst [area] <mm2>"].astype(float)
    raw["tenure"] = raw["tenure"].astype(int)
    raw["income"] = raw["income"].map(lambda v: v if v == "?" else float(v)).astype(object)  # "?" as exported
    raw = raw.set_index("worst [area] <mm2>", drop=False).loc[test["worst [area] <mm2>"]]
    names = [f["name"] for f in schema["features"]]
    records = json.loads(raw[names].to_json(orient="records"))
    assert any(r["income"] == "?" for r in records) and any(r["has_partner"] == "" for r in records)
    # A new date and a new plan (unseen in training) are scored as missing, as evaluate does.
    records[0] = {**records[0], "signup_date": "2031-02-03", "plan": "enterprise"}
    frame = pd.DataFrame([records[0]]).replace({"": None, "?": None})
    frame["income"] = pd.to_numeric(frame["income"])
    evaluated[0] = booster.predict(xgb.DMatrix(feature_frame(frame, schema), enable_categorical=True))[0]
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for name in ("model.ubj", "schema.json"):
        shutil.copy(messy_repo / "models" / name, bundle / name)
    port = free_port()
    with ServerProcess(gitmlops_argv("serve", str(bundle), "--port", str(port), "--max-rows", "1000"), port).start() \
            as server:
        answer = _predict(server, records)
        assert answer.status_code == 200, answer.text
        served = np.array([p["probability"] for p in answer.json()["predictions"]], dtype=np.float32)
        np.testing.assert_allclose(served, evaluated, rtol=1e-6, atol=1e-7)
        # Booleans in every spelling a client sends.
        for value in (True, False, 1, 0, "yes", "no", "true", "FALSE", None):
            assert _predict(server, [{**records[1], "has_partner": value}]).status_code == 200
        assert _predict(server, [{**records[1], "has_partner": "perhaps"}]).status_code == 422
    strict = json.loads((bundle / "schema.json").read_text())
    (bundle / "schema.json").write_text(json.dumps({**strict, "unseen_categories": "strict"}))
    port = free_port()
    with ServerProcess(gitmlops_argv("serve", str(bundle), "--port", str(port)), port).start() as server:
        refused = _predict(server, [records[0]])
        assert refused.status_code == 422 and refused.json()["field"] == "records[0].plan"
        assert _predict(server, [records[1]]).status_code == 200
