"""The built site in a real headless Chromium (tests/browser.py): every section draws, the links
lead from a model to a version to its drift report, nothing is fetched from the network, and no
script error is logged. Screenshots are kept under .test-artifacts/site/ (GITMLOPS_TEST_ARTIFACTS
moves it); with GITMLOPS_DOCS_SCREENSHOTS=1 the section screenshots are also written to docs/ for
docs/site.md.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Browser, find_chromium
from tests.conftest import git, invoke
from tests.site_fixtures import site_template, two_model_folders

__all__ = ["site_template"]

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("GITMLOPS_TEST_ARTIFACTS") or ROOT / ".test-artifacts") / "site"
DOCS = ROOT / "docs"


def shot(browser: Browser, name: str, docs: bool = False) -> Path:
    """Keep a screenshot of the page as a test artifact (and in docs/ when asked for)."""
    path = browser.screenshot(ARTIFACTS / f"{name}.png")
    assert path.stat().st_size > 5000, f"{path} looks blank"
    if docs and os.environ.get("GITMLOPS_DOCS_SCREENSHOTS") == "1":
        shutil.copyfile(path, DOCS / f"site-{name}.png")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, site_template: Path) -> Path:
    repo = Path(shutil.copytree(site_template, tmp_path_factory.mktemp("site-browser") / "repo", symlinks=True))
    out = repo.parent / "public"
    result = invoke(repo, "site", "build", "-o", str(out))
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(find_chromium()) as found:
        yield found


@pytest.fixture
def page(browser: Browser, built: Path) -> Iterator[Browser]:
    """The browser on the site's index; after the test, no errors and only local requests."""
    seen = len(browser.events)
    browser.goto(built.joinpath("index.html").as_uri())
    browser.wait_for("!!document.querySelector('main h1')")
    yield browser
    assert browser.errors(seen) == []
    requests = browser.requested(seen)
    assert requests and all(url.startswith("file://") for url in requests), requests


def count(browser: Browser, selector: str) -> int:
    return int(browser.evaluate(f"document.querySelectorAll({json.dumps(selector)}).length"))


def heading(browser: Browser, text: str) -> None:
    browser.wait_for(f"(document.querySelector('main h1') || {{}}).textContent === {json.dumps(text)}")


def test_model_to_version_to_drift_report(page: Browser) -> None:
    heading(page, "Models")
    assert count(page, "table.models tbody tr") == 2
    assert count(page, "svg.timeline rect.segment") >= 3  # staging: v0.1.0 then v0.1.1; prod; dev
    shot(page, "models", docs=True)

    page.click('table.models a[href="#/model/model"]')
    heading(page, "Model model")
    assert count(page, "table.versions tbody tr") == 2
    assert count(page, "table.events tbody tr") == 5
    shot(page, "model")

    page.click('table.versions a[href="#/version/model/v0.1.1"]')
    page.wait_for("document.querySelector('main h1').textContent.includes('v0.1.1')")
    roc = page.evaluate("document.querySelector('.plots path[data-series]').getAttribute('d')")
    assert roc.startswith("M") and roc.count("L") > 10
    assert count(page, ".plots rect.cell") == 4  # a binary model's 2 x 2 confusion matrix
    assert count(page, "table.schema tbody tr") == 6
    assert "not verified" in page.evaluate("document.querySelector('.verify').textContent")
    shot(page, "version", docs=True)

    page.click("a.drift-report")
    page.wait_for("document.title.startsWith('Data drift')")
    assert page.url().endswith(".html") and "/drift/" in page.url()
    assert count(page, "svg") >= 3  # one chart per compared column
    shot(page, "drift-report", docs=True)


def test_experiments_sort_by_a_metric_and_chart_it_against_a_param(page: Browser) -> None:
    page.click('#nav a[data-section="experiments"]')
    heading(page, "Experiments")
    assert count(page, "table.experiments tbody tr") >= 3  # HEAD and the three registered versions
    assert count(page, "svg.chart circle.point") >= 3
    assert page.evaluate("document.querySelector('select').value")  # a metric is chosen
    header = page.evaluate("[...document.querySelectorAll('table.experiments th')].findIndex(t => t.textContent.startsWith('logloss'))")
    assert header > 0
    page.click(f"table.experiments th:nth-child({header + 1})")
    values = page.evaluate(f"[...document.querySelectorAll('table.experiments tbody tr')].map(r => parseFloat(r.children[{header}].textContent))")
    assert values == sorted(values), values
    shot(page, "experiments", docs=True)


def test_plots_monitoring_and_lineage_draw(page: Browser) -> None:
    page.click('#nav a[data-section="plots"]')
    heading(page, "Plots")
    assert count(page, ".plots path[data-series]") == 2  # churn-small's one version, and HEAD
    page.evaluate("(() => { const s = document.querySelector('select'); s.value = 'model';"
                  " s.dispatchEvent(new Event('change')); })()")
    page.wait_for("location.hash === '#/plots/model'")
    page.wait_for("document.querySelectorAll('.plots path[data-series]').length === 3")  # v0.1.1, v0.1.0, HEAD
    shot(page, "plots", docs=True)

    page.click('#nav a[data-section="monitoring"]')
    heading(page, "Monitoring")
    verdicts = page.evaluate("[...document.querySelectorAll('circle.verdict')].map(c => c.dataset.verdict)")
    assert "no_drift" in verdicts and ({"drift", "possible_drift"} & set(verdicts))
    assert count(page, "table.profiles a.drift-report") == len(verdicts)
    shot(page, "monitoring", docs=True)

    page.click('#nav a[data-section="lineage"]')
    heading(page, "Lineage")
    assert count(page, "svg.lineage line.edge") == 5
    columns = page.evaluate("[...new Set([...document.querySelectorAll('svg.lineage rect.node')].map(r => r.dataset.column))]")
    assert columns == ["data", "params", "model", "stages", "deploys", "drift"]
    shot(page, "lineage", docs=True)


def test_models_in_folders_link_through(browser: Browser, git_repo: Path, tmp_path: Path) -> None:
    """Names with `/` and `:` (`models/revenue:revenue`) survive the links, and each model's page
    shows its own folder's drift."""
    two_model_folders(git_repo)
    out = tmp_path / "public"
    assert invoke(git_repo, "site", "build", "-o", str(out)).exit_code == 0
    seen = len(browser.events)
    browser.goto(out.joinpath("index.html").as_uri())
    heading(browser, "Models")
    browser.click('table.models a[href="#/model/models%2Frevenue%3Arevenue"]')
    heading(browser, "Model models/revenue:revenue")
    browser.click("table.versions a")
    browser.wait_for("document.querySelector('main h1').textContent.endsWith('v1.0.0')")
    drift = browser.evaluate("document.querySelector('main ul').textContent")
    assert "models/revenue · production" in drift and "churn" not in drift
    assert count(browser, ".plots path[data-series]") == 1
    browser.click("a.drift-report")
    browser.wait_for("document.title.startsWith('Data drift')")
    assert "/drift/models/revenue/production/" in browser.url()
    assert browser.errors(seen) == []
    shot(browser, "folders-drift-report")



def test_addresses_from_python_open_the_pages(page: Browser, built: Path) -> None:
    """The addresses `gitmlops.site` gives other tools (PR comments) open the pages they name."""
    from gitmlops.site import model_page, version_page

    page.goto(f"{built.as_uri()}/{version_page('model', 'v0.1.0')}")
    heading(page, "model v0.1.0")
    page.goto(f"{built.as_uri()}/{model_page('churn-small')}")
    heading(page, "Model churn-small")


def test_hostile_tag_message_is_shown_as_text(browser: Browser, git_repo: Path, tmp_path: Path) -> None:
    """A tag message is the tagger's free text: markup in it is shown, never run or loaded."""
    two_model_folders(git_repo)
    hostile = "</script><img src=x onerror=\"document.title='pwned'\"><b>bold</b>"
    git(git_repo, "tag", "-a", "models/churn=churn#dev#1", "-m", hostile)
    out = tmp_path / "public"
    assert invoke(git_repo, "site", "build", "-o", str(out)).exit_code == 0
    seen = len(browser.events)
    browser.goto(out.joinpath("index.html").as_uri() + "#/model/" + "models%2Fchurn%3Achurn")
    heading(browser, "Model models/churn:churn")
    cells = browser.evaluate("[...document.querySelectorAll('table.events td')].map(td => td.textContent)")
    assert hostile in cells
    assert count(browser, "main img") == 0 and count(browser, "main b") == 0
    assert "pwned" not in browser.evaluate("document.title")
    assert browser.errors(seen) == [] and all(u.startswith("file://") and not u.endswith("/x")
                                             for u in browser.requested(seen))
