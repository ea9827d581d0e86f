"""``enrollment republish`` and ``enrollment reconcile``: after a broker lost data, and to prove
that settlement holds what enrollment wrote (issue 9; docs/operations.md says when to use which).
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import click

from services.enrollment.entrypoints.commands import with_database

if TYPE_CHECKING:
    from services.enrollment.adapters.republish import Job
    from services.enrollment.bootstrap import Wiring
    from services.enrollment.domain.reconciliation import Difference, Tally
    from services.enrollment.service_layer.reconcile import Reconciliation

PROGRESS_SECONDS = 1.0


@click.command()
@click.option(
    "--from-position",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="The first global event position to send again (the events table's position).",
)
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(min=1))
def republish(from_position: int, batch_size: int) -> None:
    """Queue every stored event from a position again for the relay, in batches.

    Settlement drops the events it has already applied, so this is safe to repeat.
    """
    from services.enrollment.service_layer.reconcile import republish_from

    shown = [0.0]

    def progress(job: Job) -> None:
        if job.finished or time.monotonic() - shown[0] >= PROGRESS_SECONDS:
            shown[0] = time.monotonic()
            done = job.after_position - job.from_position + 1
            click.echo(
                f"republish job {job.id}: {job.enqueued} events queued, position"
                f" {job.after_position} of {job.until_position}"
                f" ({100 * done // max(1, job.until_position - job.from_position + 1)}%)"
            )

    async def work(wiring: Wiring) -> Job:
        return await republish_from(wiring.engine, from_position, progress, batch_size=batch_size)

    job = with_database(work, hide_parameters=True)
    click.echo(
        f"done: {job.enqueued} events (positions {job.from_position}..{job.until_position})"
        " queued; the relay publishes them"
    )


@click.command()
@click.option(
    "--settlement-url",
    envvar="SETTLEMENT_URL",
    default="http://127.0.0.1:8002",
    show_default=True,
    help="Settlement's base URL (env SETTLEMENT_URL).",
)
@click.option(
    "--token",
    envvar="SETTLEMENT_ACCESS_TOKEN",
    help="A staff access token from POST /api/v1/session (env SETTLEMENT_ACCESS_TOKEN); by"
    " default one is signed with STAFF_TOKEN_PRIVATE_KEY_FILE.",
)
@click.option("--heal", is_flag=True, help="Queue again the events settlement lacks.")
@click.option(
    "--grace",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds an event may take to reach settlement before its person counts as behind.",
)
@click.option(
    "--wait",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Compare again every 2 s until clean, for up to this many seconds.",
)
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(1, 10_000))
def reconcile(
    settlement_url: str,
    token: str | None,
    heal: bool,
    grace: float,
    wait: float,
    batch_size: int,
) -> None:
    """Compare, per person, the last stream version enrollment wrote with the one settlement
    applied; print each difference and a summary as JSON lines. Exit 1 when differences remain,
    2 when settlement could not be asked.
    """
    import httpx

    from services.enrollment.adapters.settlement_client import (
        AppliedVersions,
        SettlementUnavailable,
        token_source,
    )
    from services.enrollment.service_layer import reconcile as reconciling

    async def work(wiring: Wiring) -> Tally:
        tokens = token_source(token, wiring.settings.staff_token_private_key_file)
        async with httpx.AsyncClient(base_url=settlement_url, timeout=30) as http:
            source = AppliedVersions(http, tokens, page_size=batch_size)
            job = reconciling.Reconciliation(
                wiring.engine,
                source,
                heal=heal,
                grace=timedelta(seconds=grace),
                batch_size=batch_size,
            )
            return await _passes(job, wait)

    try:
        tally = with_database(work, hide_parameters=True)
    except SettlementUnavailable as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)  # not a difference: nothing was compared
    sys.exit(0 if tally.clean else 1)


async def _passes(job: Reconciliation, wait: float) -> Tally:
    """Passes until one is clean with nothing in flight, or ``wait`` seconds are up.

    While waiting, a settlement that does not answer (restarting, say) is asked again.
    """
    from services.enrollment.adapters.settlement_client import SettlementUnavailable
    from services.enrollment.domain.reconciliation import Kind

    deadline = time.monotonic() + wait
    number = 1
    while True:
        try:
            tally = await job.run(functools.partial(_print_difference, number))
        except SettlementUnavailable as exc:
            if time.monotonic() >= deadline:
                raise
            click.echo(f"pass {number}: {exc}; asking again", err=True)
        else:
            click.echo(json.dumps({"pass": number, **tally.summary()}))
            settled = tally.clean and not tally.by_kind[Kind.IN_FLIGHT]
            if settled or time.monotonic() >= deadline:
                return tally
        number += 1
        await asyncio.sleep(2)


def _print_difference(number: int, d: Difference, queued: int) -> None:
    line = {
        "pass": number,
        "psn_no": d.psn_no,
        "kind": d.kind.value,
        "enrollment_version": d.enrollment_version,
        "settlement_version": d.settlement_version,
        "queued": queued,
    }
    click.echo(json.dumps(line))
