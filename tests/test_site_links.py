"""The pull-request report's links open the pages of the published site: the site is built and
served over HTTP on 127.0.0.1 (as GitHub Pages would serve it), the report is written with that
site URL, and every link of it is opened in Chromium."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.browser import Browser, find_chromium
from tests.conftest import invoke
from tests.site_fixtures import site_template
from tests.test_site_browser import heading

__all__ = ["site_template"]

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(site_template: Path, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A copy of the site repo and the URL its built site is served at."""
    repo = Path(shutil.copytree(site_template, tmp_path / "repo", symlinks=True))
    out = tmp_path / "public"
    assert invoke(repo, "site", "build", "-o", str(out)).exit_code == 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield repo, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_every_link_of_the_report_opens_its_page(served: tuple[Path, str]) -> None:
    repo, url = served
    # the pull request is the last commit: it added the two production profiles
    result = invoke(repo, "report", "--base", "HEAD~1", "--format", "json", "--site-url", url)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    drift = [i for i in report["drift"]["items"] if i["kind"] == "profile"]
    versions = report["registry"]["base_versions"]
    assert len(drift) == 2 and {v["name"] for v in versions} == {"model", "churn-small"}
    markdown = invoke(repo, "report", "--base", "HEAD~1", "--site-url", url).output
    with Browser(find_chromium()) as browser:
        for item in drift:
            assert f"[on the site]({item['page']})" in markdown
            seen = len(browser.events)
            browser.goto(item["page"])
            browser.wait_for("document.title.startsWith('Data drift')")
            assert item["target"] in browser.evaluate("document.body.textContent")
            assert browser.errors(seen) == []
        for version in versions:
            assert f"[{version['version']}]({version['page']})" in markdown
            seen = len(browser.events)
            browser.goto(version["page"])
            heading(browser, f"{version['name']} {version['version']}")
            assert browser.errors(seen) == []
            assert all(u.startswith(url) for u in browser.requested(seen))
