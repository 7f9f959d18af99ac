"""GitHub REST API for CI bots: a client (:mod:`.client`) and sticky comments (:mod:`.comments`)."""

from gitmlops.github.client import DEFAULT_API_URL, GitHubClient, Settings, scrub
from gitmlops.github.comments import (
    MAX_BODY_CHARS,
    CommentResult,
    Target,
    build_body,
    comment_from_file,
    marker,
    parse_target,
    post_comment,
    resolve_target,
)

__all__ = [
    "DEFAULT_API_URL",
    "MAX_BODY_CHARS",
    "CommentResult",
    "GitHubClient",
    "Settings",
    "Target",
    "build_body",
    "comment_from_file",
    "marker",
    "parse_target",
    "post_comment",
    "resolve_target",
    "scrub",
]
