"""The unit of work: one transaction around a handler; the only place that commits.

``run(sessionmaker, handler)`` opens a unit of work, awaits ``handler(uow)`` and commits. When the
append trips a unique key (``ConcurrencyConflict``) the transaction is rolled back and the handler
runs again from scratch — it re-loads the stream, re-folds and re-checks its rules against the new
state, so a retry never merges blindly. Handlers that must not re-run pass ``attempts=1``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.enrollment import metrics
from services.enrollment.adapters.event_store import ConcurrencyConflict, EventStore
from services.enrollment.adapters.outbox import Outbox

log = logging.getLogger(__name__)
T = TypeVar("T")


class UnitOfWork:
    """A session, the event store and the outbox over it; commit publishes nothing by itself."""

    session: AsyncSession
    events: EventStore
    outbox: Outbox

    def __init__(self, sessionmaker: async_sessionmaker[Any]) -> None:
        self._sessionmaker = sessionmaker

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessionmaker()
        self.events = EventStore(self.session)
        self.outbox = self.events.outbox
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.session.rollback()  # a no-op after commit
        finally:
            await self.session.close()

    async def commit(self) -> None:
        try:
            await self.session.commit()
        except IntegrityError as exc:  # a deferred unique check: another writer came first
            raise ConcurrencyConflict("(at commit)", -1) from exc
        metrics.EVENTS_APPENDED.inc(self.events.appended_count)


async def run(
    sessionmaker: async_sessionmaker[Any],
    handler: Callable[[UnitOfWork], Awaitable[T]],
    *,
    attempts: int = 8,
) -> T:
    """Run ``handler`` in a unit of work and commit; re-run it on a concurrency conflict."""
    for attempt in range(1, attempts + 1):
        async with UnitOfWork(sessionmaker) as uow:
            try:
                result = await handler(uow)
                await uow.commit()
                return result
            except ConcurrencyConflict:
                if attempt == attempts:
                    raise
                log.info("concurrency conflict, retrying (attempt %d)", attempt)
            except OperationalError as exc:
                # PostgreSQL may abort a READ COMMITTED writer on deadlock; treat it as a conflict.
                if "deadlock" not in str(exc).lower() or attempt == attempts:
                    raise
    raise AssertionError("unreachable")
