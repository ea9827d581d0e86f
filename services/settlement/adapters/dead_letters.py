"""Poison messages of enrollment.events: the ``dead_letters`` ops list and the DLQ topic.

A dead letter is recorded once per position (topic, partition, offset); the first time, its
message for ``<topic>.dlq`` is queued in the outbox in the same transaction, and the relay
publishes it. A crash before the relay ran loses nothing; a redelivery adds nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from services.settlement.adapters.dbutil import insert_ignore
from services.settlement.adapters.tables import dead_letters, outbox
from shared.events import dlq
from shared.outbox import Outbox

ERROR_HEADER_LIMIT = 500  # characters of the error carried in the DLQ record's header


async def record(
    conn: AsyncConnection,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    error: str,
) -> bool:
    """List a poison message (inside the caller's transaction); False if it already was."""
    result = await conn.execute(
        insert_ignore(
            conn,
            dead_letters,
            topic=topic,
            partition=partition,
            offset=offset,
            key=key.decode(errors="replace") if key else None,
            value=value.decode(errors="replace") if value else None,
            error=error,
            received_at=datetime.now(UTC),
        )
    )
    return bool(result.rowcount)


async def dead_letter(
    conn: AsyncConnection,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    error: str,
) -> None:
    """List a poison message and, the first time, queue it for ``<topic>.dlq`` as it came, with
    the error and its source position as headers."""
    first = await record(
        conn, topic=topic, partition=partition, offset=offset, key=key, value=value, error=error
    )
    if first:
        await Outbox(conn, outbox).add(
            dlq(topic),
            key,
            value,
            headers=[
                ("error", error[:ERROR_HEADER_LIMIT]),
                ("source", f"{topic}/{partition}/{offset}"),
            ],
        )
