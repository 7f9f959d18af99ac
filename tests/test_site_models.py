"""The site of a repository of several models (gitmlops.yaml, `gitmlops init --example models`):
every model is on it, registered or not, each with its own HEAD params and plots, its own
experiments and its own folder's monitoring; and the pages open in a real Chromium.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Browser, find_chromium
from tests.conftest import git, invoke
from tests.site_fixtures import read_site
from tests.test_models import models_ran_template, models_template
from tests.test_site_browser import count, heading, shot

__all__ = ["models_ran_template", "models_template"]

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CHURN, PLAN, REVENUE = "models/churn:churn", "models/plan:plan", "models/revenue:revenue"


def ok(repo: Path, *args: str) -> str:
    result = invoke(repo, *args)
    assert result.exit_code == 0, f"gitmlops {' '.join(args)}: {result.output}"
    return result.output


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory, models_ran_template: Path) -> Path:
    """The three trained models: churn registered and in prod with a production profile and one
    experiment, revenue registered, plan never registered."""
    repo = Path(
        shutil.copytree(models_ran_template, tmp_path_factory.mktemp("site-models") / "repo", symlinks=True)
    )
    ok(repo, "data", "push")
    ok(repo, "registry", "register", "churn", "--version", "v1.0.0", "--message", "first churn")
    ok(repo, "registry", "promote", "churn", "v1.0.0", "--stage", "prod")
    ok(repo, "registry", "register", "revenue", "--version", "v0.1.0")
    ok(repo, "--model", "churn", "run", "--sweep", "train.max_depth=2")
    from gitmlops.example import write_csv

    production = repo.parent / "production.csv"
    write_csv(production, n_rows=1500, seed=5)
    ok(repo, "--model", "churn", "monitor", "profile", str(production), "--name", "production")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a churn production profile")
    return repo


@pytest.fixture(scope="module")
def site(three: Path) -> Path:
    out = three.parent / "public"
    result = invoke(three, "site", "build", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["models"], summary["versions"], summary["profiles"]) == (3, 2, 1)
    return out


def test_every_model_is_on_the_site_with_its_own_folder(site: Path) -> None:
    data = read_site(site)
    registry = data["registry"]
    artifacts = {a["name"]: a for a in registry["artifacts"]}
    assert list(artifacts) == [CHURN, PLAN, REVENUE]
    churn, plan, revenue = artifacts[CHURN], artifacts[PLAN], artifacts[REVENUE]
    assert [a["model"] for a in artifacts.values()] == ["churn", "plan", "revenue"]
    assert [a["base"] for a in artifacts.values()] == ["models/churn", "models/plan", "models/revenue"]
    assert (
        plan["versions"] == [] and plan["latest"] is None and plan["events"] == []
    )  # listed, not registered
    assert churn["stages"]["prod"] == "v1.0.0" and revenue["latest"] == "v0.1.0"
    assert 0.5 < churn["versions"][0]["metrics"]["auc"] <= 1 and "rmse" in revenue["versions"][0]["metrics"]
    # HEAD as each model's folder holds it: its own params (each model predicts its own column) and plots
    heads = {name: registry["commits"][a["head"]] for name, a in artifacts.items()}
    assert {n: h["params"]["data.target"] for n, h in heads.items()} == {
        CHURN: "churned",
        PLAN: "plan",
        REVENUE: "monthly_charges",
    }
    assert any(p["kind"] == "line" for p in heads[CHURN]["plots"])
    assert all(h["plots"] for h in heads.values()), {n: h["plots"] for n, h in heads.items()}
    # monitoring: the profile committed in churn's folder, judged against churn's reference profile
    # (the root is no project here: profiles under its monitoring/ belong to no model)
    (dataset,) = data["monitoring"]["datasets"]
    assert (dataset["base"], dataset["name"]) == ("models/churn", "production")
    assert dataset["reference"] == "models/churn/models/reference_profile.bin"
    assert dataset["profiles"][0]["verdict"] in ("no_drift", "possible_drift", "drift")
    assert (site / dataset["profiles"][0]["report"]).is_file()


def test_experiments_are_each_models_own(site: Path) -> None:
    rows = read_site(site)["experiments"]
    by_model: dict[str, list[dict]] = {}
    for row in rows:
        by_model.setdefault(row["model"], []).append(row)
    assert set(by_model) == {CHURN, PLAN, REVENUE}
    # churn's sweep is churn's alone; the others have their HEAD row only
    assert [(r["baseline"], r["params"]["train.max_depth"]) for r in by_model[CHURN]] == [
        (True, 4),
        (False, 2),
    ]
    assert [r["baseline"] for r in by_model[PLAN]] == [True] and [
        r["baseline"] for r in by_model[REVENUE]
    ] == [True]
    assert by_model[PLAN][0]["params"]["data.target"] == "plan"
    assert "rmse" in by_model[REVENUE][0]["metrics"] and "auc" not in by_model[REVENUE][0]["metrics"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(find_chromium()) as found:
        yield found


def test_pages_of_several_models_draw(browser: Browser, site: Path) -> None:
    seen = len(browser.events)
    index = site.joinpath("index.html").as_uri()
    browser.goto(index)
    heading(browser, "Models")
    assert count(browser, "table.models tbody tr") == 3
    assert "not registered yet" in browser.evaluate("document.querySelector('table.models').textContent")
    shot(browser, "models-three")
    browser.click('table.models a[href="#/model/models%2Fplan%3Aplan"]')
    heading(browser, "Model models/plan:plan")
    assert "gitmlops registry register plan" in browser.evaluate("document.querySelector('main').textContent")
    browser.goto(index + "#/plots/" + "models%2Frevenue%3Arevenue")
    heading(browser, "Plots")
    browser.wait_for("document.querySelectorAll('main svg').length > 0")
    browser.goto(index + "#/experiments///" + "models%2Fchurn%3Achurn")
    heading(browser, "Experiments")
    assert count(browser, "table.experiments tbody tr") == 3  # HEAD, the sweep, the registered v1.0.0
    assert count(browser, "circle.point") == 3
    browser.goto(index + "#/experiments///" + "models%2Fplan%3Aplan")
    heading(browser, "Experiments")
    assert count(browser, "table.experiments tbody tr") == 1
    browser.goto(index + "#/model/" + "models%2Fchurn%3Achurn")
    heading(browser, "Model models/churn:churn")
    browser.click("table.versions a")
    browser.wait_for("document.querySelector('main h1').textContent.endsWith('v1.0.0')")
    browser.click("a.drift-report")
    browser.wait_for("document.title.startsWith('Data drift')")
    assert "/drift/models/churn/production/" in browser.url()
    assert browser.errors(seen) == []
    assert all(url.startswith("file://") for url in browser.requested(seen))


def test_report_draws_each_models_drift_and_links_its_report_on_the_site(
    browser: Browser, three: Path, site: Path
) -> None:
    """Several models: a profile committed in churn's folder is in the report's drift section, drawn
    as a chart, judged against churn's reference profile, and linked to its report on the site."""
    from tests import mermaid_lint

    url = "https://acme.github.io/shop/"
    result = invoke(three, "report", "--base", "HEAD~1", "--format", "json", "--site-url", url)
    assert result.exit_code == 0, result.output
    drift = json.loads(result.output)["drift"]
    assert drift["available"], drift
    (item,) = drift["items"]
    assert item["model"] == "churn" and item["target"].startswith("models/churn/monitoring/production/")
    assert item["page"].startswith(url + "drift/models/churn/production/")
    page = site / item["page"][len(url) :]
    assert page.is_file()
    markdown = invoke(three, "report", "--base", "HEAD~1", "--site-url", url).output
    assert f"[on the site]({item['page']})" in markdown
    assert mermaid_lint.assert_valid(markdown)  # the drift chart (and the metric charts, if any)
    seen = len(browser.events)
    browser.goto(page.as_uri())
    browser.wait_for("document.title.startsWith('Data drift')")
    assert item["target"] in browser.evaluate("document.body.textContent")
    assert browser.errors(seen) == []
