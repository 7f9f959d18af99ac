"""All git access of gitmlops goes through this module: it runs the ``git`` program.

Functions accept a path or a :class:`GitRepo`; nothing else in gitmlops runs git. Sections by
concept: the work tree (:class:`GitRepo`: questions, changes, tags, refs and remotes), the project
root rule, creating a repository, history (branches, merge bases, commits, changed paths) and
extra work trees.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitmlops.errors import ExternalError, GitMLOpsError, NotAGitRepoError, PushRejected


@dataclass(slots=True)
class TagRecord:
    """One annotated tag as ``git for-each-ref`` reports it."""

    name: str
    object: str
    commit: str
    timestamp: int
    tagger: str
    tagger_email: str
    message: str | None = None


class GitRepo:
    """A git work tree, opened once and shared by the library."""

    def __init__(self, path: str | os.PathLike[str] = ".") -> None:
        self.root = project_root(path)
        self.start = Path(path).resolve()  # where it was opened: inside a model's folder, that model is meant

    # -- plumbing -----------------------------------------------------------------------------
    def git(self, *args: str, check: bool = True, input: str | None = None) -> str:
        """Run ``git ARGS`` in the work tree and return stdout (stripped of the final newline)."""
        proc = subprocess.run(
            ["git", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            input=input,
            env=_git_env(),
        )
        if check and proc.returncode != 0:
            raise ExternalError(
                f"git {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}",
            )
        return proc.stdout.rstrip("\n")

    # -- questions ----------------------------------------------------------------------------
    def head_commit(self) -> str | None:
        """The full SHA of HEAD, or None in a repo with no commits yet."""
        out = self.git("rev-parse", "--verify", "-q", "HEAD^{commit}", check=False)
        return out or None

    def resolve_commit(self, rev: str) -> str:
        """The full SHA a revision names; a clear error when it names nothing."""
        if rev.startswith("-"):
            raise GitMLOpsError(f"invalid revision {rev!r}", "a revision cannot start with '-'")
        out = self.git("rev-parse", "--verify", "-q", f"{rev}^{{commit}}", check=False)
        if not out:
            raise GitMLOpsError(
                f"revision {rev!r} does not resolve to a commit",
                "check the name with `git log --oneline`, or `git fetch` it first",
            )
        return out

    def relpath(self, path: str | os.PathLike[str]) -> str:
        """``path`` relative to the work tree root (POSIX form); error if it lies outside."""
        full = Path(path)
        if not full.is_absolute():
            full = Path.cwd() / full
        full = Path(os.path.normpath(full))
        try:
            rel = full.relative_to(self.root)
        except ValueError:
            raise GitMLOpsError(
                f"{path} is outside the repository {self.root}",
                "move or copy the file into the repository first",
            ) from None
        return rel.as_posix()

    def is_tracked(self, relpath: str) -> bool:
        """Whether git tracks ``relpath`` (a file, or any file under a folder)."""
        return bool(self.git("ls-files", "--", relpath))

    def is_ignored(self, relpath: str) -> bool:
        """Whether ``relpath`` is ignored by .gitignore rules."""
        proc = subprocess.run(
            ["git", "check-ignore", "-q", "--", relpath], cwd=self.root, env=_git_env()
        )
        return proc.returncode == 0

    def dirty_paths(self, paths: Sequence[str] = ()) -> list[str]:
        """Paths with uncommitted changes (staged, unstaged or untracked), optionally limited."""
        out = self.git("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths)
        result = []
        for entry in out.split("\0"):
            if len(entry) > 3:
                result.append(entry[3:])
        return result

    def file_at(self, rev: str, relpath: str) -> str | None:
        """The text of ``relpath`` at ``rev``, or None if it does not exist there."""
        proc = subprocess.run(
            ["git", "show", f"{rev}:{relpath}"],
            cwd=self.root,
            capture_output=True,
            text=True,
            env=_git_env(),
        )
        return proc.stdout if proc.returncode == 0 else None

    # -- changes ------------------------------------------------------------------------------
    def add(self, paths: Iterable[str]) -> None:
        """Stage ``paths`` (relative to the root)."""
        paths = [p for p in paths if (self.root / p).exists()]
        if paths:
            self.git("add", "--", *paths)

    def commit(self, message: str, paths: Sequence[str] | None = None) -> str:
        """Commit staged changes (or only ``paths``) and return the new SHA."""
        args = ["commit", "-q", "-m", message]
        if paths:
            args += ["--", *paths]
        self.git(*args)
        return self.git("rev-parse", "HEAD")

    def set_config(self, key: str, value: str) -> None:
        """Set a repo-local git config value."""
        self.git("config", "--local", key, value)

    def get_config(self, key: str) -> str | None:
        """A git config value, or None."""
        out = self.git("config", "--get", key, check=False)
        return out or None

    # -- tags, refs, remotes and atomic pushes --------------------------------------------------
    def annotated_tags(self, with_messages: bool = False, patterns: Sequence[str] = ("refs/tags",)) -> list[TagRecord]:
        """Every annotated tag under ``patterns`` in ONE ``git for-each-ref`` pass (lightweight tags
        are skipped); messages are read only when asked for."""
        fields = [
            "%(refname:lstrip=2)",
            "%(objecttype)",
            "%(objectname)",
            "%(*objectname)",
            "%(*objecttype)",
            "%(taggerdate:unix)",
            "%(taggername)",
            "%(taggeremail:trim)",
        ]
        if with_messages:
            fields.append("%(contents)")
        # NUL ends every field, so "\0\n" ends every record: tag messages cannot contain NUL.
        fmt = "%00".join(fields) + "%00"
        try:
            out = self.git_bytes("for-each-ref", f"--format={fmt}", *patterns).decode("utf-8", "replace")
        except ExternalError as exc:
            if "missing object" not in str(exc):
                raise
            # A partial or damaged clone: some tagged commit is absent. Read the tag objects
            # themselves and leave out the tags whose commit is missing.
            return self._annotated_tags_tolerant(with_messages, patterns)
        records = []
        for chunk in out.split("\0\n"):
            if not chunk:
                continue
            parts = chunk.split("\0")
            if len(parts) < 8 or parts[1] != "tag" or parts[4] != "commit":
                continue
            records.append(
                TagRecord(
                    name=parts[0],
                    object=parts[2],
                    commit=parts[3],
                    timestamp=int(parts[5] or 0),
                    tagger=parts[6],
                    tagger_email=parts[7],
                    message=parts[8] if with_messages and len(parts) > 8 else None,
                )
            )
        return records

    def _annotated_tags_tolerant(self, with_messages: bool, patterns: Sequence[str]) -> list[TagRecord]:
        """:meth:`annotated_tags` for repos missing some tagged commits (two batch processes)."""
        listing = self.git_bytes("for-each-ref", "--format=%(refname:lstrip=2)%00%(objecttype)%00%(objectname)",
                                 *patterns).decode("utf-8", "replace")
        tags = [line.split("\0") for line in listing.splitlines() if line.split("\0")[1:2] == ["tag"]]
        if not tags:
            return []
        raw = self.git_bytes("cat-file", "--batch", input="".join(f"{t[2]}\n" for t in tags).encode())
        parsed: list[tuple[str, str, dict[str, str], str]] = []
        pos = 0
        for name, _, sha in tags:
            header_end = raw.index(b"\n", pos)
            size = int(raw[pos:header_end].split()[2])
            body = raw[header_end + 1 : header_end + 1 + size].decode("utf-8", "replace")
            pos = header_end + 1 + size + 1
            head, _, message = body.partition("\n\n")
            fields = dict(line.split(" ", 1) for line in head.splitlines() if " " in line)
            parsed.append((name, sha, fields, message))
        commits = [f.get("object", "") for _, _, f, _ in parsed]
        present = self.git_bytes("cat-file", "--batch-check", input="".join(f"{c}\n" for c in commits).encode())
        records = []
        for (name, sha, fields, message), check in zip(parsed, present.decode().splitlines(), strict=True):
            if fields.get("type") != "commit" or check.endswith("missing"):
                continue
            tagger = fields.get("tagger", "")
            who, _, when = tagger.rpartition("> ")
            tagger_name, _, email = who.partition(" <")
            records.append(TagRecord(name=name, object=sha, commit=fields["object"],
                                     timestamp=int(when.split()[0]) if when else 0, tagger=tagger_name,
                                     tagger_email=email, message=message if with_messages else None))
        return records

    def git_bytes(self, *args: str, input: bytes | None = None) -> bytes:
        """Run ``git ARGS`` and return raw stdout (for output that may not be text-safe)."""
        proc = subprocess.run(["git", *args], cwd=self.root, capture_output=True, input=input, env=_git_env())
        if proc.returncode != 0:
            raise ExternalError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout

    def create_tag(self, name: str, commit: str, message: str) -> str:
        """Create annotated tag ``name`` on ``commit`` with ``message`` kept verbatim; returns the
        tag object id. Fails (ExternalError) if the tag exists."""
        self.git("tag", "-a", "--cleanup=verbatim", "-F", "-", "--", name, commit, input=message)
        return self.git("rev-parse", "--verify", f"refs/tags/{name}")

    def delete_tag(self, name: str) -> None:
        """Delete local tag ``name`` (no error if it is already gone)."""
        self.git("update-ref", "-d", f"refs/tags/{name}", check=False)

    def exists_at(self, rev: str, relpath: str) -> bool:
        """Whether ``relpath`` exists (as a file or folder) at ``rev``."""
        proc = subprocess.run(
            ["git", "cat-file", "-e", f"{rev}:{relpath}"], cwd=self.root, capture_output=True, env=_git_env()
        )
        return proc.returncode == 0

    def ref_value(self, ref: str) -> str | None:
        """The object id a full ref name points to, or None."""
        out = self.git("rev-parse", "--verify", "-q", ref, check=False)
        return out or None

    def set_ref(self, ref: str, value: str) -> None:
        """Point full ref name ``ref`` at object ``value``."""
        self.git("update-ref", ref, value)

    def create_ref(self, ref: str, value: str) -> bool:
        """Create full ref name ``ref`` at ``value`` only if it does not exist (atomic, under git's
        ref lock); False when it already exists."""
        proc = subprocess.run(["git", "update-ref", ref, value, ""], cwd=self.root, capture_output=True,
                              text=True, env=_git_env())
        return proc.returncode == 0

    def delete_ref(self, ref: str, expected: str | None = None) -> None:
        """Delete full ref name ``ref`` (only while it still points at ``expected``, when given)."""
        self.git("update-ref", "-d", ref, *([expected] if expected else []), check=False)

    def tag_targets(self) -> set[str]:
        """The object ids that refs/tags/* point to."""
        return set(self.git("for-each-ref", "--format=%(objectname)", "refs/tags").split())

    def remote_url(self, remote: str) -> str | None:
        """The URL of git remote ``remote``, or None if there is no such remote."""
        out = self.git("remote", "get-url", "--", remote, check=False)
        return out or None

    def fetch_refs(self, remote: str, refspecs: Sequence[str]) -> None:
        """``git fetch REMOTE REFSPECS`` (no tag auto-following); ExternalError when it fails."""
        proc = subprocess.run(
            ["git", "fetch", "--quiet", "--no-tags", "--", remote, *refspecs],
            cwd=self.root, capture_output=True, text=True, env=_git_env(),
        )
        if proc.returncode != 0:
            raise ExternalError(
                f"git fetch {remote} failed: {proc.stderr.strip()}",
                f"check that remote {remote!r} is reachable and that no local tag conflicts with it",
            )

    def remote_tag_names(self, remote: str) -> set[str]:
        """The tag names ``remote`` has (``git ls-remote --tags --refs``); ExternalError when unreachable."""
        proc = subprocess.run(
            ["git", "ls-remote", "--tags", "--refs", "--", remote],
            cwd=self.root, capture_output=True, text=True, env=_git_env(),
        )
        if proc.returncode != 0:
            raise ExternalError(f"git ls-remote {remote} failed: {proc.stderr.strip()}",
                                f"check that remote {remote!r} is reachable")
        return {line.split("\t", 1)[1].removeprefix("refs/tags/") for line in proc.stdout.splitlines() if "\t" in line}

    def push_atomic(self, remote: str, refspecs: Sequence[str], leases: dict[str, str | None] | None = None) -> None:
        """Push ``refspecs`` to ``remote`` all-or-nothing (``git push --atomic``).

        ``leases`` maps a remote ref to the value it must still have (None: must not exist); the remote
        checks it under its ref lock, which makes the push a compare-and-swap. Raises
        :class:`PushRejected` when the remote refused because it moved on (retry after fetching), and
        ExternalError for any other failure (unreachable remote, hook declined, ...).
        """
        args = ["push", "--atomic", "--porcelain", "--no-verify"]
        args += [f"--force-with-lease={ref}:{value or ''}" for ref, value in (leases or {}).items()]
        proc = subprocess.run(
            ["git", *args, "--", remote, *refspecs], cwd=self.root, capture_output=True, text=True, env=_git_env()
        )
        if proc.returncode == 0:
            return
        rejected = [line for line in proc.stdout.splitlines() if line.startswith("!")]
        detail = "; ".join(rejected) or proc.stderr.strip()
        # Lost races: the lease or the remote's own old-value check under its ref lock failed.
        moved_on = ("stale info", "already exists", "fetch first", "non-fast-forward",
                    "atomic transaction failed", "cannot lock ref", "incorrect old value")
        if any(reason in line for line in rejected for reason in moved_on):
            raise PushRejected(f"remote {remote!r} refused the push: {detail}")
        raise ExternalError(
            f"git push to {remote!r} failed: {detail or proc.stderr.strip()}",
            "nothing was pushed (the push is atomic); fix the remote or its hooks and retry",
        )


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    return env


def _rev_parse_toplevel(path: Path) -> str | None:
    cwd = path if path.is_dir() else path.parent
    proc = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=_git_env(),
    )
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def open_repo(path: str | os.PathLike[str] | GitRepo = ".") -> GitRepo:
    """A :class:`GitRepo` for a path, or the repo itself when given one."""
    if isinstance(path, GitRepo):
        return path
    return GitRepo(path)


# -- the project root: the one rule every command follows -------------------------------------------


def project_root(repo: str | os.PathLike[str] | GitRepo = ".", *, require_git: bool = True) -> Path:
    """The folder a command works in: the top of the git work tree that holds ``repo``.

    ``-C DIR`` (or a path given to the library) may name any folder inside the work tree; like git,
    gitmlops climbs to the top, where ``conf/``, ``params.yaml`` and ``monitoring/`` live. Outside a
    git work tree this raises :class:`NotAGitRepoError`, unless ``require_git`` is false (the monitor
    commands, which also compare plain files): then it is the folder itself.
    """
    if isinstance(repo, GitRepo):
        return repo.root
    start = Path(repo).resolve()
    if not start.exists():
        raise NotAGitRepoError(str(repo))
    top = _rev_parse_toplevel(start)
    if top is not None:
        return Path(top)
    if require_git:
        raise NotAGitRepoError(str(start))
    return start if start.is_dir() else start.parent


def user_path(repo: str | os.PathLike[str] | GitRepo, path: str | os.PathLike[str]) -> Path:
    """A path the user typed, made absolute: a relative one starts at the folder ``repo`` names
    (the ``-C`` folder, like a working directory), not at the project root."""
    given = Path(path)
    if given.is_absolute():
        return given
    base = repo.start if isinstance(repo, GitRepo) else Path(repo)
    return base / given


# -- creating a repository, the git program ---------------------------------------------------------


def init_repo(path: str | os.PathLike[str], branch: str = "main") -> GitRepo:
    """``git init`` a new repository at ``path`` (its first branch named ``branch``) and open it."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["git", "init", "-q", "-b", branch, str(folder)], capture_output=True, text=True,
                          env=_git_env())
    if proc.returncode != 0:
        raise ExternalError(f"git init {folder} failed: {proc.stderr.strip()}")
    return GitRepo(folder)


def git_version() -> str | None:
    """``git --version`` of the git on PATH, or None when there is none."""
    try:
        proc = subprocess.run(["git", "--version"], capture_output=True, text=True, env=_git_env())
    except OSError:
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


# -- history: the default branch, merge bases, commits, changed paths -------------------------------


def default_branch_ref(git: GitRepo) -> str | None:
    """The default branch as a ref: origin/HEAD's target, else origin/main, origin/master, main, master."""
    target = git.git("symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD", check=False)
    candidates = [target] if target else []
    candidates += ["origin/main", "origin/master", "main", "master"]
    for ref in candidates:
        if git.git("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False):
            return ref
    return None


def merge_base(git: GitRepo, a: str, b: str = "HEAD") -> str | None:
    """The best common ancestor of two revisions, or None when they share no history."""
    return git.git("merge-base", a, b, check=False) or None


def commit_timestamp(git: GitRepo, rev: str) -> int:
    """The committer time of ``rev`` (seconds since the epoch)."""
    return int(git.git("show", "-s", "--format=%ct", f"{rev}^{{commit}}"))


def commits_between(git: GitRepo, base: str, head: str = "HEAD") -> set[str]:
    """Shas of the commits reachable from ``head`` but not from ``base`` (``git rev-list base..head``)."""
    out = git.git("rev-list", f"{base}^{{commit}}..{head}^{{commit}}")
    return set(out.split())


def tags_merged(git: GitRepo, rev: str) -> set[str]:
    """Names of the tags whose commit is reachable from ``rev`` (``git tag --merged rev``)."""
    return set(git.git("tag", "--list", "--merged", f"{rev}^{{commit}}").split())


def files_at(git: GitRepo, rev: str, suffix: str = "") -> list[str]:
    """Paths of the files tracked at ``rev`` (ending in ``suffix`` when given)."""
    out = git.git("ls-tree", "-r", "-z", "--name-only", f"{rev}^{{commit}}")
    return sorted(p for p in out.split("\0") if p and p.endswith(suffix))


def changed_since(git: GitRepo, rev: str, paths: Sequence[str] = ()) -> list[str]:
    """Paths that differ between ``rev`` and the work tree (committed or not, untracked included)."""
    out = git.git("diff", "--name-only", "-z", rev, "--", *paths)
    changed = {p for p in out.split("\0") if p}
    untracked = git.git("ls-files", "-z", "--others", "--exclude-standard", "--", *paths)
    changed.update(p for p in untracked.split("\0") if p)
    return sorted(changed)


def has_commit(git: GitRepo, sha: str) -> bool:
    """Whether the commit object ``sha`` exists in this clone (a shallow or partial clone may lack it)."""
    proc = subprocess.run(
        ["git", "cat-file", "-e", f"{sha}^{{commit}}"], cwd=git.root, capture_output=True, env=_git_env()
    )
    return proc.returncode == 0


@dataclass(frozen=True)
class CommitInfo:
    """One commit as ``git log`` reports it."""

    commit: str
    timestamp: int
    author: str
    subject: str


def _commit_infos(out: str) -> list[CommitInfo]:
    infos = []
    for record in out.split("\x1e"):
        parts = record.strip("\n").split("\x1f")
        if len(parts) == 4 and parts[0]:
            infos.append(CommitInfo(parts[0], int(parts[1] or 0), parts[2], parts[3]))
    return infos


_LOG_FORMAT = "--format=%H%x1f%ct%x1f%an%x1f%s%x1e"


def commit_info(git: GitRepo, rev: str) -> CommitInfo:
    """Hash, committer time, author and subject of ``rev``."""
    found = _commit_infos(git.git("show", "-s", _LOG_FORMAT, f"{rev}^{{commit}}"))
    if not found:
        raise ExternalError(f"git could not describe commit {rev}")
    return found[0]


def commits_touching(git: GitRepo, rev: str, paths: Sequence[str], max_count: int = 20) -> list[CommitInfo]:
    """The commits reachable from ``rev`` that changed any of ``paths``, newest first."""
    if not paths:
        return []
    out = git.git("log", f"--max-count={max_count}", _LOG_FORMAT, rev, "--", *paths)
    return _commit_infos(out)


def files_at_many(git: GitRepo, wanted: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
    """The text of many ``(rev, relpath)`` files in one ``git cat-file --batch`` (None: absent there).

    One process for all of them: the site reads a few files at each of hundreds of commits.
    """
    specs = list(dict.fromkeys(wanted))
    if not specs:
        return {}
    out = git.git_bytes("cat-file", "--batch", input="".join(f"{rev}:{path}\n" for rev, path in specs).encode())
    result: dict[tuple[str, str], str | None] = {}
    pos = 0
    for spec in specs:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) != 3 or header[1] not in (b"blob", b"tree", b"commit", b"tag"):
            result[spec] = None  # "<spec> missing" (or ambiguous)
            continue
        size = int(header[2])
        body = out[pos:pos + size]
        pos += size + 1
        result[spec] = body.decode("utf-8", errors="replace") if header[1] == b"blob" else None
    return result


# -- extra work trees (a commit checked out beside the user's) ---------------------------------------


def add_worktree(git: GitRepo, path: str | os.PathLike[str], commit: str) -> None:
    """Check ``commit`` out into a new detached work tree at ``path``.

    The user's work tree, index and stash are not touched (git only records the new tree under
    ``.git/worktrees/``). Hooks are switched off: a post-checkout hook (``dvc install`` writes one)
    must not run DVC against the new tree with the user's cache.
    """
    git.git("-c", "core.hooksPath=/dev/null", "worktree", "add", "--quiet", "--detach", "--", str(path), commit)


def remove_worktree(git: GitRepo, path: str | os.PathLike[str]) -> None:
    """Remove a work tree made by :func:`add_worktree` (files and git's record of it)."""
    git.git("worktree", "remove", "--force", "--force", "--", str(path), check=False)
    git.git("worktree", "prune", check=False)
