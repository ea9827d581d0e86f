"""The transactional outbox: messages written in the same transaction as the state they announce.

Any module may queue a message for any topic (``Outbox(session).add(topic, key, value)``); the
relay (``relay.py``) publishes rows in id order and deletes them once the broker acknowledged
them. Nothing here commits: the unit of work does.
"""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.tables import outbox
from shared.events import utcnow


class Outbox:
    """Queue messages for the relay inside the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        topic: str,
        key: str | None,
        value: bytes | str,
        *,
        event_position: int | None = None,
    ) -> None:
        """Queue one message; ``value`` is UTF-8 text (bytes are decoded)."""
        text = value.decode() if isinstance(value, bytes) else value
        await self.session.execute(
            insert(outbox).values(
                topic=topic,
                key=key,
                value=text,
                event_position=event_position,
                created_at=utcnow(),
            )
        )
