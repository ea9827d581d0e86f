"""The append-only ledger of settlements and reversals, and the accumulators it moves.

Every entry carries the exact body answered and the signed accumulator change, so that
``verify`` can recompute every accumulator from the ledger alone. The accumulator row of
(psn_no, year) is read under a row lock (PostgreSQL ``FOR UPDATE``; SQLite serialises writers
with BEGIN IMMEDIATE) and written in the same transaction as the ledger row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from services.settlement.adapters.dbutil import for_update, insert_ignore
from services.settlement.adapters.tables import (
    ACCUMULATOR_FIELDS,
    accumulators,
    active_visits,
    coverage_persons,
    ledger,
)
from services.settlement.engine.accumulator import Accumulator
from shared.money import CENT

SETTLEMENT = "settlement"
REVERSAL = "reversal"


def delta_of(before: Accumulator, after: Accumulator) -> dict[str, Any]:
    """The signed change from ``before`` to ``after``, JSON-ready."""
    return Accumulator(
        **{name: getattr(after, name) - getattr(before, name) for name in ACCUMULATOR_FIELDS}
    ).to_dict()


def plus(acc: Accumulator, delta: dict[str, Any], sign: int = 1) -> Accumulator:
    """``acc`` moved by a stored delta (``sign=-1`` takes it away)."""
    return Accumulator(
        **{
            name: getattr(acc, name)
            + sign * (int(delta[name]) if name == "inpatient_stays" else Decimal(delta[name]))
            for name in ACCUMULATOR_FIELDS
        }
    )


def _acc(row: Any) -> Accumulator:
    return Accumulator(**{name: getattr(row, name) for name in ACCUMULATOR_FIELDS})


async def read_accumulator(conn: AsyncConnection, psn_no: str, year: int) -> Accumulator:
    """The totals now (no lock: for lookups and previews)."""
    row = (
        await conn.execute(
            select(accumulators)
            .where(accumulators.c.psn_no == psn_no)
            .where(accumulators.c.year == year)
        )
    ).first()
    return Accumulator.zero() if row is None else _acc(row)


async def lock_accumulator(conn: AsyncConnection, psn_no: str, year: int) -> Accumulator:
    """The totals, with the row locked until the transaction ends (created at zero if new)."""
    stmt = for_update(
        conn,
        select(accumulators)
        .where(accumulators.c.psn_no == psn_no)
        .where(accumulators.c.year == year),
    )
    row = (await conn.execute(stmt)).first()
    if row is None:
        zero = Accumulator.zero()
        await conn.execute(
            insert_ignore(
                conn,
                accumulators,
                psn_no=psn_no,
                year=year,
                **{name: getattr(zero, name) for name in ACCUMULATOR_FIELDS},
            )
        )
        row = (await conn.execute(stmt)).one()
    return _acc(row)


# The hot path's statements are built once: building and cache-keying a statement per call
# costs more Python time than the database takes to run it.
_COVERAGE_STATE = (
    select(coverage_persons.c.state)
    .where(coverage_persons.c.psn_no == bindparam("k_psn_no"))
    .scalar_subquery()
)


def _lock_totals(dialect: Any) -> Any:
    # An upsert whose conflict arm "updates" nothing: it creates the row at zero or takes the
    # row lock on the existing one, and returns it with the person's coverage, in one statement.
    stmt = dialect.insert(accumulators).values(
        psn_no=bindparam("k_psn_no"), year=bindparam("k_year")
    )
    return stmt.on_conflict_do_update(
        index_elements=[accumulators.c.psn_no, accumulators.c.year],
        set_={"psn_no": stmt.excluded.psn_no},
    ).returning(*accumulators.c, _COVERAGE_STATE.label("coverage_state"))


_LOCK_TOTALS = {"postgresql": _lock_totals(postgresql), "sqlite": _lock_totals(sqlite)}
_WRITE_TOTALS = (
    update(accumulators)
    .where(accumulators.c.psn_no == bindparam("k_psn_no"))
    .where(accumulators.c.year == bindparam("k_year"))
)
_INSERT_ENTRY = insert(ledger)
_INSERT_VISIT = insert(active_visits)


async def lock_for_claim(
    conn: AsyncConnection, psn_no: str, year: int
) -> tuple[Accumulator, str | None]:
    """The totals of (person, year), locked until the transaction ends, and the person's
    coverage state JSON (None for an unknown person) — one round trip.

    The row is created at zero when new; a refused claim rolls the transaction back, so an
    unknown person leaves no row behind.
    """
    stmt = _LOCK_TOTALS[conn.dialect.name]
    row = (await conn.execute(stmt, {"k_psn_no": psn_no, "k_year": year})).one()
    return _acc(row), row.coverage_state


async def write_accumulator(
    conn: AsyncConnection, psn_no: str, year: int, acc: Accumulator
) -> None:
    params: dict[str, Any] = {name: getattr(acc, name) for name in ACCUMULATOR_FIELDS}
    await conn.execute(_WRITE_TOTALS, {"k_psn_no": psn_no, "k_year": year, **params})


@dataclass(frozen=True, slots=True)
class Entry:
    """A settlement as the ledger holds it."""

    setl_id: str
    hospital_id: int
    mdtrt_id: str
    psn_no: str
    insurance_year: int
    med_type: str
    idempotency_key: str | None
    request_hash: str | None
    response: str
    delta: dict[str, Any]
    created_at: datetime


def _entry(row: Any) -> Entry:
    return Entry(
        setl_id=row.setl_id,
        hospital_id=row.hospital_id,
        mdtrt_id=row.mdtrt_id,
        psn_no=row.psn_no,
        insurance_year=row.insurance_year,
        med_type=row.med_type,
        idempotency_key=row.idempotency_key,
        request_hash=row.request_hash,
        response=row.response,
        delta=json.loads(row.delta),
        created_at=row.created_at,
    )


async def _one(conn: AsyncConnection, *where: Any) -> Entry | None:
    row = (await conn.execute(select(ledger).where(*where))).first()
    return None if row is None else _entry(row)


async def by_idempotency_key(conn: AsyncConnection, hospital_id: int, key: str) -> Entry | None:
    return await _one(conn, ledger.c.hospital_id == hospital_id, ledger.c.idempotency_key == key)


async def settlement(conn: AsyncConnection, setl_id: str) -> Entry | None:
    return await _one(conn, ledger.c.setl_id == setl_id, ledger.c.entry_type == SETTLEMENT)


async def reversal(conn: AsyncConnection, setl_id: str) -> Entry | None:
    return await _one(conn, ledger.c.setl_id == setl_id, ledger.c.entry_type == REVERSAL)


async def visit_settled(conn: AsyncConnection, hospital_id: int, mdtrt_id: str) -> str | None:
    """The standing settlement of a hospital's visit, if any."""
    return (
        await conn.execute(
            select(active_visits.c.setl_id)
            .where(active_visits.c.hospital_id == hospital_id)
            .where(active_visits.c.mdtrt_id == mdtrt_id)
        )
    ).scalar()


async def append_settlement(conn: AsyncConnection, entry: Entry) -> None:
    """Record a settlement; the database refuses a reused idempotency key or a settled visit."""
    await conn.execute(_INSERT_ENTRY, {"entry_type": SETTLEMENT, **_values(entry)})
    await conn.execute(
        _INSERT_VISIT,
        {"hospital_id": entry.hospital_id, "mdtrt_id": entry.mdtrt_id, "setl_id": entry.setl_id},
    )


# PostgreSQL takes the three writes of a settlement in one statement (one round trip).
_POST_SETTLEMENT_PG = text(
    """
    WITH entry AS (
        INSERT INTO ledger (entry_type, setl_id, hospital_id, mdtrt_id, psn_no, insurance_year,
                            med_type, idempotency_key, request_hash, response, delta, created_at)
        VALUES ('settlement', :setl_id, :hospital_id, :mdtrt_id, :psn_no, :insurance_year,
                :med_type, :idempotency_key, :request_hash, :response, :delta, :created_at)
    ), visit AS (
        INSERT INTO active_visits (hospital_id, mdtrt_id, setl_id)
        VALUES (:hospital_id, :mdtrt_id, :setl_id)
    )
    UPDATE accumulators
       SET inpatient_stays = :inpatient_stays, basic_paid = :basic_paid,
           general_outpatient_paid = :general_outpatient_paid,
           accident_outpatient_paid = :accident_outpatient_paid,
           catastrophic_burden = :catastrophic_burden, catastrophic_paid = :catastrophic_paid,
           assistance_paid = :assistance_paid
     WHERE psn_no = :psn_no AND year = :insurance_year
    """
)


async def post_settlement(conn: AsyncConnection, entry: Entry, after: Accumulator) -> None:
    """Record a settlement and the totals after it (the row must be locked by this transaction).

    The database refuses a reused idempotency key (per hospital) or a visit already settled.
    """
    if conn.dialect.name != "postgresql":
        await append_settlement(conn, entry)
        await write_accumulator(conn, entry.psn_no, entry.insurance_year, after)
        return
    totals = {name: getattr(after, name) for name in ACCUMULATOR_FIELDS}
    await conn.execute(_POST_SETTLEMENT_PG, {**_values(entry), **totals})


async def append_reversal(conn: AsyncConnection, entry: Entry) -> None:
    """Record a reversal (once per settlement, by a unique key) and free the visit."""
    await conn.execute(insert(ledger).values(entry_type=REVERSAL, **_values(entry)))
    await conn.execute(delete(active_visits).where(active_visits.c.setl_id == entry.setl_id))


def _values(entry: Entry) -> dict[str, Any]:
    return {
        "setl_id": entry.setl_id,
        "hospital_id": entry.hospital_id,
        "mdtrt_id": entry.mdtrt_id,
        "psn_no": entry.psn_no,
        "insurance_year": entry.insurance_year,
        "med_type": entry.med_type,
        "idempotency_key": entry.idempotency_key,
        "request_hash": entry.request_hash,
        "response": entry.response,
        "delta": json.dumps(entry.delta, sort_keys=True),
        "created_at": entry.created_at,
    }


def now() -> datetime:
    return datetime.now(UTC)


# --- the settle hot path on PostgreSQL, straight on the asyncpg connection ----------------------
# SQLAlchemy's async bridge (a greenlet switch and parameter processing per statement) cost as
# much server CPU as asyncpg itself; asyncpg prepares each of these once per connection and
# keeps it in its statement cache.

_TOTALS = ", ".join(ACCUMULATOR_FIELDS)
# Column names from the code, no input: S608 does not apply.
PG_LOCK_FOR_CLAIM = f"""
    INSERT INTO accumulators (psn_no, year, {_TOTALS})
    VALUES ($1, $2, {", ".join("0" for _ in ACCUMULATOR_FIELDS)})
    ON CONFLICT (psn_no, year) DO UPDATE SET psn_no = EXCLUDED.psn_no
    RETURNING {_TOTALS}, (SELECT state FROM coverage_persons WHERE psn_no = $1) AS coverage_state
"""  # noqa: S608
PG_POST_SETTLEMENT = f"""
    WITH entry AS (
        INSERT INTO ledger (entry_type, setl_id, hospital_id, mdtrt_id, psn_no, insurance_year,
                            med_type, idempotency_key, request_hash, response, delta, created_at)
        VALUES ('settlement', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ), visit AS (
        INSERT INTO active_visits (hospital_id, mdtrt_id, setl_id) VALUES ($2, $3, $1)
    )
    UPDATE accumulators
       SET {", ".join(f"{name} = ${i}" for i, name in enumerate(ACCUMULATOR_FIELDS, 12))}
     WHERE psn_no = $4 AND year = $5
"""  # noqa: S608


async def pg_lock_for_claim(conn: Any, psn_no: str, year: int) -> tuple[Accumulator, str | None]:
    """``lock_for_claim`` on a raw asyncpg connection (inside its transaction)."""
    row = await conn.fetchrow(PG_LOCK_FOR_CLAIM, psn_no, year)
    stays, *amounts = row[: len(ACCUMULATOR_FIELDS)]
    return Accumulator(stays, *(Decimal(v).quantize(CENT) for v in amounts)), row[-1]


async def pg_post_settlement(conn: Any, entry: Entry, after: Accumulator) -> None:
    """``post_settlement`` on a raw asyncpg connection (the row locked by its transaction)."""
    values = _values(entry)
    await conn.execute(
        PG_POST_SETTLEMENT,
        values["setl_id"],
        values["hospital_id"],
        values["mdtrt_id"],
        values["psn_no"],
        values["insurance_year"],
        values["med_type"],
        values["idempotency_key"],
        values["request_hash"],
        values["response"],
        values["delta"],
        values["created_at"],
        after.inpatient_stays,
        *(Decimal(v).quantize(CENT) for v in after[1:]),
    )


# The optimistic form: the totals and coverage read without a lock, then one statement that
# writes the new totals only if they are still what was read (compare-and-set), with the ledger
# row and the visit row in the same statement — no BEGIN, no COMMIT, two round trips in all. If
# the totals moved in between, it writes nothing and the caller settles under the row lock.
PG_READ_FOR_CLAIM = f"""
    SELECT {", ".join(f"a.{name}" for name in ACCUMULATOR_FIELDS)}, c.state
      FROM (SELECT 1) AS one
      LEFT JOIN accumulators AS a ON a.psn_no = $1 AND a.year = $2
      LEFT JOIN coverage_persons AS c ON c.psn_no = $1
"""  # noqa: S608
_AMOUNT_CASTS = ("::int", *("::numeric" for _ in ACCUMULATOR_FIELDS[1:]))
PG_POST_IF_UNCHANGED = f"""
    WITH totals AS (
        INSERT INTO accumulators AS a (psn_no, year, {_TOTALS})
        VALUES ($4, $5, {", ".join(f"${i}{c}" for i, c in enumerate(_AMOUNT_CASTS, 12))})
        ON CONFLICT (psn_no, year) DO UPDATE
           SET {", ".join(f"{name} = EXCLUDED.{name}" for name in ACCUMULATOR_FIELDS)}
         WHERE ({", ".join(f"a.{name}" for name in ACCUMULATOR_FIELDS)})
             = ({", ".join(f"${i}{c}" for i, c in enumerate(_AMOUNT_CASTS, 19))})
        RETURNING 1
    ), entry AS (
        INSERT INTO ledger (entry_type, setl_id, hospital_id, mdtrt_id, psn_no, insurance_year,
                            med_type, idempotency_key, request_hash, response, delta, created_at)
        SELECT 'settlement', $1::text, $2::int, $3::text, $4::text, $5::int, $6::text, $7::text,
               $8::text, $9::text, $10::text, $11::timestamptz
          FROM totals
    ), visit AS (
        INSERT INTO active_visits (hospital_id, mdtrt_id, setl_id)
        SELECT $2::int, $3::text, $1::text FROM totals
    )
    SELECT count(*) FROM totals
"""  # noqa: S608


async def pg_read_for_claim(conn: Any, psn_no: str, year: int) -> tuple[Accumulator, str | None]:
    """The totals of (person, year) (zero if none yet) and the coverage JSON; no lock."""
    row = await conn.fetchrow(PG_READ_FOR_CLAIM, psn_no, year)
    stays, *amounts = row[: len(ACCUMULATOR_FIELDS)]
    if stays is None:
        return Accumulator.zero(), row[-1]
    return Accumulator(stays, *(Decimal(v).quantize(CENT) for v in amounts)), row[-1]


async def pg_post_if_unchanged(
    conn: Any, entry: Entry, before: Accumulator, after: Accumulator
) -> bool:
    """Record a settlement if the totals are still ``before`` (one statement, autocommit).

    False, with nothing written, if they moved. The database refuses a reused idempotency key
    or a visit already settled, as ``post_settlement``.
    """
    values = _values(entry)
    written = await conn.fetchval(
        PG_POST_IF_UNCHANGED,
        values["setl_id"],
        values["hospital_id"],
        values["mdtrt_id"],
        values["psn_no"],
        values["insurance_year"],
        values["med_type"],
        values["idempotency_key"],
        values["request_hash"],
        values["response"],
        values["delta"],
        values["created_at"],
        after.inpatient_stays,
        *(Decimal(v).quantize(CENT) for v in after[1:]),
        before.inpatient_stays,
        *(Decimal(v).quantize(CENT) for v in before[1:]),
    )
    return bool(written)
