"""What the settlement console shows, read from the database (read-only queries).

Money figures come from ``ledger_daily`` (``ledger_summary``), never from a scan of the ledger;
refusals from ``refusals_daily``; the catastrophic burden from ``accumulators`` (one row per
person and year); the pipeline from the consumer's own tables. Every figure is net: a reversal
takes its settlement's amounts back out on the day it was posted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.settlement.adapters.ledger_summary import FIGURES, ledger_daily
from services.settlement.adapters.refusal_log import refusals_daily
from services.settlement.adapters.tables import (
    accumulators,
    dead_letters,
    hospitals,
    outbox,
    pending_events,
)
from shared.money import ZERO

FUNDS = ("hifp_pay", "hifmi_pay", "maf_pay")
"""Basic, catastrophic and assistance funds, as the answer names what each paid."""


@dataclass(slots=True)
class Totals:
    """Settlements, reversals and the net amounts of a group of ledger entries."""

    settlements: int = 0
    reversals: int = 0
    amounts: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(FIGURES, ZERO))

    def add(self, entry_type: str, entries: int, sums: dict[str, Decimal]) -> None:
        sign = 1 if entry_type == "settlement" else -1
        if sign > 0:
            self.settlements += entries
        else:
            self.reversals += entries
        for name in FIGURES:
            self.amounts[name] += sign * (sums[name] or ZERO)


@dataclass(frozen=True, slots=True)
class HospitalTotals:
    """One hospital's line: who it is and its totals."""

    code: str
    name: str
    level: int
    totals: Totals

    def row(self) -> dict[str, Any]:
        """The line as a table row (keys are the column keys)."""
        return {
            "code": self.code,
            "name": self.name,
            "level": self.level,
            "settlements": self.totals.settlements,
            "reversals": self.totals.reversals,
            **self.totals.amounts,
        }


def _sums(row: Any) -> dict[str, Decimal]:
    return {name: getattr(row, name) for name in FIGURES}


_SUMMED = [func.sum(ledger_daily.c[name]).label(name) for name in FIGURES]


async def _totals_by(conn: AsyncConnection, key: Any, start: date, end: date) -> dict[Any, Totals]:
    """Net totals per value of the ``ledger_daily`` column ``key`` over ``[start, end)``."""
    c = ledger_daily.c
    query = (
        select(key, c.entry_type, func.sum(c.entries).label("entries"), *_SUMMED)
        .where(c.day >= start, c.day < end)
        .group_by(key, c.entry_type)
    )
    totals: dict[Any, Totals] = defaultdict(Totals)
    for row in await conn.execute(query):
        totals[row[0]].add(row.entry_type, int(row.entries), _sums(row))
    return totals


async def per_day(engine: AsyncEngine, start: date, end: date) -> dict[date, Totals]:
    """Net totals per China-time day in ``[start, end)``, days without entries left out."""
    async with engine.connect() as conn:
        return dict(await _totals_by(conn, ledger_daily.c.day, start, end))


async def per_hospital(engine: AsyncEngine, start: date, end: date) -> list[HospitalTotals]:
    """Net totals per hospital over ``[start, end)``; every registered hospital, idle or not."""
    async with engine.connect() as conn:
        totals = await _totals_by(conn, ledger_daily.c.hospital_id, start, end)
        listed = await conn.execute(
            select(hospitals.c.id, hospitals.c.code, hospitals.c.name, hospitals.c.level)
        )
        return [HospitalTotals(h.code, h.name, h.level, totals.get(h.id, Totals())) for h in listed]


async def refusals(engine: AsyncEngine, start: date, end: date) -> list[dict[str, Any]]:
    """Refused settlements per hospital and code over ``[start, end)``."""
    r = refusals_daily.c
    query = (
        select(hospitals.c.code.label("hospital"), r.code, func.sum(r.refusals).label("count"))
        .join(hospitals, hospitals.c.id == r.hospital_id)
        .where(r.day >= start, r.day < end)
        .group_by(hospitals.c.code, r.code)
    )
    async with engine.connect() as conn:
        return [
            {"hospital": row.hospital, "code": row.code, "count": int(row.count)}
            for row in await conn.execute(query)
        ]


async def burden_bands(engine: AsyncEngine, year: int, starts: list[Decimal]) -> list[int]:
    """How many persons with claims in ``year`` have a cumulative catastrophic burden in each
    band: below ``starts[0]`` first, then from each start to the next."""
    burden = accumulators.c.catastrophic_burden
    band = case(
        *((burden >= start, index + 1) for index, start in reversed(list(enumerate(starts)))),
        else_=0,
    )
    query = (
        select(band.label("band"), func.count().label("persons"))
        .where(accumulators.c.year == year)
        .group_by(band)
    )
    counts = [0] * (len(starts) + 1)
    async with engine.connect() as conn:
        for row in await conn.execute(query):
            counts[int(row.band)] = int(row.persons)
    return counts


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The consumer's health as its tables show it."""

    persons_waiting: int
    events_waiting: int
    oldest_parked: datetime | None
    dead_letters: int
    latest_dead_letter: datetime | None
    outbox_backlog: int
    oldest_unpublished: datetime | None


async def pipeline(engine: AsyncEngine) -> Pipeline:
    """Gaps waiting, dead letters and the dead-letter outbox backlog."""
    p, d, o = pending_events.c, dead_letters.c, outbox.c
    async with engine.connect() as conn:
        gaps = (
            await conn.execute(
                select(func.count(func.distinct(p.psn_no)), func.count(), func.min(p.parked_at))
            )
        ).one()
        dead = (await conn.execute(select(func.count(), func.max(d.received_at)))).one()
        backlog = (await conn.execute(select(func.count(), func.min(o.created_at)))).one()
    return Pipeline(
        int(gaps[0]), int(gaps[1]), gaps[2], int(dead[0]), dead[1], int(backlog[0]), backlog[1]
    )


DEAD_LETTER_SORTS = {
    "id": dead_letters.c.id,
    "received_at": dead_letters.c.received_at,
    "partition": dead_letters.c.partition,
    "offset": dead_letters.c.offset,
    "key": dead_letters.c.key,
    "error": dead_letters.c.error,
}


async def dead_letter_page(
    engine: AsyncEngine, sort: str, descending: bool, offset: int, limit: int
) -> list[dict[str, Any]]:
    """One page of the dead letters, sorted in the query (``sort`` a key of DEAD_LETTER_SORTS)."""
    d = dead_letters.c
    column = DEAD_LETTER_SORTS[sort]
    order = column.desc() if descending else column.asc()
    query = (
        select(d.id, d.topic, d.partition, d.offset, d.key, d.error, d.received_at)
        .order_by(order, d.id)
        .offset(offset)
        .limit(limit)
    )
    async with engine.connect() as conn:
        return [dict(row._mapping) for row in await conn.execute(query)]
