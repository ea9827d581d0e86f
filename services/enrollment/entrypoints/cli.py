"""The `enrollment` console script; each command lives beside the code it drives."""

from __future__ import annotations

import click


@click.group()
def cli() -> None:
    """Resident medical insurance — enrollment service and operator commands."""


# Commands are registered below, one line each (keep this list sorted by command name).
from services.enrollment.entrypoints.commands.console import console_sums  # noqa: E402
from services.enrollment.entrypoints.commands.lists import export_basic_data, import_list  # noqa: E402
from services.enrollment.entrypoints.commands.payments import consume_payments, payments  # noqa: E402
from services.enrollment.entrypoints.commands.recovery import reconcile, republish  # noqa: E402
from services.enrollment.entrypoints.commands.rollover import rollover  # noqa: E402
from services.enrollment.entrypoints.commands.service import migrate, relay, serve  # noqa: E402
from services.enrollment.entrypoints.commands.staff import staff  # noqa: E402

cli.add_command(console_sums)
cli.add_command(consume_payments)
cli.add_command(export_basic_data)
cli.add_command(import_list)
cli.add_command(migrate)
cli.add_command(payments)
cli.add_command(reconcile)
cli.add_command(relay)
cli.add_command(republish)
cli.add_command(rollover)
cli.add_command(serve)
cli.add_command(staff)


def main() -> None:
    cli()
