"""``settlement console-sums``: bring the ops console's daily ledger summary up to date now.

A page does this for the rows posted since the last look, within a second and a half of its own
time; after an upgrade (``ledger_daily`` starts empty) a ledger of a million rows takes longer,
so an operator runs this once (it is safe to run any time, beside the service).
"""

from __future__ import annotations

import asyncio
import time

import click


@click.command("console-sums")
def console_sums() -> None:
    """Sum the ledger into the ops console's daily totals (after an upgrade: once)."""
    from services.settlement import migrations
    from services.settlement.adapters import ledger_summary
    from services.settlement.settings import Settings
    from shared.db import make_engine
    from shared.logging import configure

    configure("settlement")
    settings = Settings()
    migrations.upgrade(settings.database_url)

    async def main() -> int | None:
        engine = make_engine(settings.database_url)
        try:
            return await ledger_summary.catch_up(engine)
        finally:
            await engine.dispose()

    started = time.perf_counter()
    upto = asyncio.run(main())
    if upto is None:
        raise click.ClickException("the ledger was busy (its lock was not granted): run it again")
    click.echo(f"ledger summed up to id {upto} in {time.perf_counter() - started:.1f}s")
