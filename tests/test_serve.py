"""End-to-end: `gitmlops serve` and deploy bundles as real servers on 127.0.0.1, over HTTP."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import requests

from gitmlops.serve.model import load_booster, load_bundle
from gitmlops.serve.schema import RequestParser
from tests.conftest import invoke
from tests.serve_fixtures import ServerProcess, free_port, gitmlops_argv, make_bundle, sample_records

KEY = "s3cret-key-for-tests"
AUTH = {"X-API-Key": KEY}
pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("serve") / "churn")


@pytest.fixture(scope="module", params=["fast", "litserve"])
def server(
    request: pytest.FixtureRequest, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """The same server under each engine: every test using it runs against both."""
    profile_dir = tmp_path_factory.mktemp(f"profiles-{request.param}") / "serving"
    port = free_port()
    argv = gitmlops_argv(
        "serve", str(model_dir), "--engine", request.param, "--port", str(port), "--api-key-env", "TEST_SERVE_KEY",
        "--max-rows", "50", "--max-body-bytes", "20000", "--max-batch-size", "8",
        "--profile-dir", str(profile_dir), "--profile-rows", "40", "--profile-seconds", "0.5",
    )
    with ServerProcess(argv, port, env={"TEST_SERVE_KEY": KEY}).start() as proc:
        proc.profile_dir = profile_dir
        proc.engine = request.param
        yield proc


def expected_predictions(model_dir: Path, records: list[dict[str, object]]) -> np.ndarray:
    bundle = load_bundle(model_dir)
    booster = load_booster(bundle.model_file, bundle.info.md5)
    matrix = RequestParser(bundle.schema, 10_000).parse(json.dumps({"records": records}).encode())
    return booster.inplace_predict(matrix, validate_features=False)


def post(server: ServerProcess, payload: object, headers: dict[str, str] | None = None, raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(payload).encode()
    return requests.post(server.url + "/predict", data=data, headers={**AUTH, **(headers or {})}, timeout=10)


def test_predictions_match_the_booster(server: ServerProcess, model_dir: Path) -> None:
    records = sample_records(20)
    answer = post(server, {"records": records})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == "churn"
    assert len(body["predictions"]) == 20
    expected = expected_predictions(model_dir, records)
    got = np.array([p["probability"] for p in body["predictions"]])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert [p["label"] for p in body["predictions"]] == [int(p >= 0.5) for p in expected.tolist()]


def test_concurrent_requests_get_their_own_answers(server: ServerProcess, model_dir: Path) -> None:
    """Batching across requests must never mix answers up."""
    records = sample_records(60, seed=7)
    expected = expected_predictions(model_dir, records)

    def one(i: int) -> float:
        answer = post(server, {"records": [records[i]]})
        assert answer.status_code == 200, answer.text
        return answer.json()["predictions"][0]["probability"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        got = list(pool.map(one, range(60)))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("raw", "status", "field"),
    [
        (b"not json", 400, None),
        (b'{"records": []}', 422, "records"),
        (b'{"records": [{"tenure_months": 1}]}', 422, "records[0].monthly_charges"),
        (b'{"records": [{"tenure_months": 1, "monthly_charges": NaN, "plan": "pro", "has_partner": true}]}',
         422, "records[0].monthly_charges"),
        (b'{"records": [{"tenure_months": "1", "monthly_charges": 1, "plan": "pro", "has_partner": true}]}',
         422, "records[0].tenure_months"),
        (b'{"records": [{"tenure_months": 1, "monthly_charges": 1, "plan": "pro", "has_partner": true, "x": 1}]}',
         422, "records[0].x"),
        # issue 19: once a plain-text 500 with a traceback in the log
        (b'{"records": [{"tenure_months": ' + b"9" * 400 + b', "monthly_charges": 1, "plan": "pro",'
         b' "has_partner": true}]}', 422, "records[0].tenure_months"),
        (b"[" * 2000 + b"]" * 2000, 400, None),
        (b'{"records": [{"\\ud800": 1, "tenure_months": 1, "monthly_charges": 1, "plan": "pro",'
         b' "has_partner": true}]}', 422, "records[0].\\ud800"),
        (b'{"\\ud800": []}', 400, "\\ud800"),
        (b'{"records": [{"tenure_months": 1, "monthly_charges": 1e300, "plan": "pro", "has_partner": true}]}',
         422, "records[0].monthly_charges"),
    ],
)
def test_bad_requests_are_answered_with_the_field(server: ServerProcess, raw: bytes, status: int, field: str) -> None:
    answer = post(server, None, raw=raw)
    assert answer.status_code == status
    assert answer.json()["field"] == field
    assert post(server, {"records": sample_records(1)}).status_code == 200  # still serving


def test_limits_answer_413(server: ServerProcess) -> None:
    too_many = post(server, {"records": sample_records(51)})
    assert too_many.status_code == 413 and "51 > 50" in too_many.json()["detail"]
    too_big = post(server, None, raw=b'{"records": [' + b" " * 30_000 + b"]}")
    assert too_big.status_code == 413 and "too large" in too_big.json()["detail"]
    # a chunked upload without Content-Length is cut off at the limit too
    chunked = requests.post(
        server.url + "/predict", data=iter([b'{"records": [', b" " * 25_000, b"]}"]), headers=AUTH, timeout=10
    )
    assert chunked.status_code == 413
    assert post(server, {"records": sample_records(1)}).status_code == 200


def test_api_key_guards_every_route_but_health(server: ServerProcess) -> None:
    assert requests.get(server.url + "/health", timeout=5).status_code == 200
    for method, path in [("post", "/predict"), ("get", "/info"), ("get", "/metrics")]:
        for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
            answer = requests.request(method, server.url + path, headers=headers, timeout=5, json={"records": []})
            assert answer.status_code == 401, (path, headers)
            assert KEY not in answer.text
    bearer = requests.post(
        server.url + "/predict", json={"records": sample_records(1)},
        headers={"Authorization": f"Bearer {KEY}"}, timeout=5,
    )
    assert bearer.status_code == 200


def test_info_describes_the_model(server: ServerProcess, model_dir: Path) -> None:
    info = requests.get(server.url + "/info", headers=AUTH, timeout=5).json()["model"]
    assert info["name"] == "churn"
    assert info["md5"] == load_bundle(model_dir).info.md5
    assert [f["name"] for f in info["schema"]["features"]] == [
        "tenure_months", "monthly_charges", "plan", "has_partner"
    ]
    assert "metrics" in info and "commit" in info and "tag" in info


def test_metrics_count_requests_errors_and_batches(server: ServerProcess) -> None:
    post(server, {"records": sample_records(2)})
    post(server, None, raw=b"{}")
    text = requests.get(server.url + "/metrics", headers=AUTH, timeout=5).text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    assert values['gitmlops_requests_total{route="/predict",status="200"}'] >= 1
    assert values['gitmlops_requests_total{route="/predict",status="400"}'] >= 1
    assert values["gitmlops_request_duration_seconds_count"] >= 2
    assert values["gitmlops_batch_size_count"] >= 1
    assert values["gitmlops_rows_total"] >= 2


def _wait_for_profiles(folder: Path, timeout: float = 20.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not list(folder.glob("*.bin")):
        time.sleep(0.2)
    profiles = sorted(folder.glob("*.bin"))
    assert profiles, f"no profile written into {folder}"
    return profiles


def _served_profiles(server: ServerProcess) -> list[Path]:
    assert server.profile_dir is not None
    for _ in range(3):
        assert post(server, {"records": sample_records(20, seed=3)}).status_code == 200
    return _wait_for_profiles(server.profile_dir)


SERVED_COLUMNS = {"tenure_months", "monthly_charges", "plan", "has_partner", "prediction", "prediction_probability"}


def test_profiles_of_served_requests_are_written(server: ServerProcess) -> None:
    from gitmlops.monitor.sketches import read_view

    profiles = _served_profiles(server)
    view = read_view(profiles[0])
    assert set(view.get_columns()) >= SERVED_COLUMNS
    assert view.get_column("plan").count == view.get_column("prediction").count > 0
    assert profiles[0].with_suffix(".json").is_file()  # the monitoring summary next to it


@pytest.mark.interop
def test_served_profiles_read_in_whylogs(server: ServerProcess) -> None:
    from whylogs.core import DatasetProfileView

    from gitmlops.monitor.sketches import read_view

    for path in _served_profiles(server):
        view = DatasetProfileView.read(str(path))
        assert set(view.get_columns()) >= SERVED_COLUMNS
        ours = read_view(path).get_column("tenure_months")
        assert view.get_column("tenure_months").to_summary_dict()["counts/n"] == ours.count


@dataclass
class BundleRun:
    """A deploy bundle built from ``model_dir`` and served (gitmlops, DVC and git unimportable)."""

    folder: Path
    answer: requests.Response
    records: list[dict[str, object]]
    profiles: list[Path]


@pytest.fixture(scope="module")
def bundle_run(server: ServerProcess, model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> BundleRun:
    tmp_path = tmp_path_factory.mktemp(f"bundle-{server.engine}")
    out = tmp_path / "bundle"
    result = invoke(None, "deploy", "bundle", str(model_dir), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    shape = json.loads(result.output)
    assert shape["path"] == str(out) and shape["model"] == "churn"
    for name in ("model.ubj", "schema.json", "metadata.json", "serve_app.py", "requirements.txt", "Dockerfile",
                 "gitmlops_serve/profile_format.py", "gitmlops_serve/profile_build.py"):
        assert name in shape["files"]
    # Run it with gitmlops, DVC, GitPython and whylogs made unimportable, no git on PATH, outside any repo.
    launcher = tmp_path / "launch.py"
    launcher.write_text(
        "import runpy, sys\n"
        "for blocked in ('gitmlops', 'dvc', 'git', 'whylogs'):\n"
        "    sys.modules[blocked] = None\n"
        f"sys.argv = [{str(out / 'serve_app.py')!r}] + sys.argv[1:]\n"
        f"runpy.run_path({str(out / 'serve_app.py')!r}, run_name='__main__')\n"
    )
    port = free_port()
    env = {"PATH": str(Path(sys.executable).parent), "PYTHONPATH": ""}
    records = sample_records(10, seed=5)
    profile_dir = tmp_path / "served"
    argv = [sys.executable, str(launcher), "--port", str(port), "--engine", server.engine,
            "--profile-dir", str(profile_dir), "--profile-rows", "5", "--profile-seconds", "0.5"]
    with ServerProcess(argv, port, env=env, cwd=tmp_path).start() as app:
        answer = requests.post(app.url + "/predict", json={"records": records}, timeout=10)
        profiles = _wait_for_profiles(profile_dir)
    return BundleRun(out, answer, records, profiles)


def test_deploy_bundle_serves_the_same_without_git_or_dvc(server: ServerProcess, bundle_run: BundleRun) -> None:
    out = bundle_run.folder
    pinned = (out / "requirements.txt").read_text()
    assert "litserve==" in pinned and "datasketches==" in pinned and "protobuf==" in pinned
    assert "whylogs" not in pinned and "WHYLOGS" not in (out / "Dockerfile").read_text()
    assert "GITMLOPS_ENGINE=fast" in (out / "Dockerfile").read_text()
    from_serve = post(server, {"records": bundle_run.records})
    assert bundle_run.answer.status_code == 200, bundle_run.answer.text
    assert bundle_run.answer.json() == from_serve.json()


def test_deploy_bundle_writes_profiles_without_whylogs(bundle_run: BundleRun) -> None:
    from gitmlops.monitor.sketches import merge_views, read_view

    merged = merge_views([read_view(path) for path in bundle_run.profiles])
    assert set(merged.get_columns()) >= SERVED_COLUMNS
    plans = dict(merged.get_column("plan").frequent_items())
    assert sum(plans.values()) <= len(bundle_run.records)
    assert set(plans) <= {str(r["plan"]) for r in bundle_run.records}


@pytest.mark.interop
def test_deploy_bundle_profiles_read_in_whylogs(bundle_run: BundleRun) -> None:
    from whylogs.core import DatasetProfileView

    from gitmlops.monitor.sketches import read_view

    for path in bundle_run.profiles:
        view = DatasetProfileView.read(str(path))
        assert set(view.get_columns()) >= SERVED_COLUMNS
        assert view.get_column("plan").to_summary_dict()["counts/n"] == read_view(path).get_column("plan").count


def test_tampered_bundle_refuses_to_serve(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    assert invoke(None, "deploy", "bundle", str(model_dir), "-o", str(out)).exit_code == 0
    with open(out / "model.ubj", "ab") as fh:
        fh.write(b"\0")
    import subprocess

    proc = subprocess.run(
        [sys.executable, str(out / "serve_app.py"), "--port", str(free_port())],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "md5 mismatch" in proc.stderr and "refusing to serve" in proc.stderr


# -- bad input through the CLI (nothing starts) ----------------------------------------------------


def test_unknown_ref(git_repo: Path) -> None:
    result = invoke(git_repo, "serve", "no-such-folder")
    assert result.exit_code == 2
    assert "neither a folder nor a registry reference" in result.output


def test_unknown_registry_ref(git_repo: Path) -> None:
    result = invoke(git_repo, "serve", "churn#prod")
    assert result.exit_code == 2
    assert "churn" in result.output


def test_md5_mismatch_refuses_to_serve(model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    for name in ("model.ubj", "schema.json"):
        (folder / name).write_bytes((model_dir / name).read_bytes())
    (folder / "metadata.json").write_text(json.dumps({"name": "churn", "md5": "0" * 32}))
    result = invoke(None, "serve", str(folder), "--port", str(free_port()))
    assert result.exit_code == 2
    assert "md5 mismatch" in result.output and "refusing to serve" in result.output


def test_missing_model_file(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "schema.json").write_text("{}")
    result = invoke(None, "serve", str(tmp_path / "m"))
    assert result.exit_code == 2 and "no model file" in result.output


def test_port_in_use(model_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke(None, "serve", str(model_dir), "--port", str(port))
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "--port" in result.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--port", "80"], "80"),
        (["--port", "http"], "http"),
        (["--workers", "0"], "0"),
        (["--max-batch-size", "0"], "0"),
        (["--batch-timeout", "-1"], "-1"),
        (["--host", "example.com"], "host must be one of"),
        (["--batch-timeout", "40"], "batch timeout"),
        (["--api-key-env", "GITMLOPS_TEST_UNSET_VAR"], "GITMLOPS_TEST_UNSET_VAR"),
    ],
)
def test_bad_option_values(model_dir: Path, args: list[str], words: str) -> None:
    result = invoke(None, "serve", str(model_dir), *args)
    assert result.exit_code == 2, result.output
    assert words in result.output


def test_bundle_refuses_a_non_empty_output(model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    result = invoke(None, "deploy", "bundle", str(model_dir), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and "--force" in result.output
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_openapi_describes_predict_from_the_feature_schema(server: ServerProcess) -> None:
    doc = requests.get(server.url + "/openapi.json", headers=AUTH, timeout=5).json()
    assert doc["openapi"].startswith("3.")
    record = doc["components"]["schemas"]["Record"]
    props = record["properties"]
    assert props["tenure_months"]["type"] == "integer"  # not nullable
    assert props["monthly_charges"]["type"] == ["number", "null"]  # nullable
    assert props["plan"]["enum"] == ["basic", "premium", "pro"]
    assert props["has_partner"]["type"] == "boolean"
    assert record["required"] == ["tenure_months", "monthly_charges", "plan", "has_partner"]
    post_op = doc["paths"]["/predict"]["post"]
    assert {"application/json", "text/csv"} <= set(post_op["requestBody"]["content"])
    assert {"200", "400", "413", "422", "504"} <= set(post_op["responses"])
    page = requests.get(server.url + "/docs", headers=AUTH, timeout=5)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "openapi.json" in page.text and "<script src" not in page.text and "https://" not in page.text


def test_dataframe_split_and_csv_bodies_predict_the_same(server: ServerProcess) -> None:
    records = sample_records(5, seed=11)
    names = list(records[0])
    as_records = post(server, {"records": records})
    split = post(server, {"dataframe_split": {"columns": names, "data": [[r[n] for n in names] for r in records]}})

    def cell(value: object) -> str:
        return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)

    csv_body = "\n".join([",".join(names), *(",".join(cell(r[n]) for n in names) for r in records)]) + "\n"
    as_csv = post(server, None, headers={"Content-Type": "text/csv"}, raw=csv_body.encode())
    assert as_records.status_code == split.status_code == as_csv.status_code == 200, as_csv.text
    assert as_records.json() == split.json()
    got = [p["probability"] for p in as_csv.json()["predictions"]]
    np.testing.assert_allclose(got, [p["probability"] for p in as_records.json()["predictions"]], rtol=1e-6)
    # an unseen category is scored as missing (the default rule, as evaluate does); a bad number is refused
    unseen = post(server, None, headers={"Content-Type": "text/csv"},
                  raw=b"tenure_months,monthly_charges,plan,has_partner\n1,2,gold,true\n")
    assert unseen.status_code == 200, unseen.text
    as_json = post(server, {"records": [{"tenure_months": 1, "monthly_charges": 2, "plan": "gold", "has_partner": True}]})
    assert as_json.status_code == 200 and unseen.json()["predictions"] == as_json.json()["predictions"]
    bad_csv = b"tenure_months,monthly_charges,plan,has_partner\nmany,2,basic,true\n"
    bad = post(server, None, headers={"Content-Type": "text/csv"}, raw=bad_csv)
    assert bad.status_code == 422 and bad.json()["field"] == "records[0].tenure_months", bad.text
    row = [records[0][n] for n in names]
    too_many = post(server, {"dataframe_split": {"columns": names, "data": [row] * 51}})
    assert too_many.status_code == 413


def test_a_lone_model_also_answers_at_its_models_path(server: ServerProcess) -> None:
    records = sample_records(3, seed=2)
    at_models = requests.post(server.url + "/models/churn/predict", json={"records": records}, headers=AUTH, timeout=10)
    assert at_models.status_code == 200, at_models.text
    assert at_models.json() == post(server, {"records": records}).json()
    info = requests.get(server.url + "/info", headers=AUTH, timeout=5).json()
    assert info["models"] == [info["model"]] and info["model"]["route"] == "/models/churn/predict"
    one = requests.get(server.url + "/models/churn/info", headers=AUTH, timeout=5).json()
    assert one["model"] == info["model"]
    unknown = requests.post(server.url + "/models/revenue/predict", json={"records": records}, headers=AUTH, timeout=5)
    assert unknown.status_code == 404 and unknown.json()["detail"].endswith("the models are churn")
    doc = requests.get(server.url + "/openapi.json", headers=AUTH, timeout=5).json()
    assert doc["paths"]["/models/churn/predict"] == doc["paths"]["/predict"]


@pytest.mark.parametrize("engine", ["fast", "litserve"])
def test_sigterm_to_the_server_stops_it_promptly_and_quietly(model_dir: Path, engine: str) -> None:
    # `docker stop` signals the first process only; its children stop with it, none prints a traceback.
    port = free_port()
    proc = ServerProcess(gitmlops_argv("serve", str(model_dir), "--engine", engine, "--port", str(port)), port)
    with proc.start():
        assert proc.proc is not None
        assert requests.post(proc.url + "/predict", json={"records": sample_records(1)}, timeout=10).status_code == 200
        t0 = time.monotonic()
        proc.proc.terminate()
        code = proc.proc.wait(timeout=30)
        took = time.monotonic() - t0
        output = proc.output()
    assert code == 0, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert took < 15, f"{engine} took {took:.1f} s to stop"
