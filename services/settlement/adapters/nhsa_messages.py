"""The NHSA gateway's message log: what a platform message id did that 2601 must know.

Per (hospital, msgid), the table's key, one row: ``settled`` (a 2304 posted its settlement: the
ledger writes this row in the settlement's own statement, ``settled_message``), ``cancelled``
(a 2305 posted its reversal; 2601 cannot undo it) or ``voided`` (a 2601 reversed whatever the
message did, or left this tombstone before the message ever arrived, so that it turning up late
is refused). The key is where a settlement and a 2601 of the same message meet: whichever writes
second waits for the first to commit and then finds its row. A ``settled`` row becomes
``voided`` when a 2601 undoes it (``void``); no other row ever changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.settlement.adapters.dbutil import insert_ignore
from services.settlement.adapters.ledger import Entry
from services.settlement.adapters.tables import nhsa_messages

SETTLED = "settled"
CANCELLED = "cancelled"
VOIDED = "voided"
SETTLE = "2304"
CANCEL = "2305"

_READ = select(nhsa_messages).where(
    nhsa_messages.c.hospital_id == bindparam("hospital_id"),
    nhsa_messages.c.msgid == bindparam("msgid"),
)


@dataclass(frozen=True, slots=True)
class Message:
    """What a message id of a hospital did: ``settled``, ``cancelled`` or ``voided``."""

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
        async with self.engine.connect() as conn:
            row = (await conn.execute(_READ, {"hospital_id": hospital_id, "msgid": msgid})).first()
        return None if row is None else Message(row.msgid, row.infno, row.outcome, row.setl_id)

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

    async def void(self, hospital_id: int, msgid: str) -> None:
        """A ``settled`` message voided by 2601 (its settlement is reversed next); a row of any
        other outcome stays as it is."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(nhsa_messages)
                .where(
                    nhsa_messages.c.hospital_id == hospital_id,
                    nhsa_messages.c.msgid == msgid,
                    nhsa_messages.c.outcome == SETTLED,
                )
                .values(outcome=VOIDED, recorded_at=datetime.now(UTC))
            )


def settled_message(entry: Entry, msgid: str) -> Any:
    """The log's row of a 2304 that posted ``entry``, as an INSERT the ledger runs in the
    settlement's own transaction (a taken key refuses the whole posting)."""
    return insert(nhsa_messages).values(
        hospital_id=entry.hospital_id,
        msgid=msgid,
        infno=SETTLE,
        outcome=SETTLED,
        setl_id=entry.setl_id,
        recorded_at=entry.created_at,
    )
