"""The ledger as a what-if reads it (SPEC §10): a year's settled, unreversed claims, person by
person, each person's in settlement order (the ledger's id), streamed in batches.

A worker reads a range of persons (``psn_no`` from ``lo`` up to ``hi``); ``person_bounds`` cuts
the year into such ranges of about equal size, on person boundaries, so that no person is split
between workers. Both queries walk the ledger's ``psn_no`` index.

Every query runs on the driver's own connection, outside SQLAlchemy: its result rows cost as much
as everything else a what-if does with a row but the adjudication, and on SQLite every
SQLAlchemy transaction begins IMMEDIATE (``shared.db``), which would hold the write lock — and
stop settlements — for as long as a what-if reads. SQLite is read through a read-only
connection of the file's own, in the calling thread: a what-if worker's loop serves nothing
else.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
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
    return int(await _value(conn, query) or 0)


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
        cut = await _value(conn, query)
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
    """The claims of the persons in [lo, hi), in batches, ordered by person and settlement.

    Reversed settlements (few) are read first and skipped here, which is cheaper than asking the
    database about every row.
    """
    reversals = select(ledger.c.setl_id).where(
        ledger.c.insurance_year == year, ledger.c.entry_type == REVERSAL
    )
    reversed_ids = frozenset([row[0] async for rows in _rows(conn, reversals) for row in rows])
    query = (
        select(
            ledger.c.setl_id,
            ledger.c.psn_no,
            ledger.c.region,
            ledger.c.claim,
            ledger.c.delta,
            ledger.c.policy_sha256,
        )
        .where(_where(year, regions, lo, hi))
        .order_by(ledger.c.psn_no, ledger.c.id)
    )
    make = LedgerClaim._make
    async for rows in _rows(conn, query):
        yield [make(row[1:]) for row in rows if row[0] not in reversed_ids]


async def _value(conn: AsyncConnection, query: Any) -> Any:
    # Closed at once: a half-read cursor would keep its transaction (and the connection) busy.
    async with contextlib.aclosing(_rows(conn, query)) as batches:
        async for rows in batches:
            return rows[0][0] if rows else None
    return None


async def _rows(conn: AsyncConnection, query: Any) -> AsyncIterator[Sequence[Sequence[Any]]]:
    compiled = query.compile(dialect=conn.dialect)
    sql, params = str(compiled), [compiled.params[name] for name in compiled.positiontup or ()]
    if conn.dialect.name == "postgresql":
        driver = (await conn.get_raw_connection()).driver_connection
        # asyncpg: a server-side cursor, which lives in a transaction.
        async with driver.transaction(readonly=True):
            cursor = await driver.cursor(sql, *params)
            while rows := await cursor.fetch(BATCH):
                yield rows
        return
    with contextlib.closing(_read_only(conn.engine.url.database or "")) as reader:
        cursor = reader.execute(sql, params)
        while rows := cursor.fetchmany(BATCH):
            yield rows


def _read_only(path: str) -> sqlite3.Connection:
    return sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True)
