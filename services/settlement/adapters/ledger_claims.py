"""The ledger as a what-if reads it (SPEC §10): a year's settled, unreversed claims, person by
person, each person's in settlement order (the ledger's id), streamed in batches.

A worker reads a range of persons (``psn_no`` from ``lo`` up to ``hi``); ``person_bounds`` cuts
the year into such ranges of about equal size, on person boundaries, so that no person is split
between workers. Both queries walk the ledger's ``psn_no`` index.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.settlement.adapters.ledger import REVERSAL, SETTLEMENT
from services.settlement.adapters.tables import ledger
from services.settlement.domain.what_if import LedgerClaim

BATCH = 5000

_reversals = ledger.alias("reversals")


def _where(year: int, regions: Sequence[str], lo: str | None = None, hi: str | None = None) -> Any:
    clauses = [
        ledger.c.insurance_year == year,
        ledger.c.entry_type == SETTLEMENT,
        ledger.c.claim.is_not(None),
    ]
    if regions:
        # Prefixes are digits (checked by the caller): nothing to escape in the pattern.
        clauses.append(or_(*(ledger.c.region.like(f"{prefix}%") for prefix in regions)))
    if lo is not None:
        clauses.append(ledger.c.psn_no >= lo)
    if hi is not None:
        clauses.append(ledger.c.psn_no < hi)
    return and_(*clauses)


def _standing() -> Any:
    return ~exists(
        select(_reversals.c.id)
        .where(_reversals.c.setl_id == ledger.c.setl_id)
        .where(_reversals.c.entry_type == REVERSAL)
    )


async def count(conn: AsyncConnection, year: int, regions: Sequence[str]) -> int:
    """How many settled, unreversed claims the year has (in the regions, if any)."""
    query = select(func.count()).select_from(ledger).where(_where(year, regions), _standing())
    return int((await conn.execute(query)).scalar_one())


async def person_bounds(
    conn: AsyncConnection, year: int, regions: Sequence[str], claims: int, parts: int
) -> list[tuple[str | None, str | None]]:
    """``parts`` ranges of persons (``lo`` ≤ psn_no < ``hi``, None: open) of about equal claims."""
    cuts: list[str] = []
    for part in range(1, parts):
        query = (
            select(ledger.c.psn_no)
            .where(_where(year, regions))
            .order_by(ledger.c.psn_no)
            .offset(claims * part // parts)
            .limit(1)
        )
        cut = (await conn.execute(query)).scalar()
        if cut is not None and (not cuts or cut > cuts[-1]):
            cuts.append(cut)
    edges: list[str | None] = [None, *cuts, None]
    return list(itertools.pairwise(edges))


async def stream(
    conn: AsyncConnection,
    year: int,
    regions: Sequence[str],
    lo: str | None = None,
    hi: str | None = None,
) -> AsyncIterator[list[LedgerClaim]]:
    """The claims of the persons in [lo, hi), in batches, ordered by person and settlement."""
    query = (
        select(
            ledger.c.psn_no, ledger.c.region, ledger.c.claim, ledger.c.delta, ledger.c.policy_sha256
        )
        .where(_where(year, regions, lo, hi), _standing())
        .order_by(ledger.c.psn_no, ledger.c.id)
        .execution_options(yield_per=BATCH)
    )
    result = await conn.stream(query)
    async for rows in result.partitions(BATCH):
        yield [LedgerClaim(*row) for row in rows]
