"""`gitmlops site build` through the CLI on a real repo (two models, versions, profiles).

What the pages show is checked in a real browser by tests/test_site_browser.py; these tests check
what the build writes, that it is built from the repository alone, incremental, and refuses bad
output folders without touching them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git, invoke
from tests.site_fixtures import (
    SECOND,
    ok,
    read_site,
    site_repo,
    site_template,
    two_model_folders,
    write_production,
)

__all__ = ["site_repo", "site_template"]

pytestmark = pytest.mark.slow


def _build(repo: Path, out: Path, *extra: str) -> dict:
    result = invoke(repo, "site", "build", "-o", str(out), "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_site_holds_every_model_version_stage_and_event(site_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    summary = _build(site_repo, out)
    assert summary["models"] == 2 and summary["versions"] == 3 and summary["profiles"] == 3
    assert summary["sections"] == ["models", "experiments", "plots", "monitoring", "lineage"]
    assert {p.name for p in out.iterdir()} >= {"index.html", "app.js", "site.css", "data.js"}
    data = read_site(out)
    registry = data["registry"]
    assert [a["name"] for a in registry["artifacts"]] == [SECOND, "model"]
    model = registry["artifacts"][1]
    assert model["stages"]["prod"] == "v0.1.0" and model["stages"]["staging"] == "v0.1.1"
    assert [v["version"] for v in model["versions"]] == ["v0.1.1", "v0.1.0"]
    # staging went from v0.1.0 to v0.1.1: two segments, the first closed when the second began
    first, second = model["timeline"]["staging"]
    assert (first["version"], second["version"], second["to"]) == ("v0.1.0", "v0.1.1", None)
    assert first["to"] == second["from"]
    newest = model["versions"][0]
    facts = registry["commits"][newest["commits_key"]]
    assert facts["params"]["train.max_depth"] == 6
    assert registry["commits"][model["versions"][1]["commits_key"]]["params"]["train.max_depth"] == 4
    assert 0.5 < newest["metrics"]["auc"] <= 1
    assert newest["data"]["data/churn.csv"]
    roc = next(p for p in facts["plots"] if p["path"] == "plots/roc.json")
    assert roc["kind"] == "line" and len(roc["points"]) > 10 and roc["points"][-1] == [1.0, 1.0]
    confusion = next(p for p in facts["plots"] if p["path"] == "plots/confusion.json")
    assert sum(sum(row.values()) for row in confusion["cells"].values()) == 800  # the held-out rows
    schema = registry["schemas"][newest["schema_md5"]]
    assert {"tenure_months", "plan"} <= {f["name"] for f in schema["features"]}
    events = [(e["event"], e["version"], e["stage"]) for e in model["events"]]
    assert ("assign", "v0.1.0", "prod") in events and events[0] == ("register", "v0.1.0", None)
    assert next(e for e in model["events"] if e["event"] == "register")["message"].endswith("first model")
    # experiments: HEAD's row, and the experiment on v0.1.1's commit (registered versions' own rows
    # are added by the page from the registry)
    rows = data["experiments"]
    assert [(e["of"], e["baseline"]) for e in rows] == [("HEAD", True), ("model@v0.1.1", False)]
    assert rows[0]["params"]["train.max_depth"] == 6 and rows[1]["params"]["train.max_depth"] == 3
    assert 0.5 < rows[1]["metrics"]["auc"] <= 1


def test_site_monitoring_has_a_verdict_and_report_per_profile(site_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    _build(site_repo, out)
    monitoring = read_site(out)["monitoring"]
    production = next(d for d in monitoring["datasets"] if d["name"] == "production")
    calm, shifted = production["profiles"]
    assert calm["verdict"] == "no_drift" and shifted["verdict"] in ("drift", "possible_drift")
    assert shifted["drifted"] >= 1 and calm["rows"] == 400
    report = out / shifted["report"]
    assert report.is_file() and "monthly_charges" in report.read_text()
    assert "<svg" in report.read_text()


def test_rebuild_reads_only_what_changed(site_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    first = _build(site_repo, out)
    assert first["commits_read"] >= 2 and first["profiles_compared"] == 3
    built = read_site(out)
    again = _build(site_repo, out)
    assert (again["commits_read"], again["profiles_compared"]) == (0, 0)
    rebuilt = read_site(out)  # from the cache, the same site
    assert [rebuilt[k] for k in ("registry", "monitoring", "experiments")] == [
        built[k] for k in ("registry", "monitoring", "experiments")]
    data = write_production(site_repo, tmp_path / "batch3.csv", 3, False)
    ok(site_repo, "monitor", "profile", str(data), "--name", "production")
    git(site_repo, "add", "-A")
    git(site_repo, "commit", "-q", "-m", "one more profile")
    ok(site_repo, "registry", "promote", "model", "v0.1.1", "--stage", "prod")
    third = _build(site_repo, out)
    assert third["profiles_compared"] == 1 and third["profiles"] == 4
    assert read_site(out)["registry"]["artifacts"][1]["stages"]["prod"] == "v0.1.1"
    # a report deleted from the folder is written again on the next build
    report = out / read_site(out)["monitoring"]["datasets"][-1]["profiles"][0]["report"]
    report.unlink()
    _build(site_repo, out)
    assert report.is_file()


def test_site_is_self_contained(site_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    _build(site_repo, out)
    for page in [*out.glob("*.html"), *out.glob("*.js"), *out.glob("*.css")]:
        text = page.read_text()
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", ""), page
        assert "https://" not in text or page.name == "data.js", page  # data may quote URLs, pages load none
    index = (out / "index.html").read_text()
    assert '<script src="data.js">' in index and '<script src="app.js">' in index
    # nothing names the building machine's folders: the site can be published as it is
    for path in out.rglob("*"):
        if path.is_file():
            assert str(tmp_path) not in path.read_text(), path
    report = next(out.glob("drift/production/*.html")).read_text()
    assert "models/reference_profile.bin" in report and "monitoring/production/" in report


def test_default_output_and_text_summary(site_repo: Path) -> None:
    result = invoke(site_repo, "site", "build")
    assert result.exit_code == 0, result.output
    assert "site written to" in result.output and "2 model(s), 3 version(s)" in result.output
    assert (site_repo / "_site" / "index.html").is_file()
    assert git(site_repo, "status", "--porcelain") == ""  # a site inside the work tree ignores itself


def test_verify_report_shows_as_the_version_status(site_repo: Path, tmp_path: Path) -> None:
    result = invoke(site_repo, "verify", "model@v0.1.1", "--json")
    assert result.exit_code == 0, result.output
    report = tmp_path / "verify-model.json"
    report.write_text(result.output)
    out = tmp_path / "site"
    _build(site_repo, out, "--verify-report", str(report))
    versions = read_site(out)["registry"]["artifacts"][1]["versions"]
    assert versions[0]["verify"] == {"reproduced": True, "problems": [], "report": "verify-model.json"}
    assert versions[1]["verify"] is None


@pytest.mark.parametrize("case", ["foreign-folder", "a-file", "the-repo", "bad-verify-report"])
def test_bad_output_or_input_is_refused_and_nothing_is_written(site_repo: Path, tmp_path: Path, case: str) -> None:
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"ref": "model@v0.1.1"}))
    args = {
        "foreign-folder": ["-o", str(foreign)],
        "a-file": ["-o", str(afile)],
        "the-repo": ["-o", str(site_repo)],
        "bad-verify-report": ["-o", str(tmp_path / "new"), "--verify-report", str(bad)],
    }[case]
    before = git(site_repo, "status", "--porcelain")
    result = invoke(site_repo, "site", "build", *args)
    assert result.exit_code == 2, result.output
    expected = {"foreign-folder": "is not empty and holds no gitmlops site", "a-file": "is a file",
                "the-repo": "holds the repository itself", "bad-verify-report": "is not a `gitmlops verify --json` report"}
    assert expected[case] in result.output
    assert case == "a-file" or "hint:" in result.output  # click itself refuses a file for -o
    assert [p.name for p in foreign.iterdir()] == ["keep.txt"] and afile.read_text() == "x"
    assert not (tmp_path / "new").exists() and not (site_repo / "index.html").exists()
    assert git(site_repo, "status", "--porcelain") == before


def test_repo_without_registry_or_profiles_builds_an_empty_site(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / "README.md").write_text("hello\n")
    git(git_repo, "add", "README.md")
    git(git_repo, "commit", "-q", "-m", "start")
    summary = _build(git_repo, tmp_path / "site")
    assert (summary["models"], summary["profiles"], summary["experiments"]) == (0, 0, 0)
    data = read_site(tmp_path / "site")
    assert data["registry"]["artifacts"] == [] and data["monitoring"]["datasets"] == []


def test_several_model_folders_and_gto_tags(git_repo: Path, tmp_path: Path) -> None:
    """Models in their own folders (`dir:NAME` artifacts), registered by GTO-style tags without
    gitmlops metadata: each model gets its metrics, plots and its own folder's monitoring."""
    two_model_folders(git_repo)
    out = tmp_path / "site"
    summary = _build(git_repo, out)
    assert summary["models"] == 2 and summary["profiles"] == 2
    registry = read_site(out)["registry"]
    churn, revenue = registry["artifacts"]
    assert (churn["name"], churn["base"], revenue["base"]) == ("models/churn:churn", "models/churn", "models/revenue")
    assert revenue["stages"]["prod"] == "v1.0.0"
    assert churn["versions"][0]["metrics"] == {"auc": 0.81} and revenue["versions"][0]["metrics"] == {"rmse": 3.5}
    assert churn["versions"][0]["artifact"]["md5"] == "ab" * 16
    facts = registry["commits"][revenue["versions"][0]["commits_key"]]
    assert facts["params"] == {"paths.reference_profile": "reference_profile.bin", "train.depth": 3}
    assert [p["path"] for p in facts["plots"]] == ["roc.json"] and len(facts["plots"][0]["points"]) == 3
    datasets = {d["base"]: d for d in read_site(out)["monitoring"]["datasets"]}
    assert set(datasets) == {"models/churn", "models/revenue"}
    assert datasets["models/churn"]["reference"] == "models/churn/reference_profile.bin"
    assert datasets["models/churn"]["profiles"][0]["verdict"] == "no_drift"
    assert datasets["models/revenue"]["profiles"][0]["verdict"] == "drift"
    report = datasets["models/revenue"]["profiles"][0]["report"]
    assert report == "drift/models/revenue/production/20260101T000000Z.html" and (out / report).is_file()


def test_a_broken_model_list_is_refused_and_nothing_is_written(git_repo: Path, tmp_path: Path) -> None:
    """gitmlops.yaml naming a folder outside the repository: the build says so, writes no site."""
    two_model_folders(git_repo)
    (git_repo / "gitmlops.yaml").write_text("models:\n  churn: {dir: models/churn}\n  away: {dir: ../elsewhere}\n")
    out = tmp_path / "site"
    result = invoke(git_repo, "site", "build", "-o", str(out))
    assert result.exit_code == 2, result.output
    assert "model folder '../elsewhere' of model 'away' is outside the repository" in result.output
    assert "hint:" in result.output and not out.exists()
