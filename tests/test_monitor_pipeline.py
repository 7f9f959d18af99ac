"""Drift of production batches against a trained model's reference profile (the example project)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitmlops.errors import EXIT_CHECK_FAILED
from gitmlops.example import write_csv
from tests.conftest import invoke

pytestmark = pytest.mark.slow


def test_production_batches_against_the_model_reference(trained_repo: Path) -> None:
    normal = write_csv(trained_repo / "prod" / "normal.csv", n_rows=2000, seed=101)
    drifted = write_csv(trained_repo / "prod" / "drifted.csv", n_rows=2000, seed=102, drifted=True)
    # Production data usually has no labels yet.
    unlabeled = trained_repo / "prod" / "unlabeled.csv"
    unlabeled.write_text("\n".join(",".join(line.split(",")[:-1]) for line in normal.read_text().splitlines()) + "\n")

    result = invoke(trained_repo, "monitor", "diff", "--target", str(normal), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["verdict"] == "no_drift", report
    by_column = {c["column"]: c for c in report["columns"]}
    assert by_column["customer_id"]["rule"] == "skipped"  # data.drop_columns: the model never sees it
    assert report["added"] == [] and report["removed"] == []

    result = invoke(trained_repo, "monitor", "diff", "--target", str(unlabeled), "--format", "json")
    report = json.loads(result.output)
    assert report["verdict"] == "no_drift", report
    assert {c["column"]: c for c in report["columns"]}["churned"]["rule"] == "skipped"

    result = invoke(trained_repo, "monitor", "diff", "--target", str(drifted), "--format", "json",
                    "--fail-on", "possible")
    assert result.exit_code == EXIT_CHECK_FAILED
    report = json.loads(result.output.split("\nerror:")[0])
    # 2 of 6 compared columns drifted: below the dataset share (0.5), so the dataset verdict is "possible".
    assert report["verdict"] == "possible_drift"
    drifted_columns = {c["column"] for c in report["columns"] if c["category"] == "drift"}
    assert {"monthly_charges", "plan"} <= drifted_columns
    assert drifted_columns <= {"monthly_charges", "plan", "churned"}
