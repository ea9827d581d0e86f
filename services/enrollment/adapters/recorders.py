"""Batch reads and writes in the caller's transaction: one SQLite and one PostgreSQL way.

Every store of the service (``event_store.EventStore``, ``payment_records.PaymentRecords``) reads
and writes many rows at once through the two primitives of a ``Recorder``:

* ``select_in(key, keys, columns)`` — the rows whose ``key`` is one of ``keys``;
* ``insert(table, rows)`` — many rows in one go.

``Recorder`` does both with SQLAlchemy, which any database understands (SQLite: ``IN`` lists of
at most a thousand keys, ``executemany``). ``PostgresRecorder`` does them on the session's own
asyncpg connection, inside its open transaction: one prepared ``= ANY($1)`` statement whatever
the number of keys (an ``IN`` list of a thousand parameters costs more to plan than to run), and
``COPY`` for inserts (several times cheaper than a multi-row INSERT for the server and for
Python). ``bootstrap.py`` picks one of the two once, from the engine; nothing above the adapters
asks which database it talks to.

A unique key refusing a row — another writer came first — is ``ConcurrencyConflict`` from both:
the transaction is then unusable, the unit of work rolls it back and the handler decides again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from functools import cache
from typing import Any

import asyncpg
from sqlalchemy import Column, Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

Row = Sequence[Any]
"""A fetched row: a tuple-like of the columns asked for, in that order."""

IN_CHUNK = 1000  # keys per ``IN`` list on SQLite (its default limit of variables is 32,766)


class ConcurrencyConflict(Exception):
    """Another transaction wrote first: a unique key refused this one's rows (roll back)."""


class Recorder:
    """The batch primitives with SQLAlchemy, for any database (used for SQLite)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def select_in(
        self,
        key: Column[Any],
        keys: Collection[str],
        columns: Sequence[Column[Any]],
        order_by: Sequence[Column[Any]] = (),
    ) -> list[Row]:
        """``columns`` of the rows of ``key``'s table whose ``key`` is in ``keys``.

        Ordered by ``order_by`` (the keys are read in sorted chunks, so an order starting with
        ``key`` holds across chunks).
        """
        wanted = sorted(set(keys))
        found: list[Row] = []
        for start in range(0, len(wanted), IN_CHUNK):
            rows = await self.session.execute(
                select(*columns)
                .where(key.in_(wanted[start : start + IN_CHUNK]))
                .order_by(*order_by)
            )
            found.extend(rows.all())
        return found

    async def insert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert many rows (each with the same keys); a taken unique key is a conflict."""
        if not rows:
            return
        try:
            await self.session.execute(insert(table), list(rows))
        except IntegrityError as exc:
            raise ConcurrencyConflict(f"{table.name}: {exc.orig}") from exc


class PostgresRecorder(Recorder):
    """The batch primitives on asyncpg: ``= ANY($1)`` reads and ``COPY`` writes."""

    async def select_in(
        self,
        key: Column[Any],
        keys: Collection[str],
        columns: Sequence[Column[Any]],
        order_by: Sequence[Column[Any]] = (),
    ) -> list[Row]:
        wanted = sorted(set(keys))
        if not wanted:
            return []
        raw = await self._raw()
        if raw is None:
            return await super().select_in(key, wanted, columns, order_by)
        query = _any_query(
            key.table.name,
            key.name,
            tuple(c.name for c in columns),
            tuple(c.name for c in order_by),
        )
        return list(await raw.fetch(query, wanted))

    async def insert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        raw = await self._raw()
        if raw is None:
            await super().insert(table, rows)
            return
        columns = list(rows[0])
        records = [tuple(row[c] for c in columns) for row in rows]
        try:
            await raw.copy_records_to_table(table.name, records=records, columns=columns)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise ConcurrencyConflict(f"COPY {table.name}: {exc}") from exc

    async def _raw(self) -> asyncpg.Connection | None:
        """The session's asyncpg connection inside its open transaction, or ``None``.

        SQLAlchemy begins the database transaction lazily, at its first statement; when none ran
        yet, a trivial one makes it begin, so that raw statements run in the same transaction.
        """
        connection = await self.session.connection()
        raw = (await connection.get_raw_connection()).driver_connection
        if raw is None:
            return None
        if not raw.is_in_transaction():
            await connection.exec_driver_sql("SELECT 1")
            if not raw.is_in_transaction():
                return None
        return raw


@cache
def _any_query(table: str, key: str, columns: tuple[str, ...], order_by: tuple[str, ...]) -> str:
    # Names come from the table definitions, never from input.
    query = f"SELECT {', '.join(columns)} FROM {table} WHERE {key} = ANY($1::varchar[])"  # noqa: S608
    return query + (f" ORDER BY {', '.join(order_by)}" if order_by else "")
