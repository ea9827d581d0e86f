"""The NHSA gateway's message log: what a platform message id did that 2601 must know.

A settlement (2304) needs no row: the ledger keeps its ``msgid`` as the idempotency key. A
cancel (2305) is recorded here once posted (2601 cannot undo it), and 2601 leaves a tombstone
(``voided``) on the id it reverses, whether or not that message ever arrived, so that the
message turning up late is refused. The first row of a (hospital, msgid) stays: the table's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from services.settlement.adapters.dbutil import insert_ignore
from services.settlement.adapters.tables import nhsa_messages

CANCELLED = "cancelled"
VOIDED = "voided"

_READ_ASYNCPG = (
    "SELECT msgid, infno, outcome, setl_id FROM nhsa_messages WHERE hospital_id = $1 AND msgid = $2"
)
_READ = select(nhsa_messages).where(
    nhsa_messages.c.hospital_id == bindparam("hospital_id"),
    nhsa_messages.c.msgid == bindparam("msgid"),
)


@dataclass(frozen=True, slots=True)
class Message:
    """What a message id of a hospital did: ``cancelled`` (a 2305 posted) or ``voided``."""

    msgid: str
    infno: str
    outcome: str
    setl_id: str | None


class MessageLog:
    """The ``nhsa_messages`` table, one short transaction a call."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get(self, hospital_id: int, msgid: str) -> Message | None:
        """The outcome recorded for a message id, if any."""
        if self.engine.dialect.name == "postgresql":
            return await self._get_asyncpg(hospital_id, msgid)
        async with self.engine.connect() as conn:
            row = (await conn.execute(_READ, {"hospital_id": hospital_id, "msgid": msgid})).first()
        return None if row is None else Message(row.msgid, row.infno, row.outcome, row.setl_id)

    async def _get_asyncpg(self, hospital_id: int, msgid: str) -> Message | None:
        # Every 2304 asks this after settling: on asyncpg directly it is one prepared statement
        # and no transaction (a tenth of SQLAlchemy's BEGIN, SELECT, ROLLBACK in CPU), as the
        # ledger's settle path is (``postgres_ledger``).
        pooled = await self.engine.raw_connection()
        try:
            row = await pooled.driver_connection.fetchrow(_READ_ASYNCPG, hospital_id, msgid)
        except BaseException:
            await greenlet_spawn(pooled.invalidate)
            raise
        pooled.close()  # no await: with no transaction the pool's reset sends nothing
        return None if row is None else Message(*row)

    async def record(
        self,
        hospital_id: int,
        msgid: str,
        infno: str,
        outcome: str,
        setl_id: str | None = None,
    ) -> Message:
        """Record an outcome unless the id has one already; the outcome that stands."""
        async with self.engine.begin() as conn:
            await conn.execute(
                insert_ignore(
                    conn,
                    nhsa_messages,
                    hospital_id=hospital_id,
                    msgid=msgid,
                    infno=infno,
                    outcome=outcome,
                    setl_id=setl_id,
                    recorded_at=datetime.now(UTC),
                )
            )
            row = (await conn.execute(_READ, {"hospital_id": hospital_id, "msgid": msgid})).one()
        return Message(row.msgid, row.infno, row.outcome, row.setl_id)
