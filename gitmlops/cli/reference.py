"""Generate docs/cli-reference.md from the commands' own `--help` (so the reference cannot drift).

``python -m gitmlops.cli.reference`` rewrites the file and the man pages (gitmlops.cli.manpages);
``--check`` exits 1 when either is stale.
A test runs the check.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gitmlops.cli import manpages
from gitmlops.cli.command_tree import commands

_commands = commands  # the name the docs tests import

HEADER = """# CLI reference

Generated from each command's `--help` by `python -m gitmlops.cli.reference`; do not edit by hand
(a test fails when this file is stale).
"""


def _help(path: list[str]) -> str:
    from click.testing import CliRunner

    from gitmlops.cli import cli

    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="gitmlops", terminal_width=100)
    return result.output.rstrip() + "\n"


def render() -> str:
    """The whole reference as Markdown."""
    parts = [HEADER]
    for path, _ in commands():
        title = " ".join(["gitmlops", *path])
        parts.append(f"\n## `{title}`\n\n```text\n{_help(path)}```\n")
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, verify) docs/cli-reference.md and the man pages in man/man1/."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(__file__).resolve().parents[2] / "docs" / "cli-reference.md"
    text = render()
    if "--check" in args:
        stale_pages = manpages.stale()
        if not target.exists() or target.read_text() != text or stale_pages:
            print(f"{target} or man pages {stale_pages} are stale: run `python -m gitmlops.cli.reference`", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    print(f"wrote {target}")
    pages = manpages.write()
    print(f"wrote {len(pages)} man pages in {manpages.MAN_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
