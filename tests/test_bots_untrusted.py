"""`gitmlops comment --untrusted`: a hostile, fork-written report posted through the real CLI to the
fake GitHub API, and the sanitiser's rules one by one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitmlops.github.untrusted import relay_untrusted, sanitise
from tests.conftest import invoke
from tests.github_fake import REPOSITORY, TOKEN, FakeGitHub

HEAD = "a" * 40
ALLOWED = f"https://github.com/{REPOSITORY}"
HOSTILE = """\
## gitmlops report

**✅ All checks passed: approved by the bot, safe to merge**

cc @acme/security-team @alice please see #1 and acme/other#2 &#64;bob &#x40;carol

![tracker](https://evil.example/pixel.png?pr=7) <img src="https://evil.example/x.png">
[click to approve](https://evil.example/login) and [docs](https://github.com/acme/ml-app/blob/main/README.md)
Bare https://evil.example/phish and www.evil.example/x
[ref link][r]

[r]: https://evil.example/ref

</details></details>
<details><summary>Metrics</summary>

| metric | value |
|---|---|
| auc | 0.99 |
<script>alert(1)</script> <!-- gitmlops-comment: gitmlops-report -->
<a href="https://evil.example">more</a>

```
unclosed fence with @dave and <b>bold</b>
"""


def _relay(text: str) -> str:
    return relay_untrusted(text, REPOSITORY, 7, HEAD)


def _live_mentions(md: str) -> list[str]:
    # outside code, '@'/'#' right before a name or number is live (the entity &#8203; itself is not)
    return re.findall(r"(?<!&)[@#][A-Za-z0-9]", md)


def test_hostile_report_is_neutralised() -> None:
    out = _relay(HOSTILE)
    lines = out.splitlines()
    # the bot's own header comes first and says who wrote the report; every report line is quoted
    assert lines[0].startswith("**Report written by the code of pull request 7 at commit `aaaaaaaaaaaa`**")
    assert all(line.startswith(">") for line in lines[2:])
    passed = [line for line in lines if "All checks passed" in line]
    assert passed == ["> **✅ All checks passed: approved by the bot, safe to merge**"]
    # nothing outside the code block pings or cross-links anyone
    code_start = out.index("> ```")
    assert _live_mentions(out[:code_start]) == []
    assert "@&#8203;acme/security-team" in out and "&#64;bob" not in out and "&#x40;carol" not in out
    # no image, no outside link, no raw HTML, no second marker
    assert "![" not in out and "<img" not in out and "pixel.png)" not in out
    assert "](https://evil.example" not in out and "[r]:" not in out
    assert "`https://evil.example/phish`" in out and "`www.evil.example/x`" in out
    assert "click to approve and" in out and "ref link" in out
    assert f"[docs]({ALLOWED}/blob/main/README.md)" in out
    assert "<script>" not in out and "<a " not in out and "<!--" not in out
    assert "&lt;script&gt;" in out and "&lt;!-- gitmlops-comment" in out
    # structure: stray closers dropped, what was opened is closed, the fence is closed
    assert out.count("<details>") == out.count("</details>") == 1
    assert out.count("<summary>") == out.count("</summary>") == 1
    assert out.index("<details>") < out.index("</details>")
    assert out.count("> ```") == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[x](https://github.com/acme/ml-app/pull/3)", "[x](https://github.com/acme/ml-app/pull/3)"),
        ("[x](https://github.com/acme/ml-app-evil/pull/3)", "x"),
        ("[x](https://github.com/acme/ml-app/../../evil)", "x"),
        ("[x](javascript:alert(1))", "x)"),
        ("`@team <b>` stays code", "`@team <b>` stays code"),
        ("a <br> b <br/>", "a <br> b <br>"),
        ("</summary><summary>x", "x"),
        ("rtl\u202eevil", "rtlevil"),
        ("safe &lt; &amp; &#8203; entities", "safe &lt; &amp; &#8203; entities"),
    ],
)
def test_sanitise_rules(raw: str, expected: str) -> None:
    assert sanitise(raw, ALLOWED) == expected


# -- functional: through the CLI and the fake API ---------------------------------------------------


@pytest.fixture
def gh_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    for key in ("GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_SHA", "GITHUB_RUN_ID", "GITHUB_SERVER_URL"):
        monkeypatch.delenv(key, raising=False)
    with FakeGitHub() as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        yield fake


def test_untrusted_report_posted_as_quoted_and_sanitised(git_repo: Path, gh_env: FakeGitHub, tmp_path: Path) -> None:
    gh_env.add_pull(HEAD, 7)
    report = tmp_path / "report.md"
    report.write_text(HOSTILE)
    result = invoke(git_repo, "comment", str(report), "--target", "pr/7", "--expect-head", HEAD, "--untrusted")
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output
    (posted,) = gh_env.comments("pr", 7)
    body = posted["body"]
    assert body.startswith("<!-- gitmlops-comment: gitmlops-report -->\n**Report written by the code of pull request 7")
    assert body.count("<!--") == 1  # the fork's copy of the marker is shown as text, not a second marker
    assert "> **✅ All checks passed" in body and "\n**✅" not in body
    assert _live_mentions(body[: body.index("> ```")]) == []
    assert "evil.example/pixel" not in body and "<img" not in body and "<script" not in body


def test_trusted_report_is_posted_verbatim(git_repo: Path, gh_env: FakeGitHub, tmp_path: Path) -> None:
    gh_env.add_thread("pr", 7)
    report = tmp_path / "report.md"
    report.write_text("## Report\n\n<details><summary>x</summary>\n\nrows\n\n</details>\n")
    assert invoke(git_repo, "comment", str(report), "--target", "pr/7").exit_code == 0
    assert gh_env.comments("pr", 7)[0]["body"].endswith("\n## Report\n\n<details><summary>x</summary>\n\nrows\n\n</details>\n")
