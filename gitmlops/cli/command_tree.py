"""The visible command tree, walked once for the generated docs: the CLI reference and the man pages."""

from __future__ import annotations

import click


def commands() -> list[tuple[list[str], click.Command]]:
    """Every visible command as (path of names, command), the root first, groups before their commands."""
    from gitmlops.cli import cli

    found: list[tuple[list[str], click.Command]] = [([], cli)]
    ctx = click.Context(cli, info_name="gitmlops")

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            found.append(([*prefix, name], command))
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])

    walk(cli, [])
    return found
