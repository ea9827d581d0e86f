"""The `settlement` console script; each command lives beside the code it drives."""

from __future__ import annotations

import click


@click.group()
def cli() -> None:
    """Resident medical insurance — settlement service and operator commands."""


# Commands are registered below, one line each (keep this list sorted by command name).
from services.settlement.batch import adjudicate_command  # noqa: E402

cli.add_command(adjudicate_command)


def main() -> None:
    cli()
