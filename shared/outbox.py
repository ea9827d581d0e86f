"""The transactional outbox: messages written in the same transaction as the state they announce.

A service keeps an outbox table (``id``, ``topic``, ``key``, ``value``, ``created_at``, and
optionally ``headers`` as JSON text or columns of its own); ``Outbox(conn, table).add(...)``
queues a message inside the caller's transaction, and the relay (``shared.relay``) publishes
the committed rows in id order and deletes them once the broker acknowledged them. Nothing here
commits: the caller's unit of work does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import LargeBinary, Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.events import utcnow

Header = tuple[str, str]
"""A Kafka record header as the outbox keeps it: a name and a text value."""


class Outbox:
    """Queue messages for the relay inside the caller's transaction."""

    def __init__(self, executor: AsyncSession | AsyncConnection, table: Table) -> None:
        self.executor = executor
        self.table = table
        # A binary column keeps the bytes as given (a dead letter may not be UTF-8); a text
        # column keeps UTF-8 text.
        self._binary = isinstance(table.c.value.type, LargeBinary)

    async def add(
        self,
        topic: str,
        key: str | bytes | None,
        value: bytes | str | None,
        *,
        headers: Sequence[Header] = (),
        **columns: Any,
    ) -> None:
        """Queue one message; ``columns`` fills the table's own extra columns."""
        row: dict[str, Any] = {
            "topic": topic,
            "key": self._stored(key),
            "value": self._stored(value),
            "created_at": utcnow(),
            **columns,
        }
        if headers:
            row["headers"] = json.dumps([list(h) for h in headers], ensure_ascii=False)
        await self.executor.execute(insert(self.table).values(**row))

    def _stored(self, data: str | bytes | None) -> str | bytes | None:
        if data is None:
            return None
        if self._binary:
            return data.encode() if isinstance(data, str) else data
        return data.decode() if isinstance(data, bytes) else data
