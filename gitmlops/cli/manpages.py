"""Man pages generated from the click commands, so `git mlops --help` (which git turns into
`man git-mlops`) and `man gitmlops-registry` work.

The pages live in ``man/man1/`` at the project root and are installed into ``<prefix>/share/man/man1``
(see ``[tool.setuptools.data-files]`` in pyproject.toml), which `man` searches for every ``bin``
folder on PATH: a virtual environment on PATH is enough. ``python -m gitmlops.cli.reference``
regenerates them with the CLI reference, and a test fails when they are stale.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from gitmlops import __version__

MAN_DIR = Path(__file__).resolve().parents[2] / "man" / "man1"
MANUAL = "gitmlops manual"


def escape(text: str) -> str:
    """Text made safe for roff: backslashes, hyphens, and lines starting with a control character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line[:1] in (".", "'") else line for line in text.splitlines())


def _paragraphs(text: str) -> str:
    """click's help text (blank-line paragraphs, \\b no-rewrap blocks) as roff."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if lines and lines[0].strip() == "\b":
            out.append(".PP\n.nf\n" + escape("\n".join(lines[1:])) + "\n.fi")
        else:
            out.append(".PP\n" + escape(" ".join(line.strip() for line in lines)))
    return "\n".join(out)


def _options(command: click.Command, ctx: click.Context) -> str:
    rows = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        rows.append(f".TP\n.B {escape(names)}\n{escape(help_text) if help_text else ''}".rstrip())
    return "\n".join(rows)


def _usage(command: click.Command, ctx: click.Context) -> str:
    pieces = command.collect_usage_pieces(ctx)
    return " ".join([ctx.command_path, *pieces])


def page(path: list[str], prog: str = "gitmlops") -> tuple[str, str]:
    """(file name, roff text) of the page for the command at ``path`` (``[]`` is the root)."""
    from gitmlops.cli import cli

    ctx = cli.make_context(prog, [], resilient_parsing=True)  # applies the group's context_settings
    command: click.Command = cli
    for name in path:
        sub = command.get_command(ctx, name) if isinstance(command, click.Group) else None
        if sub is None:
            raise KeyError(" ".join(path))
        ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
        command = sub
    title = "-".join([prog.replace(" ", "-"), *path])
    summary = (command.get_short_help_str(limit=200) or "").rstrip(".")
    sections = [
        f'.TH "{title.upper()}" "1" "" "{prog} {__version__}" "{MANUAL}"',
        ".SH NAME",
        f"{escape(title)} \\- {escape(summary)}",
        ".SH SYNOPSIS",
        f".B {escape(_usage(command, ctx))}",
    ]
    if command.help:
        sections += [".SH DESCRIPTION", _paragraphs(command.help)]
    options = _options(command, ctx)
    if options:
        sections += [".SH OPTIONS", options]
    if isinstance(command, click.Group):
        rows = []
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            rows.append(f".TP\n.B {escape(name)}\n{escape(sub.get_short_help_str(limit=200))}")
        sections += [".SH COMMANDS", "\n".join(rows)]
        if path:
            sections.append(
                ".PP\nEach command has its own page: " + escape(", ".join(f"{title}-{n}(1)" for n in command.list_commands(ctx)))
            )
    if not path:
        from gitmlops.errors import EXIT_CODES

        sections.append(".SH EXIT STATUS")
        sections += [f".TP\n.B {code}\n{escape(text)}" for code, text in EXIT_CODES.items()]
        sections.append(".SH ENVIRONMENT")
        sections.append(
            ".TP\n.B NO_COLOR\nWhen set to a non-empty value, no output is coloured (as with \\-\\-no\\-color).\n"
            ".TP\n.B GITMLOPS_TRACEBACK\nWhen set, errors print their full traceback (as with \\-\\-traceback)."
        )
    see_also = ["gitmlops(1)", "git-mlops(1)", "dvc(1)", "git(1)"]
    if path:
        see_also.insert(0, f"{'-'.join([prog.replace(' ', '-'), *path[:-1]])}(1)")
    sections += [".SH SEE ALSO", escape(", ".join(dict.fromkeys(see_also)))]
    return f"{title}.1", "\n".join(sections) + "\n"


def render() -> dict[str, str]:
    """Every page: the root as `gitmlops` and as the git plugin `git mlops`, and one per command."""
    from gitmlops.cli.command_tree import commands

    pages = dict([page([]), page([], prog="git mlops")])
    for path, _ in commands():
        if path:
            name, text = page(path)
            pages[name] = text
    return pages


def stale(directory: Path = MAN_DIR) -> list[str]:
    """Names of pages that are missing, different or no longer generated."""
    wanted = render()
    present = {p.name for p in directory.glob("*.1")} if directory.is_dir() else set()
    bad = [name for name, text in wanted.items() if not (directory / name).is_file() or (directory / name).read_text() != text]
    return sorted(bad + sorted(present - set(wanted)))


def write(directory: Path = MAN_DIR) -> list[str]:
    """Write every page into ``directory`` (removing pages of commands that no longer exist)."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = render()
    for old in directory.glob("*.1"):
        if old.name not in wanted:
            old.unlink()
    for name, text in wanted.items():
        (directory / name).write_text(text)
    return sorted(wanted)
