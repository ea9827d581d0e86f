"""The ledger on SQLAlchemy Core: ``SqliteLedger``, and the base ``PostgresLedger`` builds on.

A posting locks the person's totals row (created at zero when new), lets the decision run on
what it read, and writes the ledger row, the visit row and the new totals in the same
transaction. SQLite serialises writers with BEGIN IMMEDIATE (``shared.db``); on PostgreSQL the
upsert below takes the row lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.settlement.adapters.ledger import (
    REVERSAL,
    SETTLEMENT,
    AlreadyPosted,
    Decide,
    Entry,
    P,
)
from services.settlement.adapters.nhsa_messages import settled_message
from services.settlement.adapters.tables import (
    ACCUMULATOR_FIELDS,
    accumulators,
    active_visits,
    coverage_persons,
    ledger,
)
from services.settlement.engine.accumulator import Accumulator

_READ_STATE = select(coverage_persons.c.state).where(
    coverage_persons.c.psn_no == bindparam("k_psn_no")
)
_COVERAGE_STATE = _READ_STATE.scalar_subquery()


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


# The hot path's statements are built once: building and cache-keying a statement per call
# costs more Python time than the database takes to run it.
_READ_TOTALS = (
    select(accumulators)
    .where(accumulators.c.psn_no == bindparam("k_psn_no"))
    .where(accumulators.c.year == bindparam("k_year"))
)
_WRITE_TOTALS = (
    update(accumulators)
    .where(accumulators.c.psn_no == bindparam("k_psn_no"))
    .where(accumulators.c.year == bindparam("k_year"))
)
_INSERT_ENTRY = insert(ledger)
_INSERT_VISIT = insert(active_visits)


def totals_of(row: Any) -> Accumulator:
    """The totals of an ``accumulators`` row."""
    return Accumulator(**{name: getattr(row, name) for name in ACCUMULATOR_FIELDS})


class SqlLedger:
    """``Ledger`` on an AsyncEngine; the subclass names its dialect's upsert."""

    LOCK_TOTALS: ClassVar[Any]

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # --- reads ------------------------------------------------------------------------------

    async def totals(self, psn_no: str, year: int) -> Accumulator:
        async with self.engine.connect() as conn:
            return await self._totals(conn, psn_no, year)

    async def read_for_claim(self, psn_no: str, year: int) -> tuple[Accumulator, str | None]:
        async with self.engine.connect() as conn:
            acc = await self._totals(conn, psn_no, year)
            state = await conn.scalar(_READ_STATE, {"k_psn_no": psn_no})
        return acc, state

    async def by_idempotency_key(self, hospital_id: int, key: str) -> Entry | None:
        return await self._one(ledger.c.hospital_id == hospital_id, ledger.c.idempotency_key == key)

    async def settlement(self, setl_id: str) -> Entry | None:
        return await self._one(ledger.c.setl_id == setl_id, ledger.c.entry_type == SETTLEMENT)

    async def reversal(self, setl_id: str) -> Entry | None:
        return await self._one(ledger.c.setl_id == setl_id, ledger.c.entry_type == REVERSAL)

    async def visit_settled(self, hospital_id: int, mdtrt_id: str) -> str | None:
        async with self.engine.connect() as conn:
            setl_id: str | None = await conn.scalar(
                select(active_visits.c.setl_id)
                .where(active_visits.c.hospital_id == hospital_id)
                .where(active_visits.c.mdtrt_id == mdtrt_id)
            )
        return setl_id

    # --- postings ---------------------------------------------------------------------------

    async def post_settlement(
        self, psn_no: str, year: int, decide: Decide[P], *, message: str | None = None
    ) -> P:
        try:
            async with self.engine.begin() as conn:
                # One round trip: the locked totals with the coverage beside them. A reused key
                # or a settled visit is refused by the ledger's unique keys at insert.
                before, state = await self._lock(conn, psn_no, year)
                posting = decide(before, state)
                await self._append(conn, SETTLEMENT, posting.entry)
                await conn.execute(
                    _INSERT_VISIT,
                    {
                        "hospital_id": posting.entry.hospital_id,
                        "mdtrt_id": posting.entry.mdtrt_id,
                        "setl_id": posting.entry.setl_id,
                    },
                )
                if message is not None:
                    await conn.execute(settled_message(posting.entry, message))
                await self._write_totals(conn, psn_no, year, posting.after)
        except IntegrityError:
            raise AlreadyPosted from None
        return posting

    async def post_reversal(self, settlement: Entry, decide: Callable[[Accumulator], P]) -> P:
        psn_no, year = settlement.psn_no, settlement.insurance_year
        try:
            async with self.engine.begin() as conn:
                # Lock first, then look for a reversal: a concurrent one is then seen.
                before, _ = await self._lock(conn, psn_no, year)
                if await self._reversal_exists(conn, settlement.setl_id):
                    raise AlreadyPosted
                posting = decide(before)
                await self._append(conn, REVERSAL, posting.entry)
                await conn.execute(
                    delete(active_visits).where(active_visits.c.setl_id == settlement.setl_id)
                )
                await self._write_totals(conn, psn_no, year, posting.after)
        except IntegrityError:
            raise AlreadyPosted from None
        return posting

    # --- statements -------------------------------------------------------------------------

    async def _lock(
        self, conn: AsyncConnection, psn_no: str, year: int
    ) -> tuple[Accumulator, str | None]:
        # The row is created at zero when new; a refused claim rolls the transaction back, so
        # an unknown person leaves no row behind.
        row = (await conn.execute(self.LOCK_TOTALS, {"k_psn_no": psn_no, "k_year": year})).one()
        return totals_of(row), row.coverage_state

    @staticmethod
    async def _totals(conn: AsyncConnection, psn_no: str, year: int) -> Accumulator:
        row = (await conn.execute(_READ_TOTALS, {"k_psn_no": psn_no, "k_year": year})).first()
        return Accumulator.zero() if row is None else totals_of(row)

    @staticmethod
    async def _write_totals(
        conn: AsyncConnection, psn_no: str, year: int, acc: Accumulator
    ) -> None:
        await conn.execute(_WRITE_TOTALS, {"k_psn_no": psn_no, "k_year": year, **acc._asdict()})

    @staticmethod
    async def _append(conn: AsyncConnection, entry_type: str, entry: Entry) -> None:
        await conn.execute(_INSERT_ENTRY, {"entry_type": entry_type, **entry.row()})

    @staticmethod
    async def _reversal_exists(conn: AsyncConnection, setl_id: str) -> bool:
        found = await conn.scalar(
            select(ledger.c.id)
            .where(ledger.c.setl_id == setl_id)
            .where(ledger.c.entry_type == REVERSAL)
        )
        return found is not None

    async def _one(self, *where: Any) -> Entry | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(ledger).where(*where))).first()
        return None if row is None else Entry.from_row(row)


class SqliteLedger(SqlLedger):
    """The ledger on SQLite (development, tests, a small installation)."""

    LOCK_TOTALS = _lock_totals(sqlite)


POSTGRES_LOCK_TOTALS = _lock_totals(postgresql)
"""The same lock statement for PostgreSQL (``PostgresLedger``'s reversals use it)."""
