"""Daily ledger totals for the console, caught up from the ledger off the settle path.

The console shows settlements and fund payouts per day, per hospital and over a year; with a
million ledger rows a GROUP BY over the ledger (whose amounts sit in each row's JSON answer)
takes seconds. ``ledger_daily`` holds, per China-time day, hospital, ``med_type`` and entry type,
the count and the sums of the answer's amounts (a reversal counts its settlement's amounts), so a
page reads a few hundred rows.

It is filled by ``catch_up`` from the ledger (``shared.catch_up``: exact, by ledger id, with a
lock of one statement rather than a row every settlement would update), not by the settle
statement: a summary row updated by every settlement would be a row lock that every settlement
of a hospital queues on.
"""

from __future__ import annotations

import logging
import time
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
from sqlalchemy.ext.asyncio import AsyncEngine

from services.settlement.adapters.tables import Amount, metadata
from shared import catch_up as catch_up_by_id

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
CHUNK = 100_000  # ledger ids summed a transaction


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


async def catch_up(engine: AsyncEngine, budget: float | None = None) -> int | None:
    """Add the ledger rows not yet summed to ``ledger_daily``; returns the id summed up to, or
    None when the summary is not current: the ledger lock was not granted in time, or ``budget``
    seconds were spent (a page's share; ``settlement console-sums`` sums a whole ledger)."""
    summed = await catch_up_by_id.nothing_new(engine, summary_position, NAME, "ledger", "id")
    if summed is not None:
        return summed
    upto = await catch_up_by_id.committed_upto(engine, "ledger", "id")
    if upto is None:
        return None
    deadline = None if budget is None else time.monotonic() + budget
    while True:  # a range of ids a transaction
        async with engine.begin() as conn:
            after = await catch_up_by_id.claim(conn, summary_position, NAME)
            if after >= upto:
                return after
            reached = min(upto, after + CHUNK)
            sql = text(_sum_sql(conn.dialect.name))
            await conn.execute(sql, {"after": after, "upto": reached})
            await catch_up_by_id.advance(conn, summary_position, NAME, reached)
        if deadline is not None and time.monotonic() > deadline and reached < upto:
            return None


async def summed_at(engine: AsyncEngine) -> datetime | None:
    """When the summary last caught up (None: never)."""
    async with engine.connect() as conn:
        query = select(summary_position.c.updated_at).where(summary_position.c.name == NAME)
        value = await conn.scalar(query)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value
