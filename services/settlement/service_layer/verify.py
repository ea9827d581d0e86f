"""`settlement verify`: recompute every accumulator from the ledger and report differences."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.settlement.adapters.sql_ledger import totals_of
from services.settlement.adapters.tables import accumulators, ledger
from services.settlement.engine.accumulator import Accumulator


@dataclass(frozen=True, slots=True)
class Difference:
    """A (person, year) whose stored totals are not the sum of its ledger entries."""

    psn_no: str
    year: int
    stored: Accumulator
    from_ledger: Accumulator


async def verify(conn: AsyncConnection) -> list[Difference]:
    """Every (person, year) whose stored accumulator differs from the sum of its ledger entries."""
    expected: dict[tuple[str, int], Accumulator] = {}
    rows = await conn.execute(
        select(ledger.c.psn_no, ledger.c.insurance_year, ledger.c.delta).order_by(ledger.c.id)
    )
    for psn_no, year, delta in rows:
        key = (psn_no, year)
        change = Accumulator.from_dict(json.loads(delta))
        expected[key] = expected.get(key, Accumulator.zero()).plus(change)
    stored: dict[tuple[str, int], Accumulator] = {}
    for row in await conn.execute(select(accumulators)):
        stored[(row.psn_no, row.year)] = totals_of(row)
    zero = Accumulator.zero()
    return [
        Difference(psn_no, year, stored.get(key, zero), expected.get(key, zero))
        for key in sorted(set(expected) | set(stored))
        for psn_no, year in [key]
        if stored.get(key, zero) != expected.get(key, zero)
    ]
