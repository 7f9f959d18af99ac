"""GitHub REST API client for CI bots: bounded retries on rate limits and server errors, clear
errors for missing permissions and non-JSON answers, and a token that never reaches a message (every
text that leaves through an exception is scrubbed of it)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from gitmlops.errors import GitHubAPIError, UsageError

DEFAULT_API_URL = "https://api.github.com"
SLUG_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
RETRY_STATUSES = {429, 500, 502, 503, 504}
#: Pages of a list endpoint followed at most (100 items each): a thread longer than that is not ours
#: to walk, and a server that links pages without end must not keep a CI job busy.
MAX_PAGES = 100


@dataclass
class Settings:
    """Where and how to reach GitHub; ``token`` is kept out of ``repr``."""

    repository: str
    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    event_path: str | None = None
    event_name: str | None = None
    sha: str | None = None
    run_url: str | None = None
    bot_login: str | None = None
    server_url: str = "https://github.com"

    @classmethod
    def from_env(cls, token_env: str = "GITHUB_TOKEN", env: dict[str, str] | None = None) -> Settings:
        """Read the GitHub Actions environment (GITHUB_REPOSITORY, the token variable, ...)."""
        env = dict(os.environ if env is None else env)
        token = env.get(token_env, "").strip()
        if not token:
            raise UsageError(
                f"no GitHub token: the environment variable {token_env} is empty or not set",
                "in a workflow add `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` to the step, "
                "or name another variable with --token-env",
            )
        repository = env.get("GITHUB_REPOSITORY", "").strip()
        if not SLUG_RE.match(repository):
            raise UsageError(
                f"GITHUB_REPOSITORY must be OWNER/NAME, got {repository!r}",
                "GitHub Actions sets it; elsewhere export GITHUB_REPOSITORY=owner/name",
            )
        api_url = (env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        if not api_url.startswith(("https://", "http://")):
            raise UsageError(f"GITHUB_API_URL must be an http(s) URL, got {api_url!r}")
        server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
        run_id = env.get("GITHUB_RUN_ID")
        return cls(
            repository=repository,
            token=token,
            api_url=api_url,
            event_path=env.get("GITHUB_EVENT_PATH") or None,
            event_name=env.get("GITHUB_EVENT_NAME") or None,
            sha=env.get("GITHUB_SHA") or None,
            run_url=f"{server}/{repository}/actions/runs/{run_id}" if run_id else None,
            bot_login=env.get("GITMLOPS_BOT_LOGIN", "").strip() or None,
            server_url=server,
        )


def scrub(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced by ``***``."""
    if secret and len(secret) >= 4:
        text = text.replace(secret, "***")
    return text


class GitHubClient:
    """A minimal REST client: JSON in and out, bounded retries, scrubbed errors."""

    def __init__(
        self,
        settings: Settings,
        *,
        retries: int = 4,
        max_pages: int = MAX_PAGES,
        backoff: float = 1.0,
        max_wait: float = 10.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import requests

        self.settings = settings
        self.retries = retries
        self.max_pages = max_pages
        self.backoff = backoff
        self.max_wait = max_wait
        self.timeout = timeout
        self.sleep = sleep
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {settings.token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "gitmlops",
            }
        )
        self.permission_hint = "check the token's permissions"

    def url(self, path: str) -> str:
        """An absolute API URL for ``path``; an absolute URL must be on the API's own origin, since
        the token goes with every request (a ``Link`` header naming another host is refused)."""
        if not path.startswith(("http://", "https://")):
            return f"{self.settings.api_url}/{path.lstrip('/')}"
        if _origin(path) != _origin(self.settings.api_url):
            raise self._error(
                f"the GitHub API sent a link to another origin ({_origin(path)}, not "
                f"{_origin(self.settings.api_url)}); refusing to send the token there",
                "check GITHUB_API_URL; a proxy or server that rewrites Link headers must keep them on "
                "the API's host",
            )
        return path

    def _error(self, message: str, hint: str | None = None, status: int | None = None) -> GitHubAPIError:
        token = self.settings.token
        return GitHubAPIError(scrub(message, token), scrub(hint, token) if hint else None, status)

    def send(self, method: str, path: str, *, body: Any = None, retry: bool = True) -> tuple[Any, Any]:
        """One API call; returns (decoded JSON, response).

        Rate limits (429, 403 with no quota left) are retried always: GitHub did not act on the
        request. Server errors and network failures are retried only when ``retry`` (idempotent calls).
        """
        import requests

        url = self.url(path)
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = self.session.request(method, url, json=body, timeout=self.timeout)
            except requests.RequestException as exc:
                if retry and attempt <= self.retries:
                    self.sleep(min(self.backoff * 2 ** (attempt - 1), self.max_wait))
                    continue
                raise self._error(
                    f"cannot reach the GitHub API at {self.settings.api_url}: {type(exc).__name__}: {exc}",
                    "check GITHUB_API_URL and the network; the call was retried "
                    f"{attempt - 1} time(s)",
                    status=0,
                ) from None
            wait = self._retry_wait(resp, attempt)
            rate_limited = resp.status_code in (403, 429)
            if wait is not None and (retry or rate_limited) and attempt <= self.retries:
                self.sleep(wait)
                continue
            return self._decode(method, url, resp), resp

    def _retry_wait(self, resp: Any, attempt: int) -> float | None:
        """Seconds to wait before retrying ``resp``, or None when it is not worth retrying."""
        status = resp.status_code
        limited = status == 403 and (
            resp.headers.get("x-ratelimit-remaining") == "0" or "rate limit" in resp.text[:500].lower()
        )
        if status not in RETRY_STATUSES and not limited:
            return None
        backoff = min(self.backoff * 2 ** (attempt - 1), self.max_wait)
        asked: float | None = None
        retry_after = resp.headers.get("retry-after")
        reset = resp.headers.get("x-ratelimit-reset")
        if retry_after:
            asked = _parse_retry_after(retry_after, backoff)
        elif reset and resp.headers.get("x-ratelimit-remaining") == "0":
            with contextlib.suppress(ValueError):
                asked = max(0.0, float(reset) - time.time())
        if asked is None:
            return backoff
        # A reset far in the future is not worth blocking a CI job for: fail now, clearly.
        return max(0.0, asked) if asked <= self.max_wait else None

    def _decode(self, method: str, url: str, resp: Any) -> Any:
        status = resp.status_code
        text = resp.text or ""
        ctype = resp.headers.get("content-type", "")
        payload: Any = None
        if text.strip():
            if "json" not in ctype.lower() and text.lstrip()[:1] == "<":
                raise self._error(
                    f"the GitHub API answered {method} {url} with HTML (status {status}), not JSON",
                    "check GITHUB_API_URL: it must point at the REST API (https://api.github.com, or "
                    "https://HOST/api/v3 for GitHub Enterprise Server), not the web site",
                    status=status,
                )
            try:
                payload = json.loads(text)
            except ValueError:
                raise self._error(
                    f"the GitHub API answered {method} {url} with something that is not JSON "
                    f"(status {status}, content-type {ctype or 'none'}): {text[:120]!r}",
                    "check GITHUB_API_URL",
                    status=status,
                ) from None
        if status < 400:
            return payload
        detail = payload.get("message", "") if isinstance(payload, dict) else ""
        where = f"{method} {url}"
        error = functools.partial(self._error, status=status)
        if status == 401:
            raise error(
                f"GitHub rejected the token (401 {detail or 'Bad credentials'}) on {where}",
                "the token is missing, expired or wrong: pass `secrets.GITHUB_TOKEN` (or a valid token) "
                "in the variable named by --token-env",
            )
        if status == 403:
            if resp.headers.get("x-ratelimit-remaining") == "0" or "rate limit" in detail.lower():
                raise error(
                    f"GitHub rate limit exceeded on {where}: {detail}",
                    "wait for the limit to reset (x-ratelimit-reset) and rerun the job",
                )
            raise error(
                f"the token may not do {where} (403 {detail or 'Forbidden'})", self.permission_hint
            )
        if status == 404:
            raise error(
                f"not found (404) on {where}: {detail or 'no such repository, pull request or issue'}",
                f"check GITHUB_REPOSITORY ({self.settings.repository}) and the --target number; a token "
                "without access to a private repository also gets 404",
            )
        if status == 422:
            errors = payload.get("errors", "") if isinstance(payload, dict) else ""
            raise error(f"GitHub refused {where} (422): {detail} {errors}".rstrip())
        raise error(
            f"the GitHub API failed on {where}: {status} {detail}".rstrip(),
            "GitHub may be having an outage (githubstatus.com); rerun the job later",
        )

    def paginate(self, path: str) -> Iterator[Any]:
        """Every item of a list endpoint, following ``Link: <...>; rel="next"`` headers."""
        sep = "&" if "?" in path else "?"
        url: str | None = f"{path}{sep}per_page=100"
        seen: set[str] = set()
        while url:
            full = self.url(url)
            if full in seen:  # a server that links a page to itself must not loop us forever
                break
            if len(seen) >= self.max_pages:
                raise self._error(
                    f"GET {self.url(path)} has more than {self.max_pages} pages "
                    f"({self.max_pages * 100:,}+ items); stopped following its Link header",
                    "the list is too long to walk; for a sticky comment pass another --id to start a new one",
                )
            seen.add(full)
            payload, resp = self.send("GET", full)
            if not isinstance(payload, list):
                raise self._error(f"expected a JSON list from GET {full}, got {type(payload).__name__}")
            yield from payload
            url = _next_link(resp.headers.get("link", ""))


def _parse_retry_after(value: str, default: float) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return default


def _origin(url: str) -> str:
    """``scheme://host:port`` of ``url``, with the default port filled in."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
    except ValueError:  # a port that is not a number: no origin to match
        port = None
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


def _next_link(header: str) -> str | None:
    for part in header.split(","):
        match = re.match(r'\s*<([^>]+)>\s*;(.*)', part)
        if match and re.search(r'rel="?next"?', match.group(2)):
            return match.group(1)
    return None
