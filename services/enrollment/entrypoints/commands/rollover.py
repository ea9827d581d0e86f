"""``enrollment rollover --from Y --to Y+1``: the next year's basic data before collection."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from services.enrollment.entrypoints.commands import with_database

if TYPE_CHECKING:
    from services.enrollment.bootstrap import Wiring
    from services.enrollment.service_layer.rollover import RolloverReport


@click.command("rollover")
@click.option("--from", "from_year", required=True, type=int, help="The year covered now.")
@click.option("--to", "to_year", required=True, type=int, help="The next year (from + 1).")
def rollover(from_year: int, to_year: int) -> None:
    """Register for the next year everyone covered this year who is alive and not registered yet,
    keeping identity and organization (000 §三: before collection starts); prints a JSON report.
    """
    from services.enrollment.domain.access import Caller
    from services.enrollment.domain.errors import DomainError
    from services.enrollment.service_layer.rollover import rollover as run_rollover
    from services.enrollment.service_layer.staff import console_actor

    async def work(wiring: Wiring) -> RolloverReport:
        caller = Caller.system(console_actor())
        return await run_rollover(
            wiring.uow, from_year, to_year, wiring.enrollment().context, caller
        )

    try:
        report = with_database(work)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
