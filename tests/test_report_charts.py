"""Pictures in the pull-request report: which way each metric is better (``report`` settings), the
Mermaid charts (parsed by Mermaid itself), and the comment that carries them to the fake GitHub."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitmlops.errors import ConfigError
from gitmlops.report.charts import Chart, drift_chart, label, metric_chart
from gitmlops.report.collect import Report, Section, diff_metrics
from gitmlops.report.markdown import render
from gitmlops.report.settings import ReportSettings, settings_from_config
from tests import mermaid_lint
from tests.conftest import git, invoke
from tests.github_fake import FakeGitHub

HOSTILE = ['a"b', "x%%{init: {'theme':'dark'}}%%", "line\nbreak", "#quot;", "<img src=x>", "@team", "a]b[c", "x-->y"]

# -- unit: directions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("auc", "up"), ("accuracy", "up"), ("test.f1", "up"), ("r2", "up"), ("macro_f1", "up"),
        ("logloss", "down"), ("mlogloss", "down"), ("rmse", "down"), ("val_loss", "down"),
        ("test-error", "down"), ("error@0.7", "down"), ("eval.mae", "down"), ("f1_macro", "up"),
        ("rows", None), ("latency_ms", None), ("Accuracy", "up"),
    ],
)
def test_default_directions(key: str, expected: str | None) -> None:
    assert ReportSettings().direction(key) == expected


def test_settings_override_defaults_by_full_key_then_last_part() -> None:
    s = ReportSettings({"test.auc": "down", "loss": "none", "latency_ms": "down"})
    assert s.direction("test.auc") == "down"
    assert s.direction("train.auc") == "up"
    assert s.direction("loss") is None and s.direction("val.loss") is None
    assert s.direction("p50.latency_ms") == "down"


def test_diff_metrics_judges_better_and_worse() -> None:
    rows = {m.key: m for m in diff_metrics({"auc": 0.8, "logloss": 0.4, "rows": 10, "f1": 0.5},
                                           {"auc": 0.85, "logloss": 0.5, "rows": 12, "f1": 0.5})}
    assert (rows["auc"].direction, rows["auc"].verdict) == ("up", "better")
    assert (rows["logloss"].direction, rows["logloss"].verdict) == ("down", "worse")
    assert (rows["rows"].direction, rows["rows"].verdict) == (None, None)
    assert rows["f1"].verdict == "same"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"metrics": {"auc": "sideways"}}, "report.metrics.auc"),
        ({"metrics": ["auc"]}, "report.metrics in"),
        ({"charts": "yes"}, "report.charts"),
        ({"site_url": "ftp://x"}, "report.site_url"),
        ({"site_url": "https://a b/"}, "report.site_url"),
        ({"colours": 1}, "unknown report setting"),
        (["metrics"], "must be a mapping"),
    ],
)
def test_bad_settings_are_refused(section: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_config({"report": section})
    assert message in info.value.message
    assert "conf/report" in str(info.value.hint) or "URL" in str(info.value.hint)


def test_site_url_gets_a_trailing_slash() -> None:
    assert settings_from_config({"report": {"site_url": "https://o.github.io/r"}}).site_url == "https://o.github.io/r/"
    assert settings_from_config({}).site_url is None


# -- unit: charts ------------------------------------------------------------------------------------


@given(st.text(max_size=80))
def test_labels_cannot_end_a_string_or_start_a_directive(text: str) -> None:
    out = label(text)
    assert out and '"' not in out and "%" not in out and "#" not in out and "\n" not in out
    assert len(out) <= 32


def test_metric_chart_draws_improvement_above_zero() -> None:
    metrics = diff_metrics({"auc": 0.8, "logloss": 0.5, "rows": 10}, {"auc": 0.88, "logloss": 0.6, "rows": 20})
    chart = metric_chart(metrics)
    assert chart is not None
    assert chart.x == ["logloss", "auc"]  # the largest move first; rows has no direction
    assert chart.bars == pytest.approx([-20.0, 10.0])
    assert metric_chart(diff_metrics({"rows": 1}, {"rows": 2})) is None


def test_drift_chart_with_threshold_line() -> None:
    effects: list[dict[str, Any]] = [{"column": "a", "effect": 0.05}, {"column": "b", "effect": 0.4}, {"column": "c", "effect": None}]
    chart = drift_chart("data/x.csv", effects, 0.1)
    assert chart is not None and chart.x == ["b", "a"] and chart.line == [0.1, 0.1]
    assert drift_chart("t", [], 0.1) is None


def test_charts_parse_in_mermaid_with_hostile_labels() -> None:
    texts = [
        Chart("plain", ["auc", "logloss"], "change (%)", [6.25, -20.0]).to_mermaid(),
        Chart("hostile", HOSTILE, "y", [float(i) - 3 for i in range(len(HOSTILE))],
              [1.0] * len(HOSTILE)).to_mermaid(),
        Chart('title "with" %% quotes', ["same", "same", "same"], "y", [1e-9, 123456.789, -0.00004]).to_mermaid(),
        drift_chart('monitoring/"x"/1.bin', [{"column": c, "effect": 0.1 * i} for i, c in enumerate(HOSTILE)],
                    None).to_mermaid(),  # type: ignore[union-attr]
    ]
    blocks = mermaid_lint.assert_valid("\n\n".join(texts), expected=4)
    assert 'x-axis ["same", "same (2)", "same (3)"]' in blocks[2]
    assert "e-" not in blocks[2] and "e+" not in blocks[2]  # Mermaid reads no exponents


def test_mermaid_check_catches_a_broken_block() -> None:
    broken = '```mermaid\nxychart-beta\n    x-axis ["a", "b"]\n    bar [1, 2, 3]\n```\n'
    with pytest.raises(AssertionError, match="do not fit"):
        mermaid_lint.assert_valid(broken)
    assert mermaid_lint.parse('xychart-beta\n    x-axis ["a"b"]\n    bar [1]\n')[0]["ok"] is False


def _report(**kwargs: object) -> Report:
    base = dict(base_rev="main", base_sha="a" * 40, head_sha="b" * 40, dirty=False, params=[], metrics=[],
                metrics_path="metrics.json", data=[], drift=Section(False, "skipped"), registry=Section(True, None, []))
    base.update(kwargs)
    return Report(**base)  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_characters="@"), min_size=1, max_size=20), min_size=1, max_size=15,
                unique=True))
def test_rendered_report_charts_are_valid_for_any_metric_names(names: list[str]) -> None:
    base = {f"{n}_auc": 0.5 for n in names}
    now = {f"{n}_auc": 0.5 + 0.01 * i for i, n in enumerate(names, 1)}
    text = render(_report(metrics=diff_metrics(base, now)))
    for diagram in mermaid_lint.blocks(text):
        categories, series = mermaid_lint.xychart_shape(diagram)
        assert series == [categories]
        assert categories == min(len(names), 12)


def test_render_marks_metrics_and_draws_drift() -> None:
    drift = Section(True, None, [{
        "target": "monitoring/churn/20260101T000000Z.bin", "kind": "profile", "verdict": "drift",
        "compared": 3, "drifted": 1, "possible": 0, "rows": None, "columns": [],
        "effects": [{"column": 'mon"thly', "effect_size": "wasserstein", "effect": 0.9, "category": "drift"},
                    {"column": "tenure", "effect_size": "wasserstein", "effect": 0.02, "category": "no_drift"}],
        "threshold": 0.1}], None, "drift")
    metrics = diff_metrics({"auc": 0.8, "logloss": 0.4}, {"auc": 0.85, "logloss": 0.5})
    text = render(_report(metrics=metrics, drift=drift))
    assert "| auc | ↑ higher | 0.8 | 0.85 | +0.05 | +6.2% | 🟢 better |" in text
    assert "| logloss | ↓ lower | 0.4 | 0.5 | +0.1 | +25.0% | 🔴 worse |" in text
    assert "1 better, 1 worse" in text
    blocks = mermaid_lint.assert_valid(text, expected=2)
    assert '"mon_thly"' in blocks[1] and "line [0.1, 0.1]" in blocks[1]
    off = render(_report(metrics=metrics, drift=drift, settings=ReportSettings(charts=False)))
    assert "```mermaid" not in off and "🟢 better" in off


# -- functional: through the CLI and the comment -------------------------------------------------------


def _project(repo: Path, report_conf: str = "") -> Path:
    (repo / "params.yaml").write_text("train:\n  eta: 0.3\n" + report_conf)
    (repo / "metrics.json").write_text(json.dumps({"auc": 0.8, "logloss": 0.45, "latency_ms": 20, "rows": 100}))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "baseline")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "metrics.json").write_text(json.dumps({"auc": 0.84, "logloss": 0.5, "latency_ms": 15, "rows": 100}))
    git(repo, "commit", "-q", "-am", "tune")
    return repo


def test_report_cli_marks_and_charts(git_repo: Path) -> None:
    repo = _project(git_repo, "report:\n  metrics:\n    latency_ms: down\n")
    data = json.loads(invoke(repo, "report", "--json", "--no-drift").output)
    judged = {m["key"]: (m["direction"], m["verdict"]) for m in data["metrics"]["changes"]}
    assert judged == {"auc": ("up", "better"), "logloss": ("down", "worse"), "latency_ms": ("down", "better"),
                      "rows": (None, None)}
    md = invoke(repo, "report", "--no-drift")
    assert md.exit_code == 0, md.output
    assert "| latency\\_ms | ↓ lower | 20 | 15 | -5 | -25.0% | 🟢 better |" in md.output
    (chart,) = mermaid_lint.assert_valid(md.output, expected=1)
    assert 'x-axis ["latency_ms", "logloss", "auc"]' in chart


def test_report_cli_refuses_a_bad_direction(git_repo: Path) -> None:
    repo = _project(git_repo, "report:\n  metrics:\n    auc: sideways\n")
    result = invoke(repo, "report", "--no-drift")
    assert result.exit_code == 2
    assert "report.metrics.auc" in result.output and "up" in result.output and "down" in result.output


@pytest.mark.parametrize("untrusted", [False, True])
def test_charts_reach_the_sticky_comment(git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         untrusted: bool) -> None:
    repo = _project(git_repo)
    out = tmp_path / "report.md"
    assert invoke(repo, "report", "--no-drift", "-o", str(out)).exit_code == 0
    for key in ("GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_SHA", "GITHUB_RUN_ID"):
        monkeypatch.delenv(key, raising=False)
    head = git(repo, "rev-parse", "HEAD")
    with FakeGitHub() as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        fake.add_pull(head, 7)
        extra = ["--untrusted", "--expect-head", head] if untrusted else []
        result = invoke(repo, "comment", str(out), "--target", "pr/7", *extra)
        assert result.exit_code == 0, result.output
        (posted,) = fake.comments("issues", 7)
    body = posted["body"]
    if untrusted:  # quoted under the bot's header: the fence survives inside the quote
        body = "\n".join(line[2:] if line.startswith("> ") else line.lstrip(">") for line in body.splitlines())
    (chart,) = mermaid_lint.assert_valid(body, expected=1)
    assert '"logloss", "auc"' in chart
    assert "🔴 worse" in body and "🟢 better" in body


# -- links to the published site ------------------------------------------------------------------------


def test_site_pages_are_the_site_layout_and_encoded() -> None:
    from gitmlops.report.links import drift_page, markdown_link, version_page
    from gitmlops.site import addresses

    site = "https://acme.github.io/shop/"
    assert version_page(site, "churn", "v1.2.0") == site + "index.html#/version/churn/v1.2.0"
    assert version_page(site, "models/churn:churn", "v1.2.0") == site + addresses.version_page("models/churn:churn", "v1.2.0")
    assert drift_page(site, "monitoring/production/20260101T000000Z.bin") == (
        site + "drift/production/20260101T000000Z.html")
    assert drift_page(site, "profiles/prod/x.bin", "profiles/") == site + "drift/prod/x.html"
    # a model folder's profile: the site keeps its report under drift/<folder>/
    assert drift_page(site, "models/churn/monitoring/prod/x.bin", "monitoring", "models/churn") == (
        site + "drift/models/churn/prod/x.html")
    assert drift_page(site, "monitoring/prod/x.bin", "monitoring", "models/churn") is None
    assert drift_page(site, "data/churn.csv") is None
    assert drift_page(site, "monitoring/a/b/c.bin") is None
    assert drift_page(site, "monitoring/a b/c#d.bin") == site + "drift/a%20b/c%23d.html"
    hostile = version_page(site, "a/../b", "v1 (x)")
    assert hostile == site + "index.html#/version/a%2F..%2Fb/v1%20%28x%29"
    assert markdown_link("t", "https://s/(x)") == "[t](https://s/%28x%29)"


def test_report_links_versions_to_the_site(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _project(git_repo)
    git(repo, "tag", "-a", "churn@v1.3.0", "-m", "register on the PR's commit")
    git(repo, "tag", "-a", "churn#staging#1", "-m", "promote")
    git(repo, "tag", "-a", "churn@v1.2.0", "-m", "registered on the base", "HEAD~1")
    git(repo, "tag", "-a", "churn@v1.1.0", "-m", "older", "HEAD~1")

    plain = invoke(repo, "report", "--no-drift")
    assert "Registered at the base: churn v1.2.0." in plain.output and "](" not in plain.output

    monkeypatch.setenv("GITMLOPS_SITE_URL", "https://acme.github.io/shop")
    md = invoke(repo, "report", "--no-drift").output
    site = "https://acme.github.io/shop/index.html#/version/churn/"
    assert f"Registered at the base: churn [v1.2.0]({site}v1.2.0)." in md
    assert md.count(f"[v1.3.0]({site}v1.3.0)") == 2  # the registration and the stage event
    data = json.loads(invoke(repo, "report", "--no-drift", "--json", "--site-url", "https://docs.acme.io/").output)
    assert data["site_url"] == "https://docs.acme.io/"
    assert data["registry"]["base_versions"] == [
        {"name": "churn", "version": "v1.2.0", "commit": git(repo, "rev-parse", "HEAD~1"), "tag": "churn@v1.2.0",
         "page": "https://docs.acme.io/index.html#/version/churn/v1.2.0"}]
    assert [(e["tag"], e["version"]) for e in data["registry"]["items"]] == [
        ("churn@v1.3.0", "v1.3.0"), ("churn#staging#1", "v1.3.0")]

    monkeypatch.setenv("GITMLOPS_SITE_URL", "javascript:alert(1)")
    refused = invoke(repo, "report", "--no-drift")
    assert refused.exit_code == 2 and "$GITMLOPS_SITE_URL" in refused.output


def test_drift_rows_link_the_full_report() -> None:
    from gitmlops.report.links import attach

    items = [{"target": "monitoring/production/20260101T000000Z.bin", "kind": "profile", "verdict": "no_drift",
              "compared": 3, "drifted": 0, "possible": 0, "rows": None},
             {"target": "data/churn.csv", "kind": "data", "verdict": "no_drift", "compared": 3, "drifted": 0,
              "possible": 0, "rows": 10}]
    attach(items, [], [], "https://acme.github.io/shop/", "monitoring")
    text = render(_report(drift=Section(True, None, items, None, "no_drift")))
    assert ("| monitoring/production/20260101T000000Z.bin | 🟢 no drift | 0 drift, 0 possible / 3 | – | "
            "[on the site](https://acme.github.io/shop/drift/production/20260101T000000Z.html) (after merge) |"
            ) in text
    assert "| data/churn.csv | 🟢 no drift | 0 drift, 0 possible / 3 | 10 | – |" in text
    attach(items, [], [], None, "monitoring")
    assert "full report" not in render(_report(drift=Section(True, None, items, None, "no_drift")))


# -- fork safety: the relay of a report written by a pull request's code -------------------------------

FORK_REPORT = """## gitmlops report

```mermaid
flowchart LR
  A[approve] --> B
  click A href "https://evil.example/login"
```

~~~ Mermaid
%%{init: {'securityLevel': 'loose'}}%%
xychart-beta
    x-axis ["a"]
    bar [1]
~~~

```mermaid
xychart-beta
    title "Metric change vs base (% of base, above 0 = better)"
    x-axis ["auc"]
    y-axis "change (%)" 0 --> 10
    bar [6.25]
```

[version page](https://acme.github.io/shop/index.html#/version/churn/v1.2.0) and [elsewhere](https://acme.github.io/shopping/x)

```mermaid
xychart-beta
    x-axis ["never closed"]
"""


def test_relay_draws_only_our_charts_and_keeps_site_links(git_repo: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    report = tmp_path / "report.md"
    report.write_text(FORK_REPORT)
    for key in ("GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_SHA", "GITHUB_RUN_ID"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GITMLOPS_SITE_URL", "https://acme.github.io/shop")  # the privileged job's setting
    head = git(git_repo, "rev-parse", "HEAD")
    with FakeGitHub() as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        fake.add_pull(head, 7)
        result = invoke(git_repo, "comment", str(report), "--target", "pr/7", "--expect-head", head, "--untrusted")
        assert result.exit_code == 0, result.output
        (posted,) = fake.comments("issues", 7)
    body = "\n".join(line[2:] if line.startswith("> ") else line.lstrip(">") for line in posted["body"].splitlines())
    (drawn,) = mermaid_lint.assert_valid(body, expected=1)
    assert '"auc"' in drawn
    assert body.count("```text") == 2 and "~~~ text" in body  # shown as code, not drawn
    assert "[version page](https://acme.github.io/shop/index.html#/version/churn/v1.2.0)" in body
    assert "](https://acme.github.io/shopping" not in body and "elsewhere" in body


def test_plain_chart_grammar() -> None:
    from gitmlops.report.charts import is_plain_chart

    ours = Chart("t", HOSTILE, "y", [1.0] * len(HOSTILE), [0.5] * len(HOSTILE)).to_mermaid()
    assert is_plain_chart(ours.split("\n", 1)[1].rsplit("\n", 1)[0])
    for bad in ['xychart-beta\n    title "a %%{init}%% b"', 'xychart-beta\n    %% comment', "pie\n  \"a\": 1",
                'xychart-beta\n    x-axis ["a"]\n    bar [1]\n    click A call alert()', ""]:
        assert not is_plain_chart(bad), bad


def test_relay_keeps_links_to_the_repositorys_own_pages() -> None:
    from gitmlops.github.untrusted import relay_untrusted

    text = ("[own](https://acme.github.io/ml-app/models/churn/v1.html) [other](https://acme.github.io/other/x) "
            "[fake](https://evil.github.io/ml-app/x) [up](https://acme.github.io/ml-app/../other/x)")
    out = relay_untrusted(text, "Acme/ml-app", 7, "a" * 40)
    assert "[own](https://acme.github.io/ml-app/models/churn/v1.html)" in out
    assert "(https://acme.github.io/other" not in out and "(https://evil" not in out and "/../" not in out
    assert "[own]" not in relay_untrusted(text, "acme/ml-app", 7, "a" * 40, "https://ghe.example.com")


def test_site_url_pages_means_this_repositorys_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    from gitmlops.report.settings import pages_url

    monkeypatch.setenv("GITHUB_REPOSITORY", "Acme/shop")
    assert settings_from_config({"report": {"site_url": "pages"}}).site_url == "https://acme.github.io/shop/"
    assert pages_url("acme/acme.github.io") == "https://acme.github.io/"
    assert pages_url("not a repo") is None
    monkeypatch.delenv("GITHUB_REPOSITORY")
    assert settings_from_config({"report": {"site_url": "pages"}}).site_url is None  # no links outside a workflow


def test_conf_report_group_is_read_and_checked(example_repo: Path) -> None:
    """The example's conf/report/ is composed by Hydra; a bad direction stops `run` before it writes
    anything and `report` with a clear message."""
    conf = example_repo / "conf" / "report" / "default.yaml"
    assert "metrics:" in conf.read_text()
    from gitmlops.report.settings import load_settings

    settings = load_settings(example_repo)
    assert settings.direction("rows") is None and settings.direction("auc") == "up" and settings.charts

    conf.write_text("metrics:\n  auc: sideways\n")
    before = {p: (example_repo / p).exists() for p in ("params.yaml", "dvc.yaml")}
    run = invoke(example_repo, "run")
    assert run.exit_code == 2, run.output
    assert "report.metrics.auc" in run.output and "'sideways'" in run.output
    assert {p: (example_repo / p).exists() for p in before} == before
    assert git(example_repo, "status", "--porcelain") == "M conf/report/default.yaml"
    report = invoke(example_repo, "report", "--base", "HEAD", "--no-drift")
    assert report.exit_code == 2 and "report.metrics.auc" in report.output


@pytest.mark.slow
def test_drift_chart_and_link_on_a_trained_project(trained_repo: Path) -> None:
    """A branch with a new production profile: the drift chart draws its columns, the row links the
    profile's drift report on the site."""
    import subprocess
    import sys

    git(trained_repo, "checkout", "-q", "-b", "production-batch")
    subprocess.run([sys.executable, "scripts/make_batches.py"], cwd=trained_repo, check=True, capture_output=True)
    profiled = invoke(trained_repo, "monitor", "profile", "data/production/drifted.csv", "--name", "production")
    assert profiled.exit_code == 0, profiled.output
    result = invoke(trained_repo, "report", "--site-url", "https://acme.github.io/shop/", "--json")
    assert result.exit_code == 0, result.output
    (item,) = json.loads(result.output)["drift"]["items"]
    stamp = Path(item["target"]).stem
    assert item["target"].startswith("monitoring/production/")
    assert item["page"] == f"https://acme.github.io/shop/drift/production/{stamp}.html"
    assert item["effects"][0]["column"] == "monthly_charges" and item["threshold"] == 0.1
    md = invoke(trained_repo, "report", "--site-url", "https://acme.github.io/shop/").output
    (drift,) = mermaid_lint.assert_valid(md, expected=1)  # no metric moved: no metric chart
    assert "Drift of monitoring/production/" in drift and '"monthly_charges"' in drift
    assert f"[on the site](https://acme.github.io/shop/drift/production/{stamp}.html) (after merge)" in md


def test_a_long_metrics_table_folds_under_its_chart() -> None:
    base = {f"m{i}_auc": 0.5 for i in range(11)}
    now = {f"m{i}_auc": 0.5 + 0.01 * i for i in range(11)}
    section = render(_report(metrics=diff_metrics(base, now))).split("### Metrics")[1].split("### Data")[0]
    assert section.index("```mermaid") < section.index("<details><summary>11 rows</summary>") < section.index(
        "| m10\\_auc |")


def test_a_models_section_charts_its_metrics_by_its_own_directions() -> None:
    """Several models: each model's section judges and charts its metrics as the root's section does."""
    from gitmlops.report.diffs import diff_metrics
    from gitmlops.report.models import ModelReport
    from gitmlops.report.settings import ReportSettings

    own = ReportSettings(metrics={"score": "down"})
    metrics = diff_metrics({"score": 2.0, "auc": 0.5}, {"score": 1.0, "auc": 0.6}, own)
    text = render(_report(models=[ModelReport("plan", "models/plan", "models/plan:plan", ["1 file(s) changed"],
                                              [], metrics, "models/plan/metrics.json", own)]))
    assert "### Model `plan`" in text and "#### Metrics (`models/plan/metrics.json`)" in text
    (chart,) = mermaid_lint.assert_valid(text, expected=1)
    assert '"auc", "score"' in chart or '"score", "auc"' in chart
    assert text.count("🟢 better") == 2  # score went down, which this model's settings call better
