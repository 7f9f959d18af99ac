"""Remote failures of DVC, told apart and turned into RemoteError: the one mapping.

DVC, fsspec, s3fs and botocore each raise their own exceptions, and DVC swallows per-file transfer
errors after logging them; :func:`remote_failure` looks at the exception, its causes and what DVC
logged, and says which of unreachable / unauthorised / bucket missing / no remote / missing plugin
it was, naming the remote (name and URL, never a secret). Used by :mod:`gitmlops.adapters.dvc_repo`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

from gitmlops.errors import ExternalError, GitMLOpsError, RemoteError

#: Option names whose values are secrets: masked in listings, scrubbed from messages, never committed.
SECRET_WORDS = ("secret", "password", "token", "access_key", "account_key", "connection_string", "sas")
#: Environment variables of the S3 client whose values must never reach an output.
SECRET_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def is_secret(option: str) -> bool:
    """Whether a remote option (``secret_access_key``, ``password``...) holds a secret."""
    return any(word in option.lower() for word in SECRET_WORDS)


def safe_url(url: str | None) -> str | None:
    """``url`` without a password in it (``https://user:pw@host`` becomes ``https://user:***@host``)."""
    if not url or "@" not in url or "://" not in url:
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclasses.dataclass(frozen=True)
class RemoteRef:
    """Which DVC remote an operation used, as messages may show it (no secrets)."""

    name: str | None
    url: str | None
    secrets: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``name (url)`` for messages."""
        if self.name is None:
            return "(no remote)"
        return f"{self.name!r} ({self.url})" if self.url else repr(self.name)

    def to_dict(self) -> dict[str, str | None]:
        """Name and (safe) URL."""
        return {"name": self.name, "url": self.url}

    def scrub(self, text: str) -> str:
        """``text`` with every known secret value replaced by ***."""
        for secret in self.secrets:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text


_UNREACHABLE = {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
                "ClientConnectorError", "ServerDisconnectedError", "ServerTimeoutError", "ProxyConnectionError",
                "gaierror"}
_UNAUTHORISED = {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError", "ProfileNotFound",
                 "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "InvalidToken",
                 "AllAccessDisabled", "InvalidClientTokenId", "Forbidden", "403"}
_BUCKET_MISSING = {"NoSuchBucket"}
#: Packages whose exceptions, raised while DVC talks to a remote, are remote failures.
_CLIENT_PACKAGES = {"botocore", "aiobotocore", "s3fs", "aiohttp", "fsspec", "gcsfs", "adlfs", "requests", "urllib3"}


def plain_config(value: Any) -> Any:
    """DVC config values as plain dicts and strings (DVC's path values are str subclasses)."""
    if isinstance(value, dict):
        return {str(k): plain_config(v) for k, v in value.items()}
    if isinstance(value, str):
        return str(value)
    return value


def _causes(exc: BaseException, logged: Sequence[BaseException]) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException] = [exc, *logged]
    while todo:
        cause = todo.pop(0)
        if id(cause) in seen:
            continue
        seen.add(id(cause))
        yield cause
        todo += [c for c in (cause.__cause__, cause.__context__) if c is not None]


def _codes(cause: BaseException) -> set[str]:
    """Class names in the MRO plus an S3 error code (botocore's ClientError.response)."""
    names = {cls.__name__ for cls in type(cause).__mro__}
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        names.add(str(error.get("Code", "")))
    return names


def _classify(exc: BaseException, logged: Sequence[BaseException]) -> tuple[str, BaseException] | None:
    from dvc.config import NoRemoteError
    from dvc.fs import RemoteMissingDepsError

    found: tuple[str, BaseException] | None = None
    for cause in _causes(exc, logged):
        codes = _codes(cause)
        if isinstance(cause, NoRemoteError):
            return "no_remote", cause
        if isinstance(cause, RemoteMissingDepsError) or (isinstance(cause, ImportError)
                                                          and "requires 'dvc-" in str(cause)):
            return "missing_dependency", cause
        if codes & _BUCKET_MISSING or (isinstance(cause, FileNotFoundError) and "bucket does not exist" in str(cause)):
            return "bucket_missing", cause
        if codes & _UNAUTHORISED or isinstance(cause, PermissionError):
            return "unauthorised", cause
        if codes & _UNREACHABLE or isinstance(cause, ConnectionError | TimeoutError):
            found = found or ("unreachable", cause)
    return found


def _detail(cause: BaseException) -> str:
    text = " ".join(str(cause).split())
    return (text[:300] + "...") if len(text) > 300 else text


def remote_failure(
    exc: BaseException, remote: RemoteRef, action: str, logged: Sequence[BaseException] = ()
) -> RemoteError | None:
    """The RemoteError for a failure of a DVC remote (DVC, fsspec, botocore, OS errors, and what DVC
    logged while it carried on), or None when ``exc`` is not about the remote.

    The one place remote failures are classified: unreachable, unauthorised, bucket missing, no remote
    configured, a missing DVC plugin. Object-missing errors are raised by the callers that know which
    objects they needed (see :func:`missing_objects_error`).
    """
    found = _classify(exc, logged)
    if found is None:
        return None
    kind, cause = found
    where = remote.label
    detail = remote.scrub(_detail(cause))
    if kind == "no_remote":
        return no_remote_error(action, remote.name)
    if kind == "missing_dependency":
        scheme = (remote.url or "").split("://", 1)[0] if "://" in (remote.url or "") else ""
        extra = "pip install 'gitmlops[s3]'" if scheme == "s3" else f"pip install 'dvc[{scheme or 'SCHEME'}]'"
        return RemoteError(f"DVC remote {where} needs a DVC plugin that is not installed: {detail}",
                           f"install it: `{extra}`", kind)
    if kind == "unreachable":
        return RemoteError(
            f"DVC remote {where} is unreachable ({action}): {detail}",
            "check the URL and endpoint (`gitmlops remote list`), that the service is up and that this "
            "machine can reach it, then rerun",
            kind,
        )
    if kind == "unauthorised":
        return RemoteError(
            f"DVC remote {where} refused access ({action}): {detail}",
            "check the credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE in the environment, "
            "or `gitmlops remote add URL --name NAME --credential KEY=VALUE` (kept in .dvc/config.local)",
            kind,
        )
    return RemoteError(
        f"the bucket of DVC remote {where} does not exist ({action}): {detail}",
        "create the bucket, or point the remote at the right one with `gitmlops remote add URL --name NAME`",
        kind,
    )


def no_remote_error(action: str, name: str | None = None) -> RemoteError:
    """RemoteError for a repository (a fresh clone) that has no DVC remote."""
    return RemoteError(
        f"no DVC remote is configured to {action}" + (f" (asked for {name!r})" if name else ""),
        "add the team's remote: `gitmlops remote add s3://BUCKET/PATH [--endpoint-url URL]` "
        "(or `gitmlops data push` once to create the local default)",
        "no_remote",
    )


def missing_objects_error(remote: RemoteRef, paths: Sequence[str], action: str = "fetch") -> RemoteError:
    """RemoteError naming the outputs whose data the remote does not have (or has no remote to ask)."""
    if remote.name is None:
        return no_remote_error(f"{action} {', '.join(paths[:5])}")
    shown = ", ".join(paths[:20]) + (f" and {len(paths) - 20} more" if len(paths) > 20 else "")
    return RemoteError(
        f"could not {action} from DVC remote {remote.label}: {shown}",
        "the remote lacks that data: push it from a clone that has it (`gitmlops data push`), or check "
        "that this is the remote your team uses (`gitmlops remote list`)",
        "object_missing",
    )


def dvc_error(exc: Exception, action: str) -> GitMLOpsError:
    """DVC's own failure (a ``DvcException``, its innermost DVC cause) as an ExternalError."""
    from dvc.exceptions import DvcException

    cause: BaseException = exc
    while cause.__cause__ is not None and isinstance(cause.__cause__, DvcException):
        cause = cause.__cause__
    return ExternalError(f"DVC could not {action}: {cause}")


def remote_or_dvc_error(exc: BaseException, remote: RemoteRef, action: str, logged: Sequence[BaseException] = ()) -> GitMLOpsError:
    """RemoteError when the remote failed, else the generic DVC error (DvcException) or a RemoteError for
    an OS or storage-client error; anything else (a bug) is raised again as it is."""
    from dvc.exceptions import DvcException

    failure = remote_failure(exc, remote, action, logged)
    if failure is not None:
        return failure
    if isinstance(exc, DvcException):
        return ExternalError(remote.scrub(str(dvc_error(exc, action))))
    if isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in _CLIENT_PACKAGES:
        return RemoteError(f"DVC remote {remote.label} failed ({action}): {remote.scrub(_detail(exc))}",
                           "check the remote's URL and options (`gitmlops remote list`)")
    raise exc
