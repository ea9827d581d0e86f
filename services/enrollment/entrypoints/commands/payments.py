"""The tax bureau's payment feed: ``consume-payments`` and ``payments retry``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from services.enrollment.entrypoints.commands import run_until_signalled, with_database

if TYPE_CHECKING:
    from services.enrollment.bootstrap import Wiring
    from services.enrollment.service_layer.payments import Outcome


@click.command("consume-payments")
def consume_payments() -> None:
    """Consume tax.premium-payments (group ``enrollment``) until SIGINT/SIGTERM."""

    async def work(wiring: Wiring) -> None:
        await run_until_signalled(wiring.payment_consumer())

    with_database(work)


@click.group()
def payments() -> None:
    """The tax bureau's payments: unmatched list and retries."""


@payments.command("retry")
def retry() -> None:
    """Replay the unmatched messages (after a late registration or another fix)."""
    from services.enrollment.service_layer.payments import retry_unmatched

    async def work(wiring: Wiring) -> Outcome:
        return await retry_unmatched(wiring.uow)

    outcome = with_database(work)
    click.echo(
        json.dumps(
            {
                "applied": outcome.applied,
                "duplicates": outcome.duplicates,
                "still_unmatched": outcome.unmatched,
                "reasons": outcome.reasons,
            }
        )
    )
