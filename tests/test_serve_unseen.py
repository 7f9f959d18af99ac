"""End-to-end: category values unseen in training, served over HTTP, counted in /metrics and in the
serving profile, and shown by `monitor collect` and `monitor diff` (both engines, real servers)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from gitmlops.serve.model import load_booster, load_bundle
from tests.conftest import git, init_git, invoke
from tests.serve_fixtures import (
    ServerProcess,
    free_port,
    gitmlops_argv,
    make_bundle,
    sample_records,
    training_frame,
)

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
#: plan values the model never saw, per request (the 20-record request takes the numpy path)
BIG, SMALL = 20, 1


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("unseen") / "churn")


@pytest.fixture(scope="module", params=["fast", "litserve"])
def served(request: pytest.FixtureRequest, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[ServerProcess, list[dict[str, object]], dict[str, object]]]:
    """A server that was sent 6 unseen plan values in two answered requests (and 1 in a refused one);
    with the records it answered and its answer to the last one."""
    profile_dir = tmp_path_factory.mktemp(f"unseen-{request.param}") / "serving"
    port = free_port()
    argv = gitmlops_argv("serve", str(model_dir), "--engine", request.param, "--port", str(port),
                         "--profile-dir", str(profile_dir), "--profile-seconds", "0.3")
    with ServerProcess(argv, port).start() as proc:
        proc.profile_dir, proc.engine = profile_dir, request.param
        big = [{**r, "plan": "gold"} if i % 4 == 0 else r for i, r in enumerate(sample_records(BIG, seed=5))]
        small = [{**sample_records(SMALL, seed=6)[0], "plan": "platinum"}]
        refused = [{**small[0], "tenure_months": "many"}, {**small[0], "plan": "diamond"}]
        answers = []
        for records, status in ((big, 200), (small, 200), (refused, 422)):
            answer = requests.post(proc.url + "/predict", json={"records": records}, timeout=10)
            assert answer.status_code == status, answer.text
            answers.append(answer.json())
        yield proc, big + small, answers[1]


def metrics(server: ServerProcess) -> dict[str, float]:
    lines = requests.get(server.url + "/metrics", timeout=5).text.splitlines()
    return {k: float(v) for k, v in (line.rsplit(" ", 1) for line in lines if line and not line.startswith("#"))}


def test_unseen_values_are_scored_as_missing_and_counted_in_metrics(
    served: tuple[ServerProcess, list[dict[str, object]], dict[str, object]], model_dir: Path
) -> None:
    server, records, answer = served
    values = metrics(server)
    # 5 of the 20-record request + 1; the refused request's "diamond" is not counted (it was not scored)
    assert values['gitmlops_unseen_categories_total{column="plan"}'] == 6
    assert values['gitmlops_requests_total{route="/predict",status="422"}'] == 1
    # the unseen rows were answered as the booster scores a missing plan
    bundle = load_bundle(model_dir)
    booster = load_booster(bundle.model_file, bundle.info.md5)
    row = records[-1]
    features = [row["tenure_months"], row["monthly_charges"], np.nan, float(bool(row["has_partner"]))]
    matrix = np.array([[np.nan if v is None else v for v in features]], dtype=np.float32)
    np.testing.assert_allclose(answer["predictions"][0]["probability"],  # type: ignore[index]
                               booster.inplace_predict(matrix, validate_features=False)[0], rtol=1e-6)


def test_serving_profile_counts_unseen_values_and_drift_report_shows_them(
    served: tuple[ServerProcess, list[dict[str, object]], dict[str, object]], tmp_path: Path
) -> None:
    from gitmlops.monitor import profile_dataframe, read_view, write_profile

    server, records, _ = served
    assert server.profile_dir is not None
    profile_dir = server.profile_dir
    deadline = time.monotonic() + 30
    rows = 0
    while time.monotonic() < deadline:
        summaries = [json.loads(p.read_text()) for p in profile_dir.glob("*.json")]
        rows = sum(s["profile"]["rows"] for s in summaries)
        if rows == len(records):
            break
        time.sleep(0.2)
    assert rows == len(records), f"profiles hold {rows} rows"
    repo = init_git(tmp_path / "repo")
    (repo / "README.md").write_text("x\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "initial")
    collected = invoke(repo, "monitor", "collect", str(profile_dir), "--name", "requests", "--json")
    assert collected.exit_code == 0, collected.output
    shape = json.loads(collected.output)
    summary = json.loads((repo / shape["summary"]).read_text())
    assert summary["profile"]["unseen_categories"] == {"plan": 6}
    assert summary["columns"]["plan"]["null_count"] == 6  # scored as missing: nulls in the column
    merged = repo / shape["path"]
    # still whylogs' own format, read by gitmlops' reader of it (the counts ride in its metadata;
    # whylogs itself reading merged profiles: the interop tests of test_profile_format.py)
    assert read_view(merged).get_column("plan").count == len(records)
    reference = tmp_path / "reference.bin"
    frame = training_frame()
    write_profile(profile_dataframe(frame.assign(plan=frame["plan"].astype(str))), reference)
    report = invoke(repo, "monitor", "diff", "--reference", str(reference), "--target", str(merged), "--json")
    assert report.exit_code == 0, report.output
    plan = next(c for c in json.loads(report.output)["columns"] if c["column"] == "plan")
    assert plan["target_unseen"] == 6
    assert "6 values" in plan["reason"] and "unseen in training" in plan["reason"]
    markdown = invoke(repo, "monitor", "diff", "--reference", str(reference), "--target", str(merged))
    assert "unseen in training" in markdown.output
