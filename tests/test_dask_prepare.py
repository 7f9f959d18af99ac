"""`data.engine: dask`: prepare reads and splits data.path on the Dask cluster (no process holds it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gitmlops.errors import EXIT_USAGE
from tests.conftest import dvc, invoke

pytestmark = pytest.mark.slow
ON_DASK = ("data.engine=dask", "train.backend=dask", "dask.processes=false", "dask.partition_size=64KiB")


def prepared_md5(repo: Path) -> str:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return lock["stages"]["prepare"]["outs"][0]["md5"]


def test_prepare_and_train_on_dask(example_repo: Path) -> None:
    result = invoke(example_repo, "run", *ON_DASK, "--json")
    assert result.exit_code == 0, result.output
    prepared = example_repo / "data" / "prepared"
    parts = sorted(p.name for p in (prepared / "train.parquet").iterdir())
    assert len(parts) >= 2 and all(name.endswith(".parquet") for name in parts)
    assert (prepared / "test.parquet").is_dir()
    metrics = json.loads(result.output)["metrics"]
    assert metrics["auc"] > 0.65 and 600 < metrics["rows"] < 1000  # about 20% of 4,000 rows held out
    # The split is seeded per partition: running prepare again gives the same bytes.
    first = prepared_md5(example_repo)
    result = invoke(example_repo, "run", *ON_DASK, "--force", "--stage", "prepare", "-q")
    assert result.exit_code == 0, result.output
    assert prepared_md5(example_repo) == first
    # The repo stays a normal DVC repo.
    assert "Running stage" not in dvc(example_repo, "repro")


def test_unknown_engine_is_a_config_error(example_repo: Path) -> None:
    result = invoke(example_repo, "run", "data.engine=spark")
    assert result.exit_code == EXIT_USAGE
    assert "data.engine must be one of pandas, dask" in result.output
