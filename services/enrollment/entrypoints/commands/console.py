"""``enrollment console-sums``: bring the ops console's sums up to date now.

A page folds the events appended since the last look, within a second and a half of its own
time; after an upgrade (the sums start empty) a city's event store takes minutes, so an operator
runs this once (it is safe to run any time, beside the service).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from services.enrollment.entrypoints.commands import with_database

if TYPE_CHECKING:
    from services.enrollment.bootstrap import Wiring


@click.command("console-sums")
def console_sums() -> None:
    """Fold the event store into the ops console's sums (after an upgrade: once)."""
    from services.enrollment.adapters import console_summary

    async def work(wiring: Wiring) -> int | None:
        return await console_summary.catch_up(wiring.engine)

    started = time.perf_counter()
    upto = with_database(work)
    if upto is None:
        raise click.ClickException("the event store was busy (its lock was not granted): again")
    click.echo(f"events summed up to position {upto} in {time.perf_counter() - started:.1f}s")
