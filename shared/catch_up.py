"""Read models caught up from an append-only table by its sequence id — exactly, off the write path.

Both consoles sum what they show from an append-only table (settlement's ledger, enrollment's
events) into small summary tables, and catch them up when a page is asked rather than in the
writers' transactions (a summary row every writer updates is a lock every writer queues on).
Catching up by id is exact only if no row below the id read can still be committed later; a
sequence gives no such promise by itself (a transaction may draw a lower id and commit after a
higher one). So, on PostgreSQL:

1. ``nothing_new``: one read without a lock — if no row past the summed id is committed, stop.
   Every row at or below the summed id was committed when it was summed (step 2 saw to it), so
   a row in flight now has a higher id and is summed next time;
2. ``committed_upto``: ``LOCK TABLE … IN SHARE MODE`` waits for every transaction that holds the
   table's ROW EXCLUSIVE lock (every writer holds it from its INSERT, where the id is drawn, to
   its commit), then ``max(id)``: every id up to it is committed or never will be. The lock is
   held for that one statement and given up after ``LOCK_TIMEOUT_MS`` (new writers queue behind
   the request: an autovacuum holding a conflicting lock must not stall them for long);
3. the caller sums the rows after the position up to that id and moves the position (``claim``
   locks the position row, so two processes never add the same rows twice), in one transaction.

SQLite serialises writers (BEGIN IMMEDIATE), so there steps 1–2 are a plain ``max(id)``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Table, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

LOCK_TIMEOUT_MS = 200


async def nothing_new(
    engine: AsyncEngine, positions: Table, name: str, source: str, column: str
) -> int | None:
    """The id summed up to when no row of ``source`` past it is committed yet, else None."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    # Names from the code, not from input (S608 does not apply).
                    f"SELECT (SELECT last_id FROM {positions.name} WHERE name = :name),"  # noqa: S608
                    f" (SELECT max({column}) FROM {source})"
                ),
                {"name": name},
            )
        ).one()
    summed, newest = row
    if newest is None or (summed is not None and summed >= newest):
        return int(summed or 0)
    return None


async def committed_upto(engine: AsyncEngine, source: str, column: str) -> int | None:
    """The highest id of ``source`` below which every row is committed or never will be; None
    when the lock was not granted in time (try later)."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'"))
            try:
                await conn.execute(text(f"LOCK TABLE {source} IN SHARE MODE"))
            except DBAPIError:
                log.info("%s summary: the lock was not granted at once; later", source)
                return None
        # Names from the code, not from input (S608 does not apply).
        query = text(f"SELECT coalesce(max({column}), 0) FROM {source}")  # noqa: S608
        return int(await conn.scalar(query) or 0)


async def claim(conn: AsyncConnection, positions: Table, name: str) -> int:
    """The id summed up to, its row locked until the transaction ends (created at 0 once)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    await conn.execute(
        dialect.insert(positions)
        .values(name=name, last_id=0, updated_at=datetime.now(UTC))
        .on_conflict_do_nothing()
    )
    query = select(positions.c.last_id).where(positions.c.name == name)
    if conn.dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE serialises already
        query = query.with_for_update()
    return int(await conn.scalar(query) or 0)


async def advance(conn: AsyncConnection, positions: Table, name: str, upto: int) -> None:
    """Record that the rows up to ``upto`` are summed (in the summing transaction)."""
    await conn.execute(
        positions.update()
        .where(positions.c.name == name)
        .values(last_id=upto, updated_at=datetime.now(UTC))
    )
