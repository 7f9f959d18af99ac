"""`gitmlops report`: unit tests of the pure pieces (escaping, rounding, diffs) and functional tests
through the CLI on real git + DVC repositories."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitmlops.report import escape, number
from gitmlops.report.collect import (
    DataChange,
    Report,
    Section,
    diff_metrics,
    diff_params,
    flatten,
)
from gitmlops.report.markdown import COLLAPSE_ROWS, render, signed, size
from tests.conftest import git, invoke

# -- unit: escaping and numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain", "plain"),
        ("a|b", r"a\|b"),
        ("`code`", r"\`code\`"),
        ("*bold* _it_", r"\*bold\* \_it\_"),
        ("[x](http://e)", r"\[x\](http://e)"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("@team please", "@&#8203;team please"),
        ("a\nb\r\nc", "a b c"),
        ("fix #12", "fix #&#8203;12"),
        ("back\\slash", r"back\\slash"),
        ("~~gone~~", r"\~\~gone\~\~"),
        ("a & b", "a &amp; b"),
        ("bell\x07", "bell"),
    ],
)
def test_escape(raw: str, expected: str) -> None:
    assert escape(raw) == expected


def test_escape_truncates_long_values() -> None:
    out = escape("x" * 500)
    assert len(out) == 200 and out.endswith("…")


@given(st.text(max_size=300))
def test_escaped_text_cannot_break_a_table_or_inject(text: str) -> None:
    out = escape(text)
    assert "\n" not in out and "\r" not in out
    assert "<" not in out and ">" not in out
    assert not re.search(r"(?<!&)[@#][A-Za-z0-9]", out)  # no live mention or reference
    # every pipe and backtick is preceded by an odd number of backslashes
    for match in re.finditer(r"(\\*)[|`]", out):
        assert len(match.group(1)) % 2 == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "–"),
        (True, "true"),
        (3, "3"),
        (123456, "123,456"),
        (0.0, "0"),
        (0.123456, "0.1235"),
        (0.1, "0.1"),
        (12.3456, "12.35"),
        (1234.5, "1234"),  # 4 significant digits
        (2.5e-6, "2.500e-06"),
        (3.2e7, "3.200e+07"),
        (float("nan"), "nan"),
    ],
)
def test_number(value: object, expected: str) -> None:
    assert number(value) == expected


def test_signed_and_size() -> None:
    assert signed(0.01234) == "+0.0123"
    assert signed(-0.5) == "-0.5"
    assert signed(0.0) == "0"
    assert signed(None) == "–"
    assert signed(0.0512, percent=True) == "+5.1%"
    assert size(None) == "–" and size(512) == "512 B" and size(2048) == "2.0 KB"


# -- unit: diffs ------------------------------------------------------------------------------------


def test_flatten_and_diff_params() -> None:
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {"a.b": 1, "a.c": [1, 2], "d": None}
    changes = diff_params({"train": {"eta": 0.3, "old": 1}, "x": 1}, {"train": {"eta": 0.1, "new": 2}, "x": 1})
    assert [(c.key, c.status, c.base, c.current) for c in changes] == [
        ("train.eta", "changed", 0.3, 0.1),
        ("train.new", "added", None, 2),
        ("train.old", "removed", 1, None),
    ]


def test_diff_metrics() -> None:
    rows = {m.key: m for m in diff_metrics({"auc": 0.8, "n": 10, "s": "a"}, {"auc": 0.88, "n": 10, "new": 1})}
    assert rows["auc"].delta == pytest.approx(0.08) and rows["auc"].relative == pytest.approx(0.1)
    assert rows["n"].changed is False and rows["n"].delta == 0
    assert rows["s"].delta is None and rows["s"].current is None and rows["s"].changed
    assert rows["new"].base is None and rows["new"].delta is None


def _report(**kwargs: object) -> Report:
    base = dict(base_rev="main", base_sha="a" * 40, head_sha="b" * 40, dirty=False, params=[], metrics=[],
                metrics_path="metrics.json", data=[], drift=Section(False, "monitor missing"),
                registry=Section(True, None, []))
    base.update(kwargs)
    return Report(**base)  # type: ignore[arg-type]


def test_render_escapes_data_and_collapses_long_sections() -> None:
    params = diff_params({}, {f"col|{i}": f"<b>{i}</b>" for i in range(COLLAPSE_ROWS + 1)})
    data = [DataChange("data/a|b.csv", "data", "modified", "1", "2", 10, 20)]
    text = render(_report(params=params, data=data))
    assert "<details><summary>11 rows</summary>" in text
    assert r"col\|3" in text and "&lt;b&gt;3&lt;/b&gt;" in text and "<b>" not in text
    assert r"data/a\|b.csv" in text and "10 B → 20 B" in text
    assert "_monitor missing_" in text
    assert "### Metrics" in text and "<details" not in text.split("### Data")[1]


def test_render_short_tables_are_not_collapsed() -> None:
    text = render(_report(params=diff_params({"a": 1}, {"a": 2})))
    assert "<details" not in text
    assert "| a | changed | 1 | 2 |" in text


# -- functional: through the CLI --------------------------------------------------------------------


def _project(repo: Path) -> Path:
    """A small project without DVC: params.yaml and metrics.json on main, a feature branch."""
    (repo / "params.yaml").write_text("train:\n  eta: 0.3\n  depth: 4\npaths:\n  metrics: out/metrics.json\n")
    (repo / "out").mkdir()
    (repo / "out" / "metrics.json").write_text(json.dumps({"auc": 0.8, "rows": 100}))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "baseline")
    git(repo, "checkout", "-q", "-b", "feature")
    return repo


def test_report_params_and_metrics_against_merge_base(git_repo: Path) -> None:
    repo = _project(git_repo)
    base = git(repo, "rev-parse", "HEAD")
    (repo / "params.yaml").write_text("train:\n  eta: 0.1\n  depth: 4\n  'a|b': '@x'\npaths:\n  metrics: out/metrics.json\n")
    (repo / "out" / "metrics.json").write_text(json.dumps({"auc": 0.85, "rows": 100}))
    git(repo, "commit", "-q", "-am", "tune")
    result = invoke(repo, "report", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["base"] == {"rev": "merge-base(main)", "sha": base}
    assert data["head"]["dirty"] is False
    assert {p["key"]: p["status"] for p in data["params"]} == {"train.a|b": "added", "train.eta": "changed"}
    auc = next(m for m in data["metrics"]["changes"] if m["key"] == "auc")
    assert auc["delta"] == pytest.approx(0.05)
    assert data["metrics"]["path"] == "out/metrics.json"
    assert data["data"] == []
    assert data["registry"]["available"] is True

    md = invoke(repo, "report")
    assert md.exit_code == 0, md.output
    assert "| train.eta | changed | 0.3 | 0.1 |" in md.output
    assert "| auc | ↑ higher | 0.8 | 0.85 | +0.05 | +6.2% | 🟢 better |" in md.output
    assert r"train.a\|b" in md.output and "@&#8203;x" in md.output


def test_report_output_file_and_explicit_base(git_repo: Path, tmp_path: Path) -> None:
    repo = _project(git_repo)
    (repo / "params.yaml").write_text("train:\n  eta: 0.2\n")
    out = tmp_path / "report.md"
    result = invoke(repo, "report", "--base", "main", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote {out}")
    text = out.read_text()
    assert "+ uncommitted changes" in text and "(main)" in text
    assert "| train.depth | removed | 4 | – |" in text


def _git_at(repo: Path, date: str, *args: str) -> None:
    env = {**os.environ, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)


def test_registry_events_are_the_pull_requests_own(git_repo: Path) -> None:
    """Only tags on the PR's commits (base..HEAD) count: not tags on the base's history, nor on commits
    main gained since, even when they were created after the base commit."""
    repo = _project(git_repo)  # on feature, at the base commit A
    git(repo, "checkout", "-q", "main")
    _git_at(repo, "2019-06-01T00:00:00", "tag", "-a", "old@v0.1.0", "-m", "before the base")
    git(repo, "tag", "-a", "old#prod#1", "-m", "promoted during the PR, on the base's history")
    (repo / "main.txt").write_text("main moves on\n")
    git(repo, "add", "main.txt")
    git(repo, "commit", "-q", "-m", "main gains a commit")
    git(repo, "tag", "-a", "other@v2.0.0", "-m", "registered on main during the PR")
    git(repo, "checkout", "-q", "feature")
    (repo / "params.yaml").write_text("train:\n  eta: 0.2\n")
    git(repo, "commit", "-q", "-am", "the PR's commit")
    git(repo, "tag", "-a", "churn@v1.0.0", "-m", "register")
    git(repo, "tag", "-a", "churn#staging#1", "-m", "promote")
    result = invoke(repo, "report", "--format", "json", "--no-drift")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    events = report["registry"]["items"]
    assert [(e["name"], e["tag"]) for e in events] == [("churn", "churn@v1.0.0"), ("churn", "churn#staging#1")]
    assert {e["commit"] for e in events} == {git(repo, "rev-parse", "HEAD")}
    md = invoke(repo, "report", "--no-drift").output
    assert "### Registry (2 event(s) on this pull request's commits)" in md and "| churn |" in md
    registry = md.split("### Registry")[1]
    assert "| old |" not in registry and "other" not in registry
    assert "Registered at the base: old v0.1.0." in registry  # the base's own version, for reference
    # Against main's tip, main's own commit is the base's: the PR adds the same two events.
    report = json.loads(invoke(repo, "report", "--json", "--no-drift", "--base", "main").output)
    assert [e["tag"] for e in report["registry"]["items"]] == ["churn@v1.0.0", "churn#staging#1"]
    assert [v["tag"] for v in report["registry"]["base_versions"]] == ["old@v0.1.0", "other@v2.0.0"]


def test_registry_without_own_commits_lists_nothing(git_repo: Path) -> None:
    repo = _project(git_repo)
    git(repo, "tag", "-a", "churn@v1.0.0", "-m", "tagged on the base commit itself")
    result = invoke(repo, "report", "--no-drift")
    assert result.exit_code == 0, result.output
    assert "No registry events on this pull request's commits." in result.output


def test_report_without_default_branch_needs_base(git_repo: Path) -> None:
    git(git_repo, "branch", "-m", "trunk")
    result = invoke(git_repo, "report")
    assert result.exit_code == 2
    assert "--base" in result.output
    result = invoke(git_repo, "report", "--base", "nope")
    assert result.exit_code == 2
    assert "does not resolve" in result.output


@pytest.mark.slow
def test_report_on_trained_project_with_new_data(trained_repo: Path) -> None:
    """Retrain on shifted data on a branch: data, outputs, metrics and drift all show up."""
    import pandas as pd

    git(trained_repo, "checkout", "-q", "-b", "feature")
    data_path = trained_repo / "data" / "churn.csv"
    df = pd.read_csv(data_path)
    df["monthly_charges"] = df["monthly_charges"] * 2 + 10
    df.to_csv(data_path, index=False)
    assert invoke(trained_repo, "data", "add", "data/churn.csv").exit_code == 0
    result = invoke(trained_repo, "run", "train.max_depth=6")
    assert result.exit_code == 0, result.output
    result = invoke(trained_repo, "report", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    changes = {(d["path"], d["kind"]) for d in report["data"]}
    assert ("data/churn.csv", "data") in changes
    assert ("models/model.ubj", "output") in changes
    churn = next(d for d in report["data"] if d["path"] == "data/churn.csv")
    assert churn["rows"] == len(df)
    assert {p["key"] for p in report["params"]} >= {"train.max_depth"}
    assert report["drift"]["available"] is True, report["drift"]
    assert report["drift"]["verdict"] in ("drift", "possible_drift")
    drifted = {c["column"] for c in report["drift"]["items"][0]["columns"]}
    assert "monthly_charges" in drifted
    md = invoke(trained_repo, "report")
    assert "### Drift: " in md.output and "monthly\\_charges" in md.output
