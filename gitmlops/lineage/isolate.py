"""A throw-away work tree of one commit, with its own empty DVC cache and the user's DVC remotes.

The user's work tree, index, stash and DVC cache are never written: the commit is checked out with
``git worktree add --detach`` into a temporary folder, and the new tree's ``.dvc/config.local``
points DVC at a fresh cache next to it, so every byte of data must come from the remote. The
remotes are the user's, whole (every option of every remote, from all config levels, the
per-machine ``.dvc/config.local`` included), not what the old commit's ``.dvc/config`` said.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gitmlops.adapters.git_repo import GitRepo, add_worktree, remove_worktree


@dataclass
class IsolatedTree:
    """Where the commit was checked out (``root``) and the DVC cache it uses (``cache``)."""

    base: Path
    root: Path
    cache: Path
    commit: str


@contextlib.contextmanager
def isolated_tree(git: GitRepo, commit: str, keep: bool = False) -> Iterator[IsolatedTree]:
    """Check ``commit`` out into a temporary work tree wired to the user's DVC remote.

    The tree is removed on exit (also on errors and Ctrl-C) unless ``keep``.
    """
    from gitmlops.adapters.dvc_repo import DvcRepo, is_dvc_repo, isolate_cache, remote_config

    base = Path(tempfile.mkdtemp(prefix="gitmlops-verify-"))
    tree = IsolatedTree(base=base, root=base / "tree", cache=base / "cache", commit=commit)
    added = False
    try:
        add_worktree(git, tree.root, commit)
        added = True
        tree.cache.mkdir()
        if is_dvc_repo(git.root) and is_dvc_repo(tree.root):
            # every remote with all its options, the user's .dvc/config.local (credentials) included
            with DvcRepo(git.root) as user:
                default, remotes = remote_config(user)
            with DvcRepo(tree.root) as isolated:
                isolate_cache(isolated, tree.cache, default, remotes)
        yield tree
    finally:
        if not keep:
            if added:
                remove_worktree(git, tree.root)
            shutil.rmtree(base, ignore_errors=True)
