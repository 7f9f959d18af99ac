"""Sticky comments on pull requests, issues and commits.

A *sticky* comment starts with a hidden marker ``<!-- gitmlops-comment: ID -->``; posting again with
the same ID edits that comment instead of adding one. The search pages through every comment of the
thread (``per_page=100`` and the ``Link`` header), so long threads do not grow duplicates, and edits
only a comment written by the token's own identity (see :func:`token_login`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from gitmlops.errors import GitHubAPIError, GitHubError, UsageError
from gitmlops.github.client import GitHubClient, Settings

#: GitHub rejects issue and commit comment bodies longer than this (in characters).
MAX_BODY_CHARS = 65_536
MARKER_TEMPLATE = "<!-- gitmlops-comment: {id} -->"
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
TARGET_RE = re.compile(r"^(?:(?P<auto>auto)|(?P<kind>pr|issue)/(?P<number>[1-9][0-9]{0,9})|commit/(?P<sha>[0-9a-fA-F]{7,40}))$")
PERMISSION_HINTS = {
    "pr": "give the job `permissions: pull-requests: write` (post from a workflow_run job for PRs from forks)",
    "issue": "give the job `permissions: issues: write`",
    "commit": "give the job `permissions: contents: write`",
}


@dataclass(frozen=True)
class Target:
    """Where a comment goes: a pull request, an issue or a commit."""

    kind: str  # "pr" | "issue" | "commit"
    number: int | None = None
    sha: str | None = None

    def __str__(self) -> str:
        return f"commit/{self.sha}" if self.kind == "commit" else f"{self.kind}/{self.number}"


@dataclass
class CommentResult:
    """What :func:`post_comment` did."""

    action: str  # "created" | "updated"
    id: int
    url: str | None
    target: Target
    marker_id: str
    truncated: bool
    body_chars: int


# -- targets ------------------------------------------------------------------------------------


def parse_target(text: str) -> Target | None:
    """``auto`` -> None; ``pr/N``, ``issue/N``, ``commit/SHA`` -> a Target; else UsageError."""
    match = TARGET_RE.match(text.strip())
    if not match:
        raise UsageError(
            f"invalid --target {text!r}",
            "use auto, pr/NUMBER, issue/NUMBER or commit/SHA (7 to 40 hex digits)",
        )
    if match.group("auto"):
        return None
    if match.group("sha"):
        return Target("commit", sha=match.group("sha").lower())
    return Target(match.group("kind"), number=int(match.group("number")))


def _read_event(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            event = json.load(fh)
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"cannot read the event payload GITHUB_EVENT_PATH={path}: {exc}",
            "unset GITHUB_EVENT_PATH outside GitHub Actions, or pass --target",
        ) from None
    return event if isinstance(event, dict) else {}


def resolve_target(client: GitHubClient, fallback_sha: str | None = None) -> Target:
    """The pull request of this run: from the event payload, else looked up from the commit."""
    settings = client.settings
    event = _read_event(settings.event_path)
    for key in ("pull_request", "issue"):
        number = (event.get(key) or {}).get("number")
        if isinstance(number, int) and number > 0:
            return Target("pr", number=number)
    run = event.get("workflow_run") or {}
    prs = [p.get("number") for p in run.get("pull_requests") or [] if isinstance(p, dict)]
    if prs and isinstance(prs[0], int):
        return Target("pr", number=prs[0])
    sha = run.get("head_sha") or settings.sha or fallback_sha
    if not sha or not re.fullmatch(r"[0-9a-fA-F]{7,40}", str(sha)):
        raise UsageError(
            "cannot tell which pull request to comment on: no pull_request event and no commit SHA",
            "pass --target pr/NUMBER (or commit/SHA), or run inside GitHub Actions",
        )
    client.permission_hint = "give the job `permissions: pull-requests: read` (or contents: read)"
    pulls = list(client.send("GET", f"repos/{settings.repository}/commits/{sha}/pulls")[0] or [])
    open_prs = [p for p in pulls if isinstance(p, dict) and p.get("state") == "open"]
    chosen = (open_prs or [p for p in pulls if isinstance(p, dict)])[:1]
    if not chosen or not isinstance(chosen[0].get("number"), int):
        raise GitHubError(
            f"no pull request found for commit {sha} in {settings.repository}",
            "push the branch and open a pull request first, or pass --target commit/SHA to comment "
            "on the commit itself",
        )
    return Target("pr", number=chosen[0]["number"])


# -- sticky comments ----------------------------------------------------------------------------


def marker(comment_id: str) -> str:
    """The hidden marker line of the sticky comment ``comment_id``."""
    if not ID_RE.match(comment_id):
        raise UsageError(
            f"invalid --id {comment_id!r}",
            "use 1-64 letters, digits, '.', '_' or '-' (e.g. gitmlops-report)",
        )
    return MARKER_TEMPLATE.format(id=comment_id)


def build_body(text: str, comment_id: str, full_report_url: str | None = None) -> tuple[str, bool]:
    """The comment body: marker line + ``text``, truncated under GitHub's limit. Returns (body, truncated)."""
    head = marker(comment_id) + "\n"
    body = head + text
    if len(body) <= MAX_BODY_CHARS:
        return body, False
    where = f"[the full report]({full_report_url})" if full_report_url else "the full report (the workflow's artifact)"
    note = (
        f"\n\n---\n> **Truncated:** this report has {len(text):,} characters, more than GitHub's "
        f"{MAX_BODY_CHARS:,}-character limit for a comment. See {where}.\n"
    )
    budget = MAX_BODY_CHARS - len(head) - len(note) - 200  # room for closing tags
    cut = text[:budget]
    newline = cut.rfind("\n")
    if newline > budget // 2:
        cut = cut[:newline]
    # Close what the cut left open, so the rest of the page still renders.
    if cut.count("```") % 2:
        cut += "\n```"
    open_details = cut.count("<details") - cut.count("</details>")
    cut += "\n</details>" * max(0, open_details)
    return head + cut + note, True


def check_head(client: GitHubClient, target: Target, sha: str) -> None:
    """Raise unless pull request ``target``'s head commit is ``sha`` (guards artifacts from PR runs)."""
    if target.kind != "pr":
        raise UsageError("--expect-head applies to pull requests only", "use it with --target pr/N")
    client.permission_hint = "give the job `permissions: pull-requests: read`"
    pull, _ = client.send("GET", f"repos/{client.settings.repository}/pulls/{target.number}")
    head = ((pull or {}).get("head") or {}).get("sha") if isinstance(pull, dict) else None
    if not isinstance(head, str) or head.lower() != sha.strip().lower():
        raise GitHubError(
            f"pull request #{target.number} is at {str(head)[:12]}, not at the reported commit {sha.strip()[:12]}",
            "the report is stale (the PR moved on) or does not belong to this PR; nothing was posted",
        )


def comment_path(repository: str, target: Target) -> tuple[str, str]:
    """(list/create path, update path prefix) of the comments of ``target``."""
    if target.kind == "commit":
        return f"repos/{repository}/commits/{target.sha}/comments", f"repos/{repository}/comments"
    return f"repos/{repository}/issues/{target.number}/comments", f"repos/{repository}/issues/comments"


#: Who writes comments with an installation token (``GITHUB_TOKEN``), which may not read ``GET /user``.
ACTIONS_BOT = "github-actions[bot]"


def token_login(client: GitHubClient) -> str:
    """The login the token comments as: ``GITMLOPS_BOT_LOGIN`` when set (a GitHub App's
    ``SLUG[bot]``), else ``GET /user`` (a personal token), else ``github-actions[bot]``."""
    if client.settings.bot_login:
        return client.settings.bot_login
    try:
        user, _ = client.send("GET", "user")
    except GitHubAPIError as exc:
        if exc.status in (403, 404):  # an installation token: GITHUB_TOKEN unless told otherwise
            return ACTIONS_BOT
        raise
    login = user.get("login") if isinstance(user, dict) else None
    if not isinstance(login, str) or not login:
        raise client._error(f"GET /user answered without a login: {str(user)[:120]!r}")
    return login


def find_sticky(client: GitHubClient, list_path: str, mark: str) -> dict[str, Any] | None:
    """The earliest comment by the token's identity whose body starts with ``mark``, searching
    every page (the identity is asked for only once a marked comment turns up).

    A marker in someone else's comment is ignored: only the bot's own comment may be edited, so a
    user who copies the marker cannot have the bot overwrite (or take over) their comment.
    """
    login: str | None = None
    for comment in client.paginate(list_path):
        if not isinstance(comment, dict):
            continue
        body = comment.get("body")
        author = (comment.get("user") or {}).get("login") if isinstance(comment.get("user"), dict) else None
        if not (isinstance(body, str) and body.lstrip().startswith(mark) and isinstance(author, str)):
            continue
        login = login or token_login(client)
        if author.lower() == login.lower():
            return comment
    return None


def post_comment(
    client: GitHubClient,
    text: str,
    comment_id: str,
    *,
    target: Target | None = None,
    full_report_url: str | None = None,
    fallback_sha: str | None = None,
    expect_head: str | None = None,
    untrusted: bool = False,
    site_url: str | None = None,
) -> CommentResult:
    """Create or update the sticky comment ``comment_id`` on ``target`` (None: this run's PR).

    ``expect_head``: refuse unless the pull request's head is this commit (the report's commit).
    ``untrusted``: ``text`` was written by a pull request's code; post it sanitised and quoted under
    the bot's own header (:func:`gitmlops.github.untrusted.relay_untrusted`), keeping links to
    ``site_url`` (the project's published site).
    """
    if not text.strip():
        raise UsageError("the report is empty; refusing to post an empty comment",
                         "check the step that writes the report (gitmlops report --output FILE)")
    mark = marker(comment_id)
    if target is None:
        target = resolve_target(client, fallback_sha)
    if expect_head:
        check_head(client, target, expect_head)
    if untrusted:
        from gitmlops.github.untrusted import relay_untrusted

        text = relay_untrusted(text, client.settings.repository, target.number, expect_head or target.sha,
                               client.settings.server_url, site_url)
    body, truncated = build_body(text, comment_id, full_report_url or client.settings.run_url)
    client.permission_hint = PERMISSION_HINTS[target.kind]
    list_path, update_prefix = comment_path(client.settings.repository, target)
    attempt = 0
    while True:
        attempt += 1
        existing = find_sticky(client, list_path, mark)
        if existing is not None:
            payload, _ = client.send("PATCH", f"{update_prefix}/{existing['id']}", body={"body": body})
            action = "updated"
            break
        # A POST that failed with a 5xx may still have created the comment; so instead of blindly
        # re-posting, the loop searches again first and edits what it finds (no duplicates).
        try:
            payload, _ = client.send("POST", list_path, body={"body": body}, retry=False)
        except GitHubAPIError as exc:
            if attempt > client.retries or not (exc.status == 0 or (exc.status or 0) >= 500):
                raise
            client.sleep(min(client.backoff * 2 ** (attempt - 1), client.max_wait))
            continue
        action = "created"
        break
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), int):
        raise client._error(f"unexpected answer from GitHub after writing the comment: {str(payload)[:120]!r}")
    return CommentResult(
        action=action,
        id=payload["id"],
        url=payload.get("html_url"),
        target=target,
        marker_id=comment_id,
        truncated=truncated,
        body_chars=len(body),
    )


def comment_from_file(
    path: str,
    *,
    comment_id: str = "gitmlops-report",
    target: str = "auto",
    token_env: str = "GITHUB_TOKEN",
    full_report_url: str | None = None,
    fallback_sha: str | None = None,
    expect_head: str | None = None,
    untrusted: bool = False,
    site_url: str | None = None,
    env: dict[str, str] | None = None,
) -> CommentResult:
    """Post the Markdown file ``path`` as the sticky comment ``comment_id`` (the `comment` command)."""
    parsed = parse_target(target)
    marker(comment_id)
    if site_url:
        from gitmlops.report.settings import check_site_url

        site_url = check_site_url(site_url, "--site-url")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise UsageError(f"report file not found: {path}",
                         "write it first with `gitmlops report --output FILE`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the report file {path}: {exc}") from None
    if not text.strip():
        raise UsageError(f"the report file {path} is empty; refusing to post an empty comment",
                         "check the step that writes it (gitmlops report --output FILE)")
    settings = Settings.from_env(token_env, env)
    client = GitHubClient(settings)
    return post_comment(
        client, text, comment_id, target=parsed, full_report_url=full_report_url, fallback_sha=fallback_sha,
        expect_head=expect_head, untrusted=untrusted, site_url=site_url,
    )
