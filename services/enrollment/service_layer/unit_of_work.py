"""The unit of work: one transaction around a handler; the only place that commits.

``run(uow, handler)`` opens a unit of work (``uow`` is the factory ``bootstrap`` made), awaits
``handler(uow)`` and commits. When a write trips a unique key (``ConcurrencyConflict``) the
transaction is rolled back and the handler runs again from scratch — it re-loads the streams,
re-folds and re-checks its rules against the new state, so a retry never merges blindly. Handlers
that must not re-run pass ``attempts=1``.

Inside, ``uow.events`` is the event store, ``uow.payments`` the tax feed's tables,
``uow.outbox`` the outbox, ``uow.registrations`` the registrations read by a caller's scope and
``uow.audit`` the audit log (a write's audit row commits with it), ``uow.special`` the special
persons' cycle's rows (carry-over, assistance lists, flags, subsidies), all over one session and
the ``Recorder`` chosen at start.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.enrollment import metrics
from services.enrollment.adapters.audit_log import AuditLog
from services.enrollment.adapters.event_store import EventStore
from services.enrollment.adapters.outbox import Outbox
from services.enrollment.adapters.payment_records import PaymentRecords
from services.enrollment.adapters.recorders import ConcurrencyConflict, Recorder
from services.enrollment.adapters.registrations import Registrations
from services.enrollment.adapters.special_records import SpecialRecords
from shared.events import TOPIC_ENROLLMENT_EVENTS

log = logging.getLogger(__name__)
T = TypeVar("T")


class UnitOfWork:
    """A session and the stores over it; commit publishes nothing by itself (the relay does)."""

    session: AsyncSession
    events: EventStore
    payments: PaymentRecords
    outbox: Outbox
    registrations: Registrations
    audit: AuditLog
    special: SpecialRecords

    def __init__(
        self,
        sessionmaker: async_sessionmaker[Any],
        recorder: type[Recorder],
        *,
        topic: str = TOPIC_ENROLLMENT_EVENTS,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._recorder = recorder
        self._topic = topic

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessionmaker()
        recorder = self._recorder(self.session)
        self.events = EventStore(recorder, topic=self._topic)
        self.payments = PaymentRecords(recorder)
        self.outbox = Outbox(self.session)
        self.registrations = Registrations(recorder)
        self.audit = AuditLog(self.session)
        self.special = SpecialRecords(recorder)
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
        """Commit the transaction; count the events it appended."""
        try:
            await self.session.commit()
        except IntegrityError as exc:  # a deferred unique check: another writer came first
            raise ConcurrencyConflict("(at commit)") from exc
        metrics.EVENTS_APPENDED.inc(self.events.appended_count)
        self.events.appended_count = 0


UnitOfWorkFactory = Callable[[], UnitOfWork]
"""What the service layer is given: a fresh ``UnitOfWork`` per call (see ``bootstrap``)."""


async def run(
    uow: UnitOfWorkFactory,
    handler: Callable[[UnitOfWork], Awaitable[T]],
    *,
    attempts: int = 8,
) -> T:
    """Run ``handler`` in a unit of work and commit; re-run it on a concurrency conflict."""
    for attempt in range(1, attempts + 1):
        async with uow() as work:
            try:
                result = await handler(work)
                await work.commit()
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
