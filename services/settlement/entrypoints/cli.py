"""The `settlement` console script; each command lives beside the code it drives."""

from __future__ import annotations

import click


@click.group()
def cli() -> None:
    """Resident medical insurance — settlement service and operator commands."""


# Commands are registered below, one line each (keep this list sorted by command name).
from services.settlement.entrypoints.batch import adjudicate_command  # noqa: E402
from services.settlement.entrypoints.commands import (  # noqa: E402
    consume,
    hospitals_group,
    migrate,
    rebuild,
    serve,
    verify,
)
from services.settlement.entrypoints.console.command import console_sums  # noqa: E402
from services.settlement.entrypoints.what_if import what_if_command  # noqa: E402

cli.add_command(adjudicate_command)
cli.add_command(console_sums)
cli.add_command(consume)
cli.add_command(hospitals_group)
cli.add_command(migrate)
cli.add_command(rebuild)
cli.add_command(serve)
cli.add_command(verify)
cli.add_command(what_if_command)


def main() -> None:
    cli()
