"""A small fake of the GitHub REST API on 127.0.0.1, for tests of `gitmlops comment` and the workflows.

It implements the endpoints gitmlops uses, with GitHub's pagination (``per_page``/``page`` and a
``Link`` header) and its error shapes:

- ``GET/POST /repos/{owner}/{repo}/issues/{n}/comments``, ``PATCH /repos/{owner}/{repo}/issues/comments/{id}``
- ``GET/POST /repos/{owner}/{repo}/commits/{sha}/comments``, ``PATCH /repos/{owner}/{repo}/comments/{id}``
- ``GET /repos/{owner}/{repo}/commits/{sha}/pulls``, ``GET /repos/{owner}/{repo}/pulls/{n}`` (head sha)
- ``GET /user``: 403 like an installation token (``GITHUB_TOKEN``), or :attr:`FakeGitHub.user` when set
  (a personal access token); comments the fake creates are written by :attr:`FakeGitHub.author`

Hostile servers for tests of the client: :attr:`FakeGitHub.link_base` names another origin in the
``Link`` headers, :attr:`FakeGitHub.endless` links every page to a next one.

Failures are scripted with :meth:`FakeGitHub.fail` (status, headers, HTML body, a number of times, and
whether the request still takes effect, like a POST that succeeds but answers 502).

Use it as a context manager, or through the ``fake_github`` fixture (import it into a test module)::

    with FakeGitHub(token="t0ken", repository="acme/app") as gh:
        gh.add_thread("pr", 7)
        ... GITHUB_API_URL=gh.url ...
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

TOKEN = "ghs_FakeTokenForTests0123456789abcdef"
REPOSITORY = "acme/ml-app"
BOT = {"login": "github-actions[bot]", "type": "Bot"}


@dataclass
class Failure:
    """A scripted failure: the next ``times`` matching requests get ``status``."""

    method: str
    path_re: str
    status: int
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    html: bool = False
    apply: bool = False  # still perform the request (e.g. the comment is created, then 502)
    message: str = "Server Error"


@dataclass
class Request:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    body: Any


class FakeGitHub:
    """The fake API server and its state (threads of comments, commit -> pull requests)."""

    def __init__(self, token: str = TOKEN, repository: str = REPOSITORY) -> None:
        self.token = token
        self.repository = repository
        self.threads: dict[str, list[dict[str, Any]]] = {}
        self.pulls: dict[str, list[dict[str, Any]]] = {}
        self.heads: dict[int, str] = {}
        self.failures: list[Failure] = []
        self.user: dict[str, str] | None = None
        self.author: dict[str, str] = dict(BOT)
        self.link_base: str | None = None
        self.endless = False
        self.requests: list[Request] = []
        self._next_id = 1000
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- set-up ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL to put in GITHUB_API_URL."""
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    def env(self, **extra: str) -> dict[str, str]:
        """The GitHub Actions variables pointing at this fake."""
        env = {"GITHUB_API_URL": self.url, "GITHUB_REPOSITORY": self.repository, "GITHUB_TOKEN": self.token}
        env.update(extra)
        return env

    def add_thread(self, kind: str, key: int | str, comments: int = 0, body: str = "a comment") -> list[dict[str, Any]]:
        """Create the thread of a PR/issue (``kind`` "pr"/"issue") or commit with ``comments`` comments."""
        thread = self.threads.setdefault(self._thread_key(kind, key), [])
        for i in range(comments):
            self._create(thread, f"{body} {i}", {"login": f"user{i % 3}", "type": "User"})
        return thread

    def add_pull(self, sha: str, number: int, state: str = "open") -> None:
        """Make pull request ``number`` have head ``sha`` (``commits/{sha}/pulls``, ``pulls/{n}``, thread)."""
        self.pulls.setdefault(sha, []).append({"number": number, "state": state})
        self.heads[number] = sha
        self.add_thread("pr", number)

    def fail(self, method: str, path_re: str, status: int, **kwargs: Any) -> Failure:
        """Script a failure for requests whose path matches ``path_re``."""
        failure = Failure(method, path_re, status, **kwargs)
        self.failures.append(failure)
        return failure

    def comments(self, kind: str, key: int | str) -> list[dict[str, Any]]:
        """The comments of a thread, oldest first."""
        return self.threads.get(self._thread_key(kind, key), [])

    @staticmethod
    def _thread_key(kind: str, key: int | str) -> str:
        return f"commit/{key}" if kind == "commit" else f"issue/{key}"

    def _create(self, thread: list[dict[str, Any]], body: str, user: dict[str, str]) -> dict[str, Any]:
        self._next_id += 1
        comment = {
            "id": self._next_id,
            "body": body,
            "user": dict(user),
            "html_url": f"https://github.example/{self.repository}/comments/{self._next_id}",
        }
        thread.append(comment)
        return comment

    # -- server ---------------------------------------------------------------------------------
    def __enter__(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(Request(method, parts.path, parse_qs(parts.query), h.headers.get("authorization"), body))
            failure = next(
                (f for f in self.failures if f.times > 0 and f.method == method and re.search(f.path_re, parts.path)),
                None,
            )
            if failure is not None:
                failure.times -= 1
                if failure.apply:
                    self._route(method, parts.path, parts.query, body)
                self._send_failure(h, failure)
                return
            if h.headers.get("authorization") != f"Bearer {self.token}":
                self._send(h, 401, {"message": "Bad credentials"})
                return
            status, payload, headers = self._route(method, parts.path, parts.query, body)
        self._send(h, status, payload, headers)

    def _route(self, method: str, path: str, query: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        prefix = f"/repos/{self.repository}/"
        if not path.startswith(prefix) and path != "/user":
            return 404, {"message": "Not Found"}, {}
        if path == "/user" and method == "GET":
            if self.user is None:
                return 403, {"message": "Resource not accessible by integration"}, {}
            return 200, dict(self.user), {}
        rest = path[len(prefix):]
        if m := re.fullmatch(r"issues/(\d+)/comments", rest):
            return self._thread_call(method, self._thread_key("issue", m.group(1)), path, query, body)
        if m := re.fullmatch(r"commits/([0-9a-f]{7,40})/comments", rest):
            return self._thread_call(method, self._thread_key("commit", m.group(1)), path, query, body, create=True)
        if (m := re.fullmatch(r"pulls/(\d+)", rest)) and method == "GET":
            number = int(m.group(1))
            if number not in self.heads:
                return 404, {"message": "Not Found"}, {}
            return 200, {"number": number, "state": "open", "head": {"sha": self.heads[number]}}, {}
        if (m := re.fullmatch(r"commits/([0-9a-f]{7,40})/pulls", rest)) and method == "GET":
            return 200, list(self.pulls.get(m.group(1), [])), {}
        if (m := re.fullmatch(r"(?:issues/)?comments/(\d+)", rest)) and method == "PATCH":
            commit_api = not rest.startswith("issues/")
            for key, thread in self.threads.items():
                if key.startswith("commit/") != commit_api:
                    continue
                for comment in thread:
                    if comment["id"] == int(m.group(1)):
                        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
                            return 422, {"message": "Invalid request", "errors": ["body"]}, {}
                        comment["body"] = body["body"]
                        return 200, dict(comment), {}
            return 404, {"message": "Not Found"}, {}
        return 404, {"message": "Not Found"}, {}

    def _thread_call(
        self, method: str, key: str, path: str, query: str, body: Any, create: bool = False
    ) -> tuple[int, Any, dict[str, str]]:
        if key not in self.threads:
            if not create:
                return 404, {"message": "Not Found"}, {}
            self.threads[key] = []
        thread = self.threads[key]
        if method == "POST":
            if not isinstance(body, dict) or not isinstance(body.get("body"), str) or not body["body"]:
                return 422, {"message": "Validation Failed", "errors": [{"field": "body"}]}, {}
            if len(body["body"]) > 65536:
                return 422, {"message": "Validation Failed", "errors": [{"message": "body is too long"}]}, {}
            return 201, dict(self._create(thread, body["body"], self.author)), {}
        if method != "GET":
            return 404, {"message": "Not Found"}, {}
        params = parse_qs(query)
        per_page = min(int(params.get("per_page", ["30"])[0]), 100)
        page = int(params.get("page", ["1"])[0])
        items = thread[(page - 1) * per_page: page * per_page]
        last = max(1, -(-len(thread) // per_page))
        links = []
        base = f"{self.link_base or self.url}{path}?per_page={per_page}"
        if page < last or self.endless:
            links.append(f'<{base}&page={page + 1}>; rel="next"')
        links.append(f'<{base}&page={last}>; rel="last"')
        return 200, [dict(c) for c in items], {"Link": ", ".join(links)}

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _send_failure(self, h: BaseHTTPRequestHandler, failure: Failure) -> None:
        if failure.html:
            data = b"<!DOCTYPE html><html><body><h1>Sign in to GitHub</h1></body></html>"
            h.send_response(failure.status)
            h.send_header("Content-Type", "text/html; charset=utf-8")
        else:
            data = json.dumps({"message": failure.message}).encode()
            h.send_response(failure.status)
            h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        for k, v in failure.headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A running :class:`FakeGitHub` (token :data:`TOKEN`, repository :data:`REPOSITORY`)."""
    with FakeGitHub() as fake:
        yield fake
