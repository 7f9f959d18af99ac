"""Several models from one server, under both engines: real servers on 127.0.0.1, over HTTP.

A binary classifier, a regressor and a multi-class model (trained with XGBoost for real) are served
by one `gitmlops serve` process; each answers at /models/NAME/predict, batches in its own workers
and is counted under its own name in /metrics.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from gitmlops.serve.model import load_booster, load_bundle
from gitmlops.serve.schema import RequestParser
from tests.conftest import invoke
from tests.serve_fixtures import ServerProcess, free_port, gitmlops_argv, make_bundle, sample_records

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
TASKS = {"churn": "binary", "revenue": "regression", "segment": "multiclass"}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("multi")
    return {name: make_bundle(base / name, task=task, seed=i) for i, (name, task) in enumerate(TASKS.items())}


@pytest.fixture(scope="module", params=["fast", "litserve"])
def server(
    request: pytest.FixtureRequest, models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    port = free_port()
    profile_dir = tmp_path_factory.mktemp(f"multi-profiles-{request.param}")
    argv = gitmlops_argv("serve", *map(str, models.values()), "--engine", request.param, "--port", str(port),
                         "--max-batch-size", "8", "--profile-dir", str(profile_dir), "--profile-rows", "10",
                         "--profile-seconds", "0.5")
    with ServerProcess(argv, port).start() as proc:
        proc.engine = request.param
        proc.profile_dir = profile_dir
        yield proc


def expected(folder: Path, records: list[dict[str, object]]) -> np.ndarray:
    bundle = load_bundle(folder)
    booster = load_booster(bundle.model_file, bundle.info.md5)
    matrix = RequestParser(bundle.schema, 10_000).parse(json.dumps({"records": records}).encode())
    return booster.inplace_predict(matrix, validate_features=False)


def predict(server: ServerProcess, name: str, records: list[dict[str, Any]]) -> requests.Response:
    return requests.post(f"{server.url}/models/{name}/predict", json={"records": records}, timeout=10)


def metric_values(server: ServerProcess) -> dict[str, float]:
    values = {}
    for line in requests.get(server.url + "/metrics", timeout=5).text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_each_model_answers_at_its_own_path(server: ServerProcess, models: dict[str, Path]) -> None:
    records = sample_records(12, seed=4)
    churn = predict(server, "churn", records)
    revenue = predict(server, "revenue", records)
    segment = predict(server, "segment", records)
    assert churn.status_code == revenue.status_code == segment.status_code == 200, (churn.text, revenue.text)
    assert [churn.json()["model"], revenue.json()["model"], segment.json()["model"]] == ["churn", "revenue", "segment"]
    got = [p["probability"] for p in churn.json()["predictions"]]
    np.testing.assert_allclose(got, expected(models["churn"], records), rtol=1e-6)
    values = [p["value"] for p in revenue.json()["predictions"]]
    np.testing.assert_allclose(values, expected(models["revenue"], records), rtol=1e-6)
    probs = expected(models["segment"], records)
    assert [p["label"] for p in segment.json()["predictions"]] == [["blue", "green", "red"][i] for i in probs.argmax(1)]


def test_concurrent_requests_to_several_models_get_their_own_answers(
    server: ServerProcess, models: dict[str, Path]
) -> None:
    records = sample_records(40, seed=9)
    want = {"churn": expected(models["churn"], records), "revenue": expected(models["revenue"], records)}

    def one(i: int) -> tuple[str, int, float]:
        name = "churn" if i % 2 else "revenue"
        answer = predict(server, name, [records[i // 2]])
        assert answer.status_code == 200, answer.text
        prediction = answer.json()["predictions"][0]
        return name, i // 2, prediction["probability" if name == "churn" else "value"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        for name, row, value in pool.map(one, range(80)):
            assert value == pytest.approx(float(want[name][row]), rel=1e-6)


def test_unknown_model_and_bare_predict_are_404_listing_the_models(server: ServerProcess) -> None:
    body = {"records": sample_records(1)}
    unknown = requests.post(server.url + "/models/nope/predict", json=body, timeout=5)
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "no model 'nope' is served here; the models are churn, revenue, segment",
                              "field": None}
    bare = requests.post(server.url + "/predict", json=body, timeout=5)
    assert bare.status_code == 404 and "/models/NAME/predict" in bare.json()["detail"]
    assert "churn, revenue, segment" in bare.json()["detail"]
    wrong_method = requests.get(server.url + "/models/churn/predict", timeout=5)
    assert wrong_method.status_code == 405 and wrong_method.json()["detail"] == "use POST /models/churn/predict"
    bad = requests.post(server.url + "/models/revenue/predict", json={"records": [{"tenure_months": 1}]}, timeout=5)
    assert bad.status_code == 422 and bad.json()["field"] == "records[0].monthly_charges"


def test_info_lists_each_model_with_its_schema(server: ServerProcess, models: dict[str, Path]) -> None:
    info = requests.get(server.url + "/info", timeout=5).json()
    assert "model" not in info  # several models: no single one
    listed = {m["name"]: m for m in info["models"]}
    assert list(listed) == ["churn", "revenue", "segment"]
    for name, folder in models.items():
        assert listed[name]["schema"]["task"] == TASKS[name]
        assert listed[name]["md5"] == load_bundle(folder).info.md5
        assert listed[name]["route"] == f"/models/{name}/predict"
    one = requests.get(server.url + "/models/revenue/info", timeout=5).json()
    assert one["model"] == listed["revenue"] and one["server"]["engine"] == server.engine
    assert requests.get(server.url + "/models/nope/info", timeout=5).status_code == 404


def test_metrics_are_labelled_per_model_and_each_model_batches_alone(server: ServerProcess) -> None:
    before = metric_values(server)
    assert predict(server, "churn", sample_records(3)).status_code == 200
    for _ in range(2):
        assert predict(server, "segment", sample_records(2)).status_code == 200
    after = metric_values(server)

    def grew(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert grew('gitmlops_requests_total{model="churn",route="/predict",status="200"}') == 1
    assert grew('gitmlops_requests_total{model="segment",route="/predict",status="200"}') == 2
    assert grew('gitmlops_requests_total{model="revenue",route="/predict",status="200"}') == 0
    assert grew('gitmlops_rows_total{model="churn"}') == 3
    assert grew('gitmlops_rows_total{model="segment"}') == 4
    assert grew('gitmlops_batch_size_count{model="segment"}') == 2  # its own model calls
    assert grew('gitmlops_batch_size_count{model="revenue"}') == 0
    md5 = requests.get(server.url + "/models/revenue/info", timeout=5).json()["model"]["md5"]
    assert after[f'gitmlops_model_info{{model="revenue",name="revenue",version="",md5="{md5}"}}'] == 1


def test_openapi_and_docs_cover_every_model(server: ServerProcess) -> None:
    doc = requests.get(server.url + "/openapi.json", timeout=5).json()
    for name in TASKS:
        post = doc["paths"][f"/models/{name}/predict"]["post"]
        ref = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]["properties"]["records"]
        assert ref["items"] == {"$ref": f"#/components/schemas/Record.{name}"}
        assert f"/models/{name}/info" in doc["paths"]
    assert "/predict" not in doc["paths"]
    assert doc["components"]["schemas"]["Record.segment"]["properties"]["plan"]["enum"] == ["basic", "premium", "pro"]
    revenue = doc["paths"]["/models/revenue/predict"]["post"]["responses"]["200"]["content"]["application/json"]
    assert revenue["schema"]["properties"]["predictions"]["items"]["properties"] == {"value": {"type": "number"}}
    page = requests.get(server.url + "/docs", timeout=5)
    assert page.status_code == 200 and 'key.startsWith("Record.")' in page.text


def test_each_model_profiles_its_requests_into_its_own_folder(server: ServerProcess) -> None:
    import time

    assert server.profile_dir is not None
    assert predict(server, "churn", sample_records(15, seed=3)).status_code == 200
    assert predict(server, "revenue", sample_records(15, seed=3)).status_code == 200
    deadline = time.monotonic() + 20
    folders = [server.profile_dir / "churn", server.profile_dir / "revenue"]
    while time.monotonic() < deadline and not all(list(f.glob("*.bin")) for f in folders):
        time.sleep(0.2)
    from gitmlops.monitor import read_view  # gitmlops' own reader of whylogs' format (no whylogs needed)

    churn = read_view(sorted(folders[0].glob("*.bin"))[0])
    revenue = read_view(sorted(folders[1].glob("*.bin"))[0])
    assert "prediction_probability" in churn.get_columns()  # the classifier's
    assert "prediction" in revenue.get_columns() and "prediction_probability" not in revenue.get_columns()
    assert not list(server.profile_dir.glob("*.bin"))  # nothing mixed at the top


# -- bad input through the CLI (nothing starts) ----------------------------------------------------


def test_two_folders_of_the_same_model_name_are_refused(models: dict[str, Path], tmp_path: Path) -> None:
    other = make_bundle(tmp_path / "elsewhere" / "churn", rounds=3)
    port = free_port()
    result = invoke(None, "serve", str(models["churn"]), str(other), "--port", str(port))
    assert result.exit_code == 2, result.output
    assert "are both model 'churn'" in result.output and "pass each model once" in result.output


def test_two_references_to_one_model_are_refused_before_fetching(git_repo: Path) -> None:
    # no such artifact in this repo: the name clash is found first, from the references alone
    result = invoke(git_repo, "serve", "churn#prod", "churn@v1.0.0", "--port", str(free_port()))
    assert result.exit_code == 2, result.output
    assert "churn#prod and churn@v1.0.0 are both model 'churn'" in result.output
    clash = invoke(git_repo, "serve", "a:churn#prod", "b/c:churn#prod", "--port", str(free_port()))
    assert clash.exit_code == 2 and "are both model 'churn'" in clash.output, clash.output


def test_a_deploy_bundle_of_several_models_serves_them_all_without_gitmlops(
    server: ServerProcess, models: dict[str, Path], tmp_path: Path
) -> None:
    import sys

    out = tmp_path / "bundle"
    result = invoke(None, "deploy", "bundle", *map(str, models.values()), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    shape = json.loads(result.output)
    assert [m["name"] for m in shape["models"]] == ["churn", "revenue", "segment"]
    assert shape["model"] == "churn, revenue, segment" and shape["md5"] == ""
    for name in TASKS:
        for file in ("model.ubj", "schema.json", "metadata.json"):
            assert f"models/{name}/{file}" in shape["files"]
    assert json.loads((out / "models.json").read_text())["models"][1] == {"name": "revenue", "folder": "models/revenue"}
    launcher = tmp_path / "launch.py"
    launcher.write_text(
        "import runpy, sys\n"
        "for blocked in ('gitmlops', 'dvc', 'git'):\n"
        "    sys.modules[blocked] = None\n"
        f"sys.argv = [{str(out / 'serve_app.py')!r}] + sys.argv[1:]\n"
        f"runpy.run_path({str(out / 'serve_app.py')!r}, run_name='__main__')\n"
    )
    port = free_port()
    env = {"PATH": str(Path(sys.executable).parent), "PYTHONPATH": ""}
    records = sample_records(6, seed=8)
    argv = [sys.executable, str(launcher), "--port", str(port), "--engine", server.engine]
    with ServerProcess(argv, port, env=env, cwd=tmp_path).start() as app:
        for name in TASKS:
            from_bundle = predict(app, name, records)
            assert from_bundle.status_code == 200, from_bundle.text
            assert from_bundle.json() == predict(server, name, records).json()
        assert requests.post(app.url + "/predict", json={"records": records}, timeout=5).status_code == 404
    # served again through `gitmlops serve BUNDLE`: the same models
    again = invoke(None, "deploy", "bundle", str(out), "-o", str(tmp_path / "again"), "--json")
    assert again.exit_code == 0, again.output
    assert [m["md5"] for m in json.loads(again.output)["models"]] == [m["md5"] for m in shape["models"]]


def test_a_bundle_refuses_two_models_of_one_name(models: dict[str, Path], tmp_path: Path) -> None:
    other = make_bundle(tmp_path / "b" / "revenue", task="regression", rounds=3)
    result = invoke(None, "deploy", "bundle", str(models["revenue"]), str(other), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and "are both model 'revenue'" in result.output, result.output
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["b"]  # no staging folder left behind
