"""The ledger on PostgreSQL: settlements posted optimistically on the pool's asyncpg connection.

A settlement is two round trips: the totals and coverage read without a lock, the claim decided
on them, then one autocommit statement that writes the ledger row, the visit row and the new
totals only if the totals are still those read (compare-and-set). If another settlement of the
person moved them in between, that statement writes nothing, and the claim is decided again on
the totals read under the row lock and posted by the same statement inside that transaction,
where it cannot lose.

The settle path talks to asyncpg directly: SQLAlchemy's async bridge (a greenlet switch and
parameter processing per statement) cost as much server CPU as asyncpg itself; asyncpg
prepares each statement once per connection and keeps it in its statement cache. Everything
else (reads, reversals) is ``SqlLedger``'s, on the same engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy.util import greenlet_spawn

from services.settlement.adapters.ledger import ENTRY_COLUMNS, AlreadyPosted, Decide, P
from services.settlement.adapters.nhsa_messages import SETTLE, SETTLED
from services.settlement.adapters.sql_ledger import POSTGRES_LOCK_TOTALS, SqlLedger
from services.settlement.adapters.tables import ACCUMULATOR_FIELDS
from services.settlement.engine.accumulator import Accumulator
from shared.errors import CodedError
from shared.money import CENT


class _Numbered:
    """asyncpg's positional ``$n`` placeholders, by name: each name is numbered once, and the
    arguments are taken by the same names, so a statement and its call cannot drift apart."""

    def __init__(self, *names: str) -> None:
        self.names = names
        self._placeholders = {name: f"${n}" for n, name in enumerate(names, 1)}

    def __getitem__(self, name: str) -> str:
        return self._placeholders[name]

    def cast(self, name: str, sql_type: str) -> str:
        return f"{self._placeholders[name]}::{sql_type}"

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[name] for name in self.names]


_TOTALS = ", ".join(ACCUMULATOR_FIELDS)
_TOTAL_TYPES = {
    name: "int" if name == "inpatient_stays" else "numeric" for name in ACCUMULATOR_FIELDS
}
_ENTRY_TYPES = {
    "setl_id": "text",
    "hospital_id": "int",
    "mdtrt_id": "text",
    "psn_no": "text",
    "insurance_year": "int",
    "med_type": "text",
    "idempotency_key": "text",
    "request_hash": "text",
    "response": "text",
    "delta": "text",
    "created_at": "timestamptz",
    "policy_name": "text",
    "policy_sha256": "text",
    "region": "text",
    "claim": "text",
}
_PERSON = _Numbered("psn_no", "year")

# Column names from the code, no input: S608 does not apply to these statements.
READ_FOR_CLAIM = f"""
    SELECT {", ".join(f"a.{name}" for name in ACCUMULATOR_FIELDS)}, c.state
      FROM (SELECT 1) AS one
      LEFT JOIN accumulators AS a ON a.psn_no = {_PERSON["psn_no"]} AND a.year = {_PERSON["year"]}
      LEFT JOIN coverage_persons AS c ON c.psn_no = {_PERSON["psn_no"]}
"""  # noqa: S608
"""The totals of (person, year) (NULLs if none yet) and the coverage JSON; no lock."""

LOCK_FOR_CLAIM = f"""
    INSERT INTO accumulators (psn_no, year, {_TOTALS})
    VALUES ({_PERSON["psn_no"]}, {_PERSON["year"]}, {", ".join("0" for _ in ACCUMULATOR_FIELDS)})
    ON CONFLICT (psn_no, year) DO UPDATE SET psn_no = EXCLUDED.psn_no
    RETURNING {_TOTALS},
              (SELECT state FROM coverage_persons WHERE psn_no = {_PERSON["psn_no"]}) AS state
"""  # noqa: S608
"""The same, with the row created at zero or locked until the transaction ends."""

_POST = _Numbered(
    *ENTRY_COLUMNS,
    "message",
    *(f"after_{name}" for name in ACCUMULATOR_FIELDS),
    *(f"before_{name}" for name in ACCUMULATOR_FIELDS),
)


def _totals(prefix: str) -> str:
    return ", ".join(_POST.cast(f"{prefix}_{name}", t) for name, t in _TOTAL_TYPES.items())


POST_IF_UNCHANGED = f"""
    WITH totals AS (
        INSERT INTO accumulators AS a (psn_no, year, {_TOTALS})
        VALUES ({_POST["psn_no"]}, {_POST["insurance_year"]}, {_totals("after")})
        ON CONFLICT (psn_no, year) DO UPDATE
           SET {", ".join(f"{name} = EXCLUDED.{name}" for name in ACCUMULATOR_FIELDS)}
         WHERE ({", ".join(f"a.{name}" for name in ACCUMULATOR_FIELDS)}) = ({_totals("before")})
        RETURNING 1
    ), entry AS (
        INSERT INTO ledger (entry_type, {", ".join(ENTRY_COLUMNS)})
        SELECT 'settlement', {", ".join(_POST.cast(c, _ENTRY_TYPES[c]) for c in ENTRY_COLUMNS)}
          FROM totals
    ), visit AS (
        INSERT INTO active_visits (hospital_id, mdtrt_id, setl_id)
        SELECT {_POST.cast("hospital_id", "int")}, {_POST.cast("mdtrt_id", "text")},
               {_POST.cast("setl_id", "text")}
          FROM totals
    ), message AS (
        INSERT INTO nhsa_messages (hospital_id, msgid, infno, outcome, setl_id, recorded_at)
        SELECT {_POST.cast("hospital_id", "int")}, {_POST.cast("message", "text")}, '{SETTLE}',
               '{SETTLED}', {_POST.cast("setl_id", "text")},
               {_POST.cast("created_at", "timestamptz")}
          FROM totals
         WHERE {_POST.cast("message", "text")} IS NOT NULL
    )
    SELECT count(*) FROM totals
"""  # noqa: S608
"""Post a settlement if the totals are still the ``before_`` ones; 1 if written, else 0.

The database refuses a reused idempotency key (per hospital), a visit already settled, or a
platform message id already in the message log (``message``, when given: see
``Ledger.post_settlement``)."""


class PostgresLedger(SqlLedger):
    """The ledger on PostgreSQL (production)."""

    LOCK_TOTALS = POSTGRES_LOCK_TOTALS

    async def post_settlement(
        self, psn_no: str, year: int, decide: Decide[P], *, message: str | None = None
    ) -> P:
        # The connection comes from the engine's pool (so it is closed with the engine) and goes
        # back to it with no transaction open; one that may be mid-statement (a cancelled call)
        # is discarded instead.
        pooled = await self.engine.raw_connection()
        conn: Any = pooled.driver_connection
        clean = False
        try:
            posting = await self._settle(conn, psn_no, year, decide, message)
            clean = True
        except asyncpg.IntegrityConstraintViolationError:
            clean = not conn.is_in_transaction()
            raise AlreadyPosted from None
        except (CodedError, asyncpg.PostgresError):
            clean = not conn.is_in_transaction()
            raise
        finally:
            if clean:
                pooled.close()  # no await: with no transaction the pool's reset sends nothing
            else:
                await greenlet_spawn(pooled.invalidate)
        return posting

    async def _settle(
        self, conn: Any, psn_no: str, year: int, decide: Decide[P], message: str | None
    ) -> P:
        before, state = await self._read_unlocked(conn, psn_no, year)
        posting = decide(before, state)
        if await self._post_if_unchanged(conn, posting, before, message):
            return posting
        async with conn.transaction():
            row = await conn.fetchrow(
                LOCK_FOR_CLAIM, *_PERSON.args({"psn_no": psn_no, "year": year})
            )
            before, state = _totals_of(row), row[-1]
            posting = decide(before, state)
            if not await self._post_if_unchanged(conn, posting, before, message):
                raise RuntimeError(f"the totals of {psn_no} moved under their row lock")
        return posting

    async def _read_unlocked(
        self, conn: Any, psn_no: str, year: int
    ) -> tuple[Accumulator, str | None]:
        row = await conn.fetchrow(READ_FOR_CLAIM, *_PERSON.args({"psn_no": psn_no, "year": year}))
        if row[0] is None:  # no totals yet this year
            return Accumulator.zero(), row[-1]
        return _totals_of(row), row[-1]

    @staticmethod
    async def _post_if_unchanged(
        conn: Any, posting: P, before: Accumulator, message: str | None
    ) -> bool:
        values = posting.entry.row()
        values["message"] = message
        for name, after, then in zip(ACCUMULATOR_FIELDS, posting.after, before, strict=True):
            values[f"after_{name}"] = after
            values[f"before_{name}"] = then
        return bool(await conn.fetchval(POST_IF_UNCHANGED, *_POST.args(values)))


def _totals_of(row: Any) -> Accumulator:
    stays, *amounts = row[: len(ACCUMULATOR_FIELDS)]
    return Accumulator(stays, *(Decimal(v).quantize(CENT) for v in amounts))
