"""Enrollment's transactional outbox: ``shared.outbox.Outbox`` on enrollment's ``outbox`` table.

Any module may queue a message for any topic (``Outbox(session).add(topic, key, value)``); the
relay (``relay.py``) publishes rows in id order and deletes them once the broker acknowledged
them. Nothing here commits: the unit of work does.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.tables import outbox
from shared import outbox as shared_outbox


class Outbox(shared_outbox.Outbox):
    """Queue messages for the relay inside the caller's transaction (``event_position`` too)."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session, outbox)
