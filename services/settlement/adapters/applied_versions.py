"""What the coverage projection applied, per person: the settlement half of the reconciliation.

``coverage_persons.last_version`` is the last stream version folded in for each person (events
parked behind a gap are not applied, so they do not count). Pages are read by key, in psn_no
order, from the primary key's index: a page costs the same at any point of a million persons.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.settlement.adapters.tables import coverage_persons


async def page(
    conn: AsyncConnection, *, after: str, through: str | None, limit: int
) -> list[tuple[str, int]]:
    """(psn_no, last applied version) of the persons with ``after < psn_no <= through``."""
    query = select(coverage_persons.c.psn_no, coverage_persons.c.last_version).where(
        coverage_persons.c.psn_no > after
    )
    if through is not None:
        query = query.where(coverage_persons.c.psn_no <= through)
    rows = await conn.execute(query.order_by(coverage_persons.c.psn_no).limit(limit))
    return [(psn_no, int(version)) for psn_no, version in rows]
