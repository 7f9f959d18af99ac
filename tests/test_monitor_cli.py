"""Functional tests of `gitmlops monitor` through the CLI, on real git repos with real whylogs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from gitmlops.monitor import read_view
from tests.conftest import git, invoke


def write_csv(path: Path, rows: int = 3_000, seed: int = 0, shift: float = 0.0) -> Path:
    rng = np.random.default_rng(seed)
    pd.DataFrame({
        "age": rng.integers(18, 90, rows),
        "income": rng.normal(50_000 + shift * 15_000, 15_000, rows),
        "plan": rng.choice(["free", "pro"], rows, p=[0.7, 0.3]),
    }).to_csv(path, index=False)
    return path


def files_under(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()) if path.exists() else []


@pytest.fixture
def repo(git_repo: Path) -> Path:
    write_csv(git_repo / "ref.csv", seed=1)
    write_csv(git_repo / "new.csv", seed=2, shift=1.0)
    write_csv(git_repo / "same.csv", seed=3)
    return git_repo


def profile(repo: Path, *args: str) -> dict:
    result = invoke(repo, "monitor", "profile", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_profile_writes_bin_and_summary_in_the_layout(repo: Path) -> None:
    out = profile(repo, "ref.csv", "--name", "train", "--chunk-size", "500", "--jobs", "2")
    assert out["rows"] == 3_000 and out["chunks"] == 6 and out["jobs"] == 2
    (filed,) = out["profiles"]
    assert filed["path"].startswith("monitoring/train/") and filed["path"].endswith("Z.bin")
    view = read_view(repo / filed["path"])
    assert view.get_column("age").count == 3_000
    summary = json.loads((repo / filed["summary"]).read_text())
    assert summary["profile"]["rows"] == 3_000 and summary["profile"]["dataset"] == "train"
    assert list(summary["columns"]) == ["age", "income", "plan"]
    # Chunked + parallel gives the same exact statistics as one pass.
    single = profile(repo, "ref.csv", "--name", "single", "--jobs", "1")
    again = json.loads((repo / single["profiles"][0]["summary"]).read_text())
    for col in ("age", "income"):
        for key in ("count", "null_count", "mean", "min", "max"):
            assert again["columns"][col][key] == summary["columns"][col][key]


def test_profile_summary_is_byte_identical_on_rerun_whatever_the_workers(repo: Path) -> None:
    # 60,000 rows in chunks of 5,000: every chunk's KLL sketch compacts (at random) and every chunk's
    # quantile sample holds 1,024 of its values, so no quantile here is exact
    write_csv(repo / "big.csv", rows=60_000, seed=5)
    segmented = repo / "seg.csv"
    pd.read_csv(repo / "big.csv").to_csv(segmented, index=False)
    texts, segments = [], []
    for jobs in ("2", "2", "1"):
        out = profile(repo, "big.csv", "--name", "big", "--chunk-size", "5000", "--jobs", jobs)
        texts.append((repo / out["profiles"][0]["summary"]).read_text())
        out = profile(repo, "seg.csv", "--name", "seg", "--segment", "plan", "--chunk-size", "5000", "--jobs", jobs)
        segments.append([(repo / p["summary"]).read_text() for p in out["profiles"]])
        assert len(segments[-1]) == 2
    assert texts[0] == texts[1] == texts[2]
    assert segments[0] == segments[1] == segments[2]
    summary = json.loads(texts[0])
    assert summary["profile"]["quantiles"].startswith("estimates from fixed samples of each chunk")
    # the estimates are within their stated rank error of the exact quantiles
    income = np.sort(pd.read_csv(repo / "big.csv")["income"].to_numpy())
    for key, q in (("q01", 0.01), ("q50", 0.5), ("q99", 0.99)):
        rank = np.searchsorted(income, summary["columns"]["income"]["quantiles"][key]) / len(income)
        assert abs(rank - q) < 0.003, (key, rank)
    # a small file's chunk samples hold every value: its quantiles are exact
    small = json.loads((repo / profile(repo, "ref.csv", "--name", "small", "--chunk-size", "500",
                                       "--jobs", "2")["profiles"][0]["summary"]).read_text())
    assert small["profile"]["quantiles"] == "exact"
    ages = pd.read_csv(repo / "ref.csv")["age"]
    assert small["columns"]["age"]["quantiles"]["q50"] == float(np.quantile(ages, 0.5, method="inverted_cdf"))


def test_profile_parquet_folder_and_segments(repo: Path) -> None:
    folder = repo / "batches"
    folder.mkdir()
    for i in range(2):
        pd.read_csv(repo / "ref.csv").iloc[i * 1000:(i + 1) * 1000].to_parquet(folder / f"part{i}.parquet")
    out = profile(repo, "batches", "--segment", "plan")
    assert sorted(p["dataset"] for p in out["profiles"]) == ["batches/plan=free", "batches/plan=pro"]
    assert sum(p["rows"] for p in out["profiles"]) == 2_000


def test_show_json_shape(repo: Path) -> None:
    profile(repo, "ref.csv", "--name", "train")
    result = invoke(repo, "monitor", "show", "train", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["profile"]["rows"] == 3_000
    assert data["columns"]["plan"]["kind"] == "categorical" and data["columns"]["age"]["kind"] == "numeric"
    table = invoke(repo, "monitor", "show", "train")
    assert "income" in table.output and "median" in table.output


def test_diff_formats_and_fail_on(repo: Path, tmp_path: Path) -> None:
    profile(repo, "ref.csv", "--name", "train")
    profile(repo, "new.csv", "--name", "prod")
    md = invoke(repo, "monitor", "diff", "-r", "train", "-t", "prod")
    assert md.exit_code == 0, md.output
    first_row = [line for line in md.output.splitlines() if line.startswith("| income")]
    assert first_row and "DRIFT" in first_row[0]
    js = invoke(repo, "monitor", "diff", "-r", "train", "-t", "prod", "--json")
    data = json.loads(js.output)
    assert data["verdict"] == "possible_drift" and data["drifted"] == 1
    assert {c["column"]: c["category"] for c in data["columns"]} == {
        "income": "drift", "age": "no_drift", "plan": "no_drift"}
    page = tmp_path / "report.html"
    html = invoke(repo, "monitor", "diff", "-r", "train", "-t", "new.csv", "--format", "html", "-o", str(page),
                  "--fail-on", "possible")
    assert html.exit_code == 1, html.output
    assert "drift check failed" in html.output
    assert page.read_text().startswith("<!DOCTYPE html>") and "<svg" in page.read_text()
    same = invoke(repo, "monitor", "diff", "-r", "train", "-t", "same.csv", "--fail-on", "possible")
    assert same.exit_code == 0, same.output


def test_diff_defaults_to_the_training_reference_profile(repo: Path) -> None:
    out = profile(repo, "ref.csv", "--name", "train")
    (repo / "models").mkdir()
    (repo / "models" / "reference_profile.bin").write_bytes((repo / out["profiles"][0]["path"]).read_bytes())
    result = invoke(repo, "monitor", "diff", "-t", "new.csv", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["reference"] == "models/reference_profile.bin"


def test_monitor_climbs_from_a_subfolder_to_the_project_root(repo: Path) -> None:
    """`-C models monitor ...` works like `-C models pipeline show`: config, the default reference and
    dataset names come from the work tree's top; paths the user types start at the -C folder."""
    out = profile(repo, "ref.csv", "--name", "train")
    models = repo / "models"
    models.mkdir()
    (models / "reference_profile.bin").write_bytes((repo / out["profiles"][0]["path"]).read_bytes())
    result = invoke(models, "monitor", "diff", "-t", "../new.csv", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["reference"] == "models/reference_profile.bin" and report["target"] == "new.csv"
    by_name = invoke(models, "monitor", "diff", "-r", "train", "-t", "reference_profile.bin", "--json")
    assert by_name.exit_code == 0, by_name.output
    assert json.loads(by_name.output)["verdict"] == "no_drift"
    shown = invoke(models, "monitor", "show", "train", "--json")
    assert shown.exit_code == 0 and json.loads(shown.output)["profile"]["rows"] == 3_000
    filed = profile(models, "../same.csv", "--name", "sub")
    assert filed["source"] == "same.csv" and (repo / filed["profiles"][0]["path"]).is_file()
    assert not (models / "monitoring").exists()
    checked = invoke(models, "monitor", "check", "../same.csv", "--json")
    assert checked.exit_code == 0, checked.output


def test_monitor_outside_git_compares_plain_profiles(tmp_path: Path, repo: Path) -> None:
    """Outside a work tree the folder itself is the root: two .bin files can still be compared."""
    out = profile(repo, "ref.csv", "--name", "train")
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "a.bin").write_bytes((repo / out["profiles"][0]["path"]).read_bytes())
    result = invoke(loose, "monitor", "diff", "-r", "a.bin", "-t", "a.bin", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["verdict"] == "no_drift"


def test_check_runs_constraints_from_params(repo: Path) -> None:
    params: dict[str, Any] = {"data": {"constraints": {
        "required_columns": ["age", "plan", "missing_col"],
        "age": {"type": "integral", "min": 18, "max": 65, "max_null_fraction": 0.0},
        "plan": {"type": "string", "allowed": ["free", "pro"]},
        "income": {"type": "numeric"},
    }}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    result = invoke(repo, "monitor", "check", "ref.csv", "--json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.output.split("\nerror:")[0])
    failed = {(r["column"], r["constraint"]) for r in data["results"] if not r["passed"]}
    assert failed == {("age", "range"), ("missing_col", "required")}
    assert data["checked"] == 7
    params["data"]["constraints"]["age"]["max"] = 120
    params["data"]["constraints"]["required_columns"] = ["age"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    ok = invoke(repo, "monitor", "check", "ref.csv")
    assert ok.exit_code == 0, ok.output
    assert "6 of 6 constraints passed" in ok.output
    params["data"]["constraints"]["plan"]["allowed"] = ["free"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    bad = invoke(repo, "monitor", "check", "ref.csv")
    assert bad.exit_code == 1 and "plan (allowed)" in bad.output and "pro" in bad.output


def test_collect_merges_server_profiles_and_commits(repo: Path) -> None:
    from gitmlops.monitor import profile_dataframe, write_profile

    inbox = repo / "serving" / "profiles"
    df = pd.read_csv(repo / "ref.csv")
    for i in range(3):
        write_profile(profile_dataframe(df.iloc[i * 100:(i + 1) * 100]), inbox / f"2026010{i}T000000Z.bin")
    result = invoke(repo, "monitor", "collect", "serving/profiles", "--name", "requests", "--commit", "--remove",
                    "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["merged"] == 3 and data["rows"] == 300 and data["commit"]
    assert git(repo, "show", "--name-only", "--format=", "HEAD").splitlines() == [data["path"], data["summary"]]
    assert files_under(inbox) == []


def test_git_diff_shows_textconv_of_profiles(repo: Path) -> None:
    from gitmlops.monitor import profile_dataframe, write_profile

    (repo / ".gitattributes").write_text("monitoring/**/*.bin diff=whylogs\n")
    git(repo, "config", "diff.whylogs.textconv", "gitmlops monitor textconv")
    target = repo / "monitoring" / "prod" / "20260101T000000Z.bin"
    write_profile(profile_dataframe(pd.read_csv(repo / "ref.csv")), target)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "profile 1")
    write_profile(profile_dataframe(pd.read_csv(repo / "new.csv").head(1234)), target)
    git(repo, "commit", "-q", "-am", "profile 2")
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    out = subprocess.run(["git", "diff", "HEAD~1", "HEAD", "--", "monitoring/prod/20260101T000000Z.bin"],
                         cwd=repo, env=env, capture_output=True, text=True, check=True).stdout
    assert "Binary files" not in out
    assert "-whylogs profile: 3000 rows, 3 columns" in out
    assert "+whylogs profile: 1234 rows, 3 columns" in out
    assert '  count: 1234' in out


# -- bad input: a clear error (exit 2) and nothing written --------------------------------------------


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["profile", "nope.csv"], "does not exist"),
        ("garbage", ["profile", "bad.csv"], "cannot read"),
        ("empty", ["profile", "bad.csv"], "empty"),
        ("header", ["profile", "bad.csv"], "no rows"),
        ("notdata", ["profile", "bad.txt"], "neither CSV nor Parquet"),
        (None, ["profile", "ref.csv", "--name", "../escape"], "invalid dataset name"),
        (None, ["profile", "ref.csv", "--segment", "nope"], "segment column"),
        ("corrupt", ["diff", "-r", "bad.bin", "-t", "ref.csv"], "not a readable whylogs profile"),
        ("truncated", ["diff", "-r", "bad.bin", "-t", "ref.csv"], "not a readable whylogs profile"),
        ("empty_bin", ["show", "bad.bin"], "empty"),
        ("other_schema", ["diff", "-r", "other.csv", "-t", "ref.csv", "-o", "out.md"], "share no columns"),
        (None, ["diff", "-r", "nothing-here", "-t", "ref.csv", "-o", "out.md"], "does not resolve"),
        (None, ["diff", "-r", "ref.csv", "-t", "ref.csv", "--fail-on", "maybe", "-o", "out.md"], "maybe"),
        (None, ["diff", "-t", "ref.csv", "-o", "out.md"], "reference profile"),
        (None, ["collect", "nowhere", "--name", "x"], "not a folder"),
        (None, ["textconv", "missing.bin"], "empty"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(repo: Path, setup: str | None, args: list[str],
                                                       message: str) -> None:
    if setup == "garbage":
        (repo / "bad.csv").write_bytes(b'a,b\n1,"unterminated\n' + bytes(range(256)) * 4)
    elif setup == "empty":
        (repo / "bad.csv").write_text("")
    elif setup == "header":
        (repo / "bad.csv").write_text("a,b,c\n")
    elif setup == "notdata":
        (repo / "bad.txt").write_text("hello\n")
    elif setup in ("corrupt", "truncated", "empty_bin"):
        from gitmlops.monitor import profile_dataframe, write_profile

        write_profile(profile_dataframe(pd.read_csv(repo / "ref.csv")), repo / "good.bin")
        blob = (repo / "good.bin").read_bytes()
        data = {"corrupt": b"WHY1" + bytes(reversed(blob[4:])), "truncated": blob[: len(blob) // 2],
                "empty_bin": b""}[setup]
        (repo / "bad.bin").write_bytes(data)
    elif setup == "other_schema":
        pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]}).to_csv(repo / "other.csv", index=False)
    before = files_under(repo)
    result = invoke(repo, "monitor", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert files_under(repo) == before


@pytest.mark.slow
def test_registry_reference_reads_the_registered_reference_profile(trained_repo: Path) -> None:
    from gitmlops.config import load_params
    from gitmlops.registry import register

    register(trained_repo, "model")
    params = load_params(trained_repo)  # params.yaml over conf/ (paths are settings, in conf/)
    data = params["data"]["path"]
    reference = trained_repo / params["paths"]["reference_profile"]
    assert reference.is_file()
    reference.unlink()  # read at the registered commit through DVC, not from the work tree
    result = invoke(trained_repo, "monitor", "diff", "-r", "model@latest", "-t", data, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["reference"].startswith("model@latest (")
    assert report["compared"] > 0
    missing = invoke(trained_repo, "monitor", "diff", "-r", "nomodel#prod", "-t", data)
    assert missing.exit_code == 2 and "nomodel" in missing.output
