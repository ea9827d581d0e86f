"""The `enrollment` console script; each command lives beside the code it drives."""

from __future__ import annotations

import click


@click.group()
def cli() -> None:
    """Resident medical insurance — enrollment service and operator commands."""


# Commands are registered below, one line each (keep this list sorted by command name).
from services.enrollment.commands import migrate, relay, serve  # noqa: E402

cli.add_command(migrate)
cli.add_command(relay)
cli.add_command(serve)


def main() -> None:
    cli()
