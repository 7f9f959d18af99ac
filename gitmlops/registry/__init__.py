"""The model registry on git tags, compatible with GTO 1.x.

Public API (stable; other pillars call these):

- :func:`resolve` ``(repo, ref) -> Resolved``: ``NAME@vX.Y.Z``, ``NAME@latest``, ``NAME@greatest``,
  ``NAME#STAGE`` to name, version, tag, commit, path, md5, stage, metadata.
- :func:`get` ``(repo, ref, output=None) -> Path``: the artifact file of that version, md5-checked.
- :func:`show` ``(repo, name=None) -> Registry``, :func:`history` ``(repo, name) -> list[Event]``,
  :func:`check_ref` ``(repo, tag) -> Event | None``.
- :func:`register`, :func:`promote`, :func:`deprecate`: write (and push) tags.

``repo`` is a path or a :class:`~gitmlops.adapters.git_repo.GitRepo`. Importing this package is
cheap: DVC is imported only by the functions that touch data, and the writers on first use.
"""

from typing import TYPE_CHECKING, Any

from gitmlops.registry.api import Registry, Resolved, check_ref, get, history, resolve, show, versions
from gitmlops.registry.events import Event
from gitmlops.registry.settings import RegistrySettings, registry_settings
from gitmlops.registry.state import ArtifactState, VersionState

if TYPE_CHECKING:  # what __getattr__ returns, for type checkers (imported lazily at run time)
    from gitmlops.registry.actions import TagWritten, deprecate, promote, register

__all__ = [
    "ArtifactState",
    "Event",
    "Registry",
    "RegistrySettings",
    "Resolved",
    "TagWritten",
    "VersionState",
    "check_ref",
    "deprecate",
    "get",
    "history",
    "promote",
    "register",
    "registry_settings",
    "resolve",
    "show",
    "versions",
]

_WRITERS = ("TagWritten", "deprecate", "promote", "register")


def __getattr__(name: str) -> Any:
    # The writers are imported on first use so that read commands (`registry show`) stay fast.
    if name in _WRITERS:
        from gitmlops.registry import actions

        return getattr(actions, name)
    raise AttributeError(f"module 'gitmlops.registry' has no attribute {name!r}")
