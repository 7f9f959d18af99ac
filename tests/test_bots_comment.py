"""`gitmlops comment`: sticky comments against the fake GitHub API on 127.0.0.1, through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitmlops.github import (
    MAX_BODY_CHARS,
    GitHubClient,
    Settings,
    build_body,
    marker,
    parse_target,
    scrub,
)
from tests.conftest import git, invoke
from tests.github_fake import REPOSITORY, TOKEN, FakeGitHub

MARK = "<!-- gitmlops-comment: gitmlops-report -->"


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "report.md"
    path.write_text("## Report\n\n| metric | base | now |\n|---|---|---|\n| auc | 0.9 | 0.91 |\n")
    return path


@pytest.fixture
def gh_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """The fake API running, and the GitHub Actions variables pointing at it."""
    for key in ("GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_SHA", "GITHUB_RUN_ID"):
        monkeypatch.delenv(key, raising=False)
    with FakeGitHub() as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        yield fake


def _comment(repo: Path, *args: str):  # type: ignore[no-untyped-def]
    result = invoke(repo, "comment", *args)
    assert TOKEN not in result.output
    return result


# -- functional: through the CLI --------------------------------------------------------------------


def test_creates_then_updates_sticky_comment(git_repo: Path, gh_env: FakeGitHub, report: Path) -> None:
    gh_env.add_thread("pr", 7, comments=3)
    first = _comment(git_repo, str(report), "--target", "pr/7", "--json")
    assert first.exit_code == 0, first.output
    data = json.loads(first.output)
    assert data["action"] == "created"
    assert data["target"] == {"kind": "pr", "number": 7, "sha": None}
    report.write_text("## Report v2\n")
    second = _comment(git_repo, str(report), "--target", "pr/7")
    assert second.exit_code == 0, second.output
    assert second.output.startswith(f"updated comment {data['id']} on pr/7")
    comments = gh_env.comments("pr", 7)
    assert len(comments) == 4
    assert comments[-1]["body"] == f"{MARK}\n## Report v2\n"
    # every request carried the token; none had it anywhere else
    assert all(r.authorization == f"Bearer {TOKEN}" for r in gh_env.requests)


def test_marker_on_page_two_of_many_comments(git_repo: Path, gh_env: FakeGitHub, report: Path) -> None:
    thread = gh_env.add_thread("pr", 12, comments=130)
    thread[115]["body"] = f"{MARK}\nold report"
    thread[115]["user"] = {"login": "github-actions[bot]", "type": "Bot"}
    sticky_id = thread[115]["id"]
    result = _comment(git_repo, str(report), "--target", "pr/12", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["action"] == "updated"
    assert json.loads(result.output)["id"] == sticky_id
    assert len(gh_env.comments("pr", 12)) == 130
    assert thread[115]["body"].startswith(MARK + "\n## Report")
    pages = [r.query.get("page", ["1"])[0] for r in gh_env.requests if r.path.endswith("/comments")]
    assert pages == ["1", "2"]
    assert all(r.query.get("per_page") == ["100"] for r in gh_env.requests if r.path.endswith("/comments"))


def test_marker_in_someone_elses_comment_is_not_edited(git_repo: Path, gh_env: FakeGitHub, report: Path) -> None:
    thread = gh_env.add_thread("pr", 7, comments=2)
    thread[0]["body"] = f"{MARK}\nmallory's comment"
    thread[0]["user"] = {"login": "mallory", "type": "User"}
    result = _comment(git_repo, str(report), "--target", "pr/7", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["action"] == "created"
    comments = gh_env.comments("pr", 7)
    assert comments[0]["body"] == f"{MARK}\nmallory's comment"
    assert len(comments) == 3 and comments[-1]["user"]["login"] == "github-actions[bot]"
    # the next post edits the bot's own comment, still not mallory's
    assert json.loads(_comment(git_repo, str(report), "--target", "pr/7", "--json").output)["action"] == "updated"
    assert len(gh_env.comments("pr", 7)) == 3 and comments[0]["body"].endswith("mallory's comment")


@pytest.mark.parametrize("how", ["personal-token", "app-login"])
def test_sticky_of_another_identity(git_repo: Path, gh_env: FakeGitHub, report: Path,
                                    monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    login = "alice" if how == "personal-token" else "my-app[bot]"
    if how == "personal-token":
        gh_env.user = {"login": login, "type": "User"}  # GET /user answers for a personal token
    else:
        monkeypatch.setenv("GITMLOPS_BOT_LOGIN", login)
    gh_env.author = {"login": login, "type": "User"}
    thread = gh_env.add_thread("pr", 7, comments=1)
    thread[0]["body"] = f"{MARK}\nwritten by GITHUB_TOKEN"
    thread[0]["user"] = {"login": "github-actions[bot]", "type": "Bot"}
    first = json.loads(_comment(git_repo, str(report), "--target", "pr/7", "--json").output)
    second = json.loads(_comment(git_repo, str(report), "--target", "pr/7", "--json").output)
    assert (first["action"], second["action"], second["id"]) == ("created", "updated", first["id"])
    assert thread[0]["body"] == f"{MARK}\nwritten by GITHUB_TOKEN"
    assert any(r.path == "/user" for r in gh_env.requests) == (how == "personal-token")


def test_link_to_another_origin_gets_no_token(git_repo: Path, gh_env: FakeGitHub, report: Path) -> None:
    gh_env.add_thread("pr", 7, comments=150)
    with FakeGitHub() as evil:
        gh_env.link_base = evil.url
        result = _comment(git_repo, str(report), "--target", "pr/7")
        assert result.exit_code == 3
        assert "link to another origin" in result.output and "refusing to send the token" in result.output
        assert evil.requests == []
    assert len(gh_env.comments("pr", 7)) == 150  # nothing posted


def test_endless_pages_are_capped(git_repo: Path, gh_env: FakeGitHub, report: Path) -> None:
    gh_env.add_thread("pr", 7, comments=3)
    gh_env.endless = True
    result = _comment(git_repo, str(report), "--target", "pr/7")
    assert result.exit_code == 3
    assert "more than 100 pages" in result.output
    assert sum(r.path.endswith("/comments") for r in gh_env.requests) == 100
    assert len(gh_env.comments("pr", 7)) == 3


def test_different_ids_are_different_comments(git_repo: Path, gh_env: FakeGitHub, report: Path) -> None:
    gh_env.add_thread("issue", 3)
    assert _comment(git_repo, str(report), "--target", "issue/3", "--id", "drift").exit_code == 0
    assert _comment(git_repo, str(report), "--target", "issue/3", "--id", "metrics").exit_code == 0
    assert _comment(git_repo, str(report), "--target", "issue/3", "--id", "drift").exit_code == 0
    bodies = [c["body"].splitlines()[0] for c in gh_env.comments("issue", 3)]
    assert bodies == ["<!-- gitmlops-comment: drift -->", "<!-- gitmlops-comment: metrics -->"]


def test_target_from_pull_request_event(git_repo: Path, gh_env: FakeGitHub, report: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    gh_env.add_thread("pr", 21)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "pull_request": {"number": 21}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    result = _comment(git_repo, str(report))
    assert result.exit_code == 0, result.output
    assert len(gh_env.comments("pr", 21)) == 1


def test_target_looked_up_from_commit(git_repo: Path, gh_env: FakeGitHub, report: Path) -> None:
    head = git(git_repo, "rev-parse", "HEAD")
    gh_env.add_pull(head, 5, state="closed")
    gh_env.add_pull(head, 9, state="open")
    result = _comment(git_repo, str(report), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["target"]["number"] == 9
    assert len(gh_env.comments("pr", 9)) == 1


def test_no_pull_request_for_commit(git_repo: Path, gh_env: FakeGitHub, report: Path) -> None:
    result = _comment(git_repo, str(report))
    assert result.exit_code == 3
    assert "no pull request found for commit" in result.output
    assert "--target commit/SHA" in result.output


def test_commit_comment(git_repo: Path, gh_env: FakeGitHub, report: Path) -> None:
    head = git(git_repo, "rev-parse", "HEAD")
    assert _comment(git_repo, str(report), "--target", f"commit/{head}").exit_code == 0
    assert _comment(git_repo, str(report), "--target", f"commit/{head}").exit_code == 0
    assert len(gh_env.comments("commit", head)) == 1


def test_server_error_then_ok_is_retried(git_repo: Path, gh_env: FakeGitHub, report: Path) -> None:
    gh_env.add_thread("pr", 7)
    gh_env.fail("GET", r"/comments$", 500, times=2, headers={"Retry-After": "0"})
    gh_env.fail("POST", r"/comments$", 429, times=1, headers={"Retry-After": "0"})
    result = _comment(git_repo, str(report), "--target", "pr/7")
    assert result.exit_code == 0, result.output
    assert len(gh_env.comments("pr", 7)) == 1


def test_post_that_fails_after_creating_leaves_no_duplicate(
    git_repo: Path, gh_env: FakeGitHub, report: Path
) -> None:
    gh_env.add_thread("pr", 7)
    gh_env.fail("POST", r"/comments$", 502, apply=True, headers={"Retry-After": "0"})
    result = _comment(git_repo, str(report), "--target", "pr/7", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["action"] == "updated"
    assert len(gh_env.comments("pr", 7)) == 1


def test_api_keeps_failing(git_repo: Path, gh_env: FakeGitHub, report: Path) -> None:
    gh_env.add_thread("pr", 7)
    gh_env.fail("GET", r"/comments$", 503, times=50, headers={"Retry-After": "0"}, message="Unavailable")
    result = _comment(git_repo, str(report), "--target", "pr/7")
    assert result.exit_code == 3
    assert "failed on GET" in result.output and "503" in result.output
    assert gh_env.comments("pr", 7) == []
    assert sum(r.method == "GET" and r.path.endswith("/comments") for r in gh_env.requests) == 5  # 1 try + 4 bounded retries


def test_long_rate_limit_fails_fast(git_repo: Path, gh_env: FakeGitHub, report: Path) -> None:
    gh_env.add_thread("pr", 7)
    gh_env.fail("GET", r"/comments$", 403, times=10, message="API rate limit exceeded",
                headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "9999999999"})
    result = _comment(git_repo, str(report), "--target", "pr/7")
    assert result.exit_code == 3
    assert "rate limit" in result.output
    assert sum(r.method == "GET" and r.path.endswith("/comments") for r in gh_env.requests) == 1


@pytest.mark.parametrize(
    ("status", "expected"),
    [(401, "rejected the token"), (403, "pull-requests: write")],
)
def test_auth_errors_name_the_fix(git_repo: Path, gh_env: FakeGitHub, report: Path, status: int,
                                  expected: str) -> None:
    gh_env.add_thread("pr", 7)
    gh_env.fail("POST", r"/comments$", status, message="Resource not accessible by integration")
    result = _comment(git_repo, str(report), "--target", "pr/7")
    assert result.exit_code == 3
    assert expected in result.output
    assert gh_env.comments("pr", 7) == []


def test_wrong_token_never_printed(git_repo: Path, gh_env: FakeGitHub, report: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    gh_env.add_thread("pr", 7)
    secret = "ghp_WrongSecretValue987654321"
    monkeypatch.setenv("MY_TOKEN", secret)
    # a hostile API that echoes the token back in its error message
    gh_env.fail("GET", r"/comments$", 418, message=f"token {secret} is not welcome")
    result = invoke(git_repo, "--traceback", "comment", str(report), "--target", "pr/7", "--token-env", "MY_TOKEN")
    assert result.exit_code == 3
    assert secret not in result.output
    assert "token *** is not welcome" in result.output


def test_html_instead_of_json(git_repo: Path, gh_env: FakeGitHub, report: Path) -> None:
    gh_env.add_thread("pr", 7)
    gh_env.fail("GET", r"/comments$", 200, html=True)
    result = _comment(git_repo, str(report), "--target", "pr/7")
    assert result.exit_code == 3
    assert "HTML" in result.output and "GITHUB_API_URL" in result.output
    assert gh_env.comments("pr", 7) == []


def test_pr_not_found(git_repo: Path, gh_env: FakeGitHub, report: Path) -> None:
    result = _comment(git_repo, str(report), "--target", "pr/404")
    assert result.exit_code == 3
    assert "not found (404)" in result.output and REPOSITORY in result.output


def test_wrong_repository_slug(git_repo: Path, gh_env: FakeGitHub, report: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "not a slug")
    result = _comment(git_repo, str(report), "--target", "pr/1")
    assert result.exit_code == 2
    assert "OWNER/NAME" in result.output
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/other")
    result = _comment(git_repo, str(report), "--target", "pr/1")
    assert result.exit_code == 3
    assert "acme/other" in result.output
    assert gh_env.requests and all(r.method == "GET" for r in gh_env.requests)


def test_no_token(git_repo: Path, gh_env: FakeGitHub, report: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    result = _comment(git_repo, str(report), "--target", "pr/1")
    assert result.exit_code == 2
    assert "no GitHub token" in result.output and "secrets.GITHUB_TOKEN" in result.output
    assert gh_env.requests == []


@pytest.mark.parametrize("content", [None, "", "  \n"])
def test_missing_or_empty_report(git_repo: Path, gh_env: FakeGitHub, tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "r.md"
    if content is not None:
        path.write_text(content)
    result = _comment(git_repo, str(path), "--target", "pr/1")
    assert result.exit_code == 2
    assert ("not found" if content is None else "empty") in result.output
    assert gh_env.requests == []


@pytest.mark.parametrize("args", [["--target", "pr/x"], ["--target", "pull/3"], ["--id", "bad id"]])
def test_bad_options(git_repo: Path, gh_env: FakeGitHub, report: Path, args: list[str]) -> None:
    result = _comment(git_repo, str(report), *args)
    assert result.exit_code == 2
    assert gh_env.requests == []


def test_oversized_report_is_truncated(git_repo: Path, gh_env: FakeGitHub, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    gh_env.add_thread("pr", 7)
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
    path = tmp_path / "big.md"
    path.write_text("<details><summary>rows</summary>\n\n" + "| a | b |\n" * 20_000 + "</details>\n")
    result = _comment(git_repo, str(path), "--target", "pr/7", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["truncated"] is True
    (posted,) = gh_env.comments("pr", 7)
    assert len(posted["body"]) <= MAX_BODY_CHARS
    assert f"https://github.example/{REPOSITORY}/actions/runs/4242" in posted["body"]
    assert posted["body"].count("<details") == posted["body"].count("</details>")


# -- unit: pure pieces -------------------------------------------------------------------------------


def test_parse_target() -> None:
    assert parse_target("auto") is None
    assert str(parse_target("pr/12")) == "pr/12"
    assert str(parse_target("issue/3")) == "issue/3"
    assert str(parse_target("commit/ABCDEF1")) == "commit/abcdef1"


def test_marker_and_short_body() -> None:
    assert marker("x-1") == "<!-- gitmlops-comment: x-1 -->"
    body, truncated = build_body("hi", "x-1")
    assert (body, truncated) == ("<!-- gitmlops-comment: x-1 -->\nhi", False)


def test_truncation_closes_code_fence() -> None:
    body, truncated = build_body("```\n" + "x\n" * 40_000, "r")
    assert truncated and len(body) <= MAX_BODY_CHARS
    assert body.count("```") % 2 == 0
    assert "the workflow's artifact" in body


def test_scrub() -> None:
    assert scrub("a secret-token b", "secret-token") == "a *** b"
    assert scrub("abc", "") == "abc"


def test_settings_repr_hides_token() -> None:
    settings = Settings(repository="a/b", token="s3cr3t-token")
    assert "s3cr3t" not in repr(settings)


def test_retry_wait_without_headers_backs_off_and_is_capped(gh_env: FakeGitHub) -> None:
    waits: list[float] = []
    settings = Settings(repository=REPOSITORY, token=TOKEN, api_url=gh_env.url)
    client = GitHubClient(settings, backoff=0.01, max_wait=0.03, sleep=waits.append)
    gh_env.add_thread("pr", 1)
    gh_env.fail("GET", r"/comments$", 502, times=3)
    assert list(client.paginate(f"repos/{REPOSITORY}/issues/1/comments")) == []
    assert waits == [0.01, 0.02, 0.03]


def test_expect_head_guards_the_target(git_repo: Path, gh_env: FakeGitHub, report: Path) -> None:
    gh_env.add_pull("a" * 40, 8)
    wrong = _comment(git_repo, str(report), "--target", "pr/8", "--expect-head", "b" * 40)
    assert wrong.exit_code == 3
    assert "not at the reported commit" in wrong.output
    assert gh_env.comments("pr", 8) == []
    right = _comment(git_repo, str(report), "--target", "pr/8", "--expect-head", "a" * 40)
    assert right.exit_code == 0, right.output
    assert len(gh_env.comments("pr", 8)) == 1
