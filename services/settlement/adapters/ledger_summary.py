"""Daily ledger totals for the console, caught up from the ledger off the settle path.

The console shows settlements and fund payouts per day, per hospital and over a year; with a
million ledger rows a GROUP BY over the ledger (whose amounts sit in each row's JSON answer)
takes seconds. ``ledger_daily`` holds, per China-time day, hospital, ``med_type`` and entry type,
the count and the sums of the answer's amounts (a reversal counts its settlement's amounts), so a
page reads a few hundred rows.

It is filled by ``catch_up`` from the ledger, not by the settle statement: a summary row updated
by every settlement would be a row lock that every settlement of a hospital queues on. Catching
up is exact because ledger ids come from a sequence that a writer draws inside its INSERT, while
holding the table's ROW EXCLUSIVE lock: ``LOCK TABLE ledger IN SHARE MODE`` waits for every such
writer to end, so once it is granted, every id up to ``max(id)`` is committed or never will be.
That lock is held for one ``SELECT max(id)`` only (new settlements wait a few milliseconds for
it; it is not asked for when no row was posted since the last catch-up, and given up after
``LOCK_TIMEOUT_MS``); the rows up to that id are then summed in a second transaction, under the
position row's lock so that two processes never add the same rows twice. SQLite serialises
writers anyway.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.settlement.adapters.tables import Amount, metadata

log = logging.getLogger(__name__)

FIGURES = (
    "medfee_sumamt",
    "fund_pay_sumamt",
    "hifp_pay",
    "hifmi_pay",
    "maf_pay",
    "psn_part_amt",
)
"""The settlement answer's amounts the summary sums (SPEC §6 names)."""

ledger_daily = Table(
    "ledger_daily",
    metadata,
    Column("day", Date, nullable=False),  # the entry's date in China (UTC+8)
    Column("hospital_id", Integer, nullable=False),
    Column("med_type", String(32), nullable=False),
    Column("entry_type", String(16), nullable=False),
    Column("entries", BigInteger, nullable=False),
    *(Column(name, Amount(), nullable=False) for name in FIGURES),
    PrimaryKeyConstraint("day", "hospital_id", "med_type", "entry_type"),
)

summary_position = Table(
    "ledger_summary_position",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

NAME = "ledger_daily"
LOCK_TIMEOUT_MS = 200


def _sum_sql(dialect: str) -> str:
    """INSERT … SELECT the sums of ledger rows ``(:after, :upto]`` into ``ledger_daily``.

    A settlement's amounts are its own answer's; a reversal's are its settlement's answer's.
    """
    if dialect == "postgresql":
        day = "((l.created_at AT TIME ZONE 'UTC') + interval '8 hours')::date"
        answer = "coalesce(s.response, l.response)::jsonb"
        amount = "coalesce((answer ->> '{0}')::numeric, 0)"
        fence = "MATERIALIZED"  # parse each answer once, not once per amount
    else:  # SQLite keeps UTC wall time as text and Amount as integer fen
        day = "date(l.created_at, '+8 hours')"
        answer = "coalesce(s.response, l.response)"
        amount = "CAST(round(coalesce(json_extract(answer, '$.{0}'), 0) * 100) AS INTEGER)"
        fence = ""
    names = ", ".join(FIGURES)
    sums = ", ".join(f"sum({amount.format(name)})" for name in FIGURES)
    adds = ", ".join(f"{name} = d.{name} + excluded.{name}" for name in FIGURES)
    # Column names from the code: no input reaches this text (S608 does not apply).
    return f"""
        WITH entries AS {fence} (
            SELECT {day} AS day, l.hospital_id, l.med_type, l.entry_type, {answer} AS answer
              FROM ledger AS l
              LEFT JOIN ledger AS s
                ON l.entry_type = 'reversal' AND s.setl_id = l.setl_id
               AND s.entry_type = 'settlement'
             WHERE l.id > :after AND l.id <= :upto
        )
        INSERT INTO ledger_daily AS d (day, hospital_id, med_type, entry_type, entries, {names})
        SELECT day, hospital_id, med_type, entry_type, count(*), {sums}
          FROM entries
         WHERE true
         GROUP BY day, hospital_id, med_type, entry_type
        ON CONFLICT (day, hospital_id, med_type, entry_type) DO UPDATE
           SET entries = d.entries + excluded.entries, {adds}
    """  # noqa: S608


async def _nothing_new(engine: AsyncEngine) -> int | None:
    """The id summed up to when no ledger row past it is committed yet, else None (one round
    trip, no lock).

    Safe to stop on: every row at or below the summed id was committed when it was summed (the
    lock below saw to it), so a row in flight now has a higher id and is summed next time.
    """
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT (SELECT last_id FROM ledger_summary_position WHERE name = :name),"
                    " (SELECT max(id) FROM ledger)"
                ),
                {"name": NAME},
            )
        ).one()
    summed, newest = row
    if newest is None or (summed is not None and summed >= newest):
        return int(summed or 0)
    return None


async def _settled_upto(engine: AsyncEngine) -> int | None:
    """The highest ledger id below which every row is committed or never will be (None: the
    lock was not granted in time; try later). New settlements wait behind this lock request, so
    it gives up quickly rather than hold them (an autovacuum of the ledger holds a conflicting
    lock until it is cancelled for us, a second later)."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'"))
            try:
                await conn.execute(text("LOCK TABLE ledger IN SHARE MODE"))
            except DBAPIError:
                log.info("ledger summary: the ledger lock was not granted at once; later")
                return None
        return int(await conn.scalar(text("SELECT coalesce(max(id), 0) FROM ledger")) or 0)


async def catch_up(engine: AsyncEngine) -> int | None:
    """Add the ledger rows not yet summed to ``ledger_daily``; returns the id summed up to, or
    None when the ledger lock was not granted in time (the summary stays as it was)."""
    summed = await _nothing_new(engine)
    if summed is not None:
        return summed
    upto = await _settled_upto(engine)
    async with engine.begin() as conn:
        after = await _position(conn)
        if upto is None or upto <= after:
            return None if upto is None else after
        await conn.execute(text(_sum_sql(conn.dialect.name)), {"after": after, "upto": upto})
        await conn.execute(
            summary_position.update()
            .where(summary_position.c.name == NAME)
            .values(last_id=upto, updated_at=datetime.now(UTC))
        )
    return upto


async def _position(conn: AsyncConnection) -> int:
    """The id summed up to, its row locked until the transaction ends (created at 0 once)."""
    now = datetime.now(UTC)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    await conn.execute(
        dialect.insert(summary_position)
        .values(name=NAME, last_id=0, updated_at=now)
        .on_conflict_do_nothing()
    )
    query = select(summary_position.c.last_id).where(summary_position.c.name == NAME)
    if conn.dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE serialises already
        query = query.with_for_update()
    return int(await conn.scalar(query) or 0)


async def summed_at(engine: AsyncEngine) -> datetime | None:
    """When the summary last caught up (None: never)."""
    async with engine.connect() as conn:
        query = select(summary_position.c.updated_at).where(summary_position.c.name == NAME)
        value = await conn.scalar(query)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value
