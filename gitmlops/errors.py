"""The one exception hierarchy of gitmlops.

Every error a user can cause is a subclass of :class:`GitMLOpsError`. Each carries an exit code and a
message that says what was wrong and what to do next. Only ``gitmlops.cli`` turns them into output and
exit codes (see :data:`EXIT_CODES`).
"""

from __future__ import annotations

#: Exit codes used by the command line, documented in docs/ and ``gitmlops --help``.
EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # a check ran and found a problem (stale pipeline, drift, failed constraint)
EXIT_USAGE = 2  # bad input: options, arguments, names, config, repository state
EXIT_EXTERNAL = 3  # a tool or service we drive failed (a stage command, DVC, git, a remote)
EXIT_INTERNAL = 70  # an unexpected exception (a bug): rerun with --traceback
EXIT_INTERRUPTED = 130  # Ctrl-C

EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_CHECK_FAILED: "a check ran and failed (stale pipeline, drift, constraint, verification)",
    EXIT_USAGE: "usage or user error: bad option, argument, name, config or repository state",
    EXIT_EXTERNAL: "an external step failed: a stage command, DVC, git, a remote or an API",
    EXIT_INTERNAL: "unexpected internal error: rerun with --traceback and report it",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); nothing half-done was recorded",
}


class GitMLOpsError(Exception):
    """Base class of all errors gitmlops reports to users.

    ``hint`` tells the user what to do next; it is printed on its own line.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class UsageError(GitMLOpsError):
    """Bad arguments or options."""


class NotAGitRepoError(GitMLOpsError):
    """The path is not inside a git work tree."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"not a git repository: {path}",
            "run inside a git work tree, or create one with `git init`, or pass -C PATH",
        )


class NotADvcRepoError(GitMLOpsError):
    """The git repository has no DVC set-up."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"not a DVC repository (no .dvc/ folder): {path}",
            "run `gitmlops init` first",
        )


class ConfigError(GitMLOpsError):
    """The Hydra config tree under conf/ is missing, unreadable or rejects an override."""


class DataError(GitMLOpsError):
    """A data path or data file is unusable."""


class PipelineError(GitMLOpsError):
    """The pipeline definition is invalid."""


class StageFailedError(GitMLOpsError):
    """A pipeline stage command exited non-zero."""

    exit_code = EXIT_EXTERNAL


class ExternalError(GitMLOpsError):
    """An external tool (git, DVC, a remote, an API) failed."""

    exit_code = EXIT_EXTERNAL


class CheckFailed(GitMLOpsError):
    """A check ran and did not pass (exit 1): stale files, drift, failed constraints."""

    exit_code = EXIT_CHECK_FAILED


class RegistryError(GitMLOpsError):
    """Registry (git tag) errors: bad names, versions, stages, refs."""


class MonitorError(GitMLOpsError):
    """Monitoring errors: unreadable data or profiles, unresolvable references."""


class ServeError(GitMLOpsError):
    """Serving and deployment errors."""


class GitHubError(GitMLOpsError):
    """Errors talking to the GitHub REST API."""

    exit_code = EXIT_EXTERNAL


# -- appended by the CI-bots pillar (gitmlops/github.py) ---------------------------------------------


class GitHubAPIError(GitHubError):
    """A GitHub API call failed; ``status`` is the HTTP status (0 when the API was unreachable)."""

    def __init__(self, message: str, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


# -- appended by the registry pillar (gitmlops/registry/) ----------------------------------------------


class PushRejected(ExternalError):
    """A remote refused an atomic push because its refs moved on: fetch and retry."""


# -- appended for team remotes (gitmlops/remote.py) -----------------------------------------------------


class RemoteError(ExternalError):
    """A DVC remote failed: none configured, unreachable, unauthorised, bucket or object missing.

    ``kind`` says which (no_remote, missing_dependency, unreachable, unauthorised, bucket_missing,
    object_missing, failed); the message names the remote (name and URL, never a secret).
    """

    def __init__(self, message: str, hint: str | None = None, kind: str = "failed") -> None:
        super().__init__(message, hint)
        self.kind = kind


# -- appended by the hardening work (gitmlops/pipeline/guard.py) ---------------------------------------


class RunLockedError(UsageError):
    """Another `gitmlops run` holds this checkout's run lock."""


# -- appended by the site (gitmlops/site/) ----------------------------------------------------------


class SiteError(GitMLOpsError):
    """The static site cannot be built: an unusable output folder or input file."""


# -- appended for several models per repository (gitmlops/models.py) ------------------------------------


class ModelError(UsageError):
    """A model of a several-model repository is unknown, ambiguous or declared badly (gitmlops.yaml)."""
