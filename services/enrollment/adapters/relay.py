"""Enrollment's outbox relay: ``shared.relay.OutboxRelay`` on enrollment's tables and metrics.

It publishes ``enrollment.events`` (and any other topic queued in the outbox) at least once, in
order per person, deleting published rows and advancing the ``relay_position`` row; on
PostgreSQL one relay at a time holds the advisory lock. See ``shared.relay`` for how.

It also watches the event topic's acknowledged offsets (``relay_offsets``, ``shared.offsets``):
when the broker lost messages it had acknowledged, it opens a republish job over the whole
event store (``republish.py``), and it feeds open jobs into the outbox whenever the outbox runs
short of a batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker

from services.enrollment import metrics
from services.enrollment.adapters import republish
from services.enrollment.adapters.recovery_tables import relay_offsets
from services.enrollment.adapters.tables import outbox, relay_position
from shared import relay as shared_relay
from shared.events import TOPIC_ENROLLMENT_EVENTS
from shared.offsets import Loss, LossHandler, OffsetWatch
from shared.relay import OutboxMessage

__all__ = ["ADVISORY_LOCK_KEY", "RELAY_NAME", "OutboxMessage", "OutboxRelay", "relay_status"]

RELAY_NAME = "outbox"
OFFSET_CHECK_SECONDS = 5.0  # how often an idle relay asks the broker whether its log is whole
JOB_CHECK_SECONDS = 5.0  # how often an idle relay looks for a republish job opened elsewhere
ADVISORY_LOCK_KEY = 7_114_201  # any constant shared by every enrollment relay
METRICS = shared_relay.RelayMetrics(
    published=metrics.EVENTS_PUBLISHED,
    lag_messages=metrics.RELAY_LAG_MESSAGES,
    lag_seconds=metrics.RELAY_LAG_SECONDS,
    errors=metrics.RELAY_ERRORS,
)


class OutboxRelay(shared_relay.OutboxRelay):
    """Drain enrollment's outbox into Kafka; ``run()`` until cancelled or ``stop()`` is called."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[Any],
        bootstrap: str,
        *,
        topics: Sequence[str] = (TOPIC_ENROLLMENT_EVENTS,),
        offset_check_interval: float = OFFSET_CHECK_SECONDS,
        **options: Any,
    ) -> None:
        # The sessionmaker stays in the signature for the callers; the relay uses the engine.
        self.sessionmaker = sessionmaker
        events_topic = topics[0]  # the event store's topic (tests name their own)
        refill = Refill(engine, options.get("batch_size", 500))
        watch = OffsetWatch(
            relay_offsets,
            [events_topic],
            refill.after(republish.on_broker_loss(events_topic)),
            metrics.BROKER_LOSSES,
            interval=offset_check_interval,
        )
        super().__init__(
            engine,
            bootstrap,
            outbox=outbox,
            position=relay_position,
            metrics=METRICS,
            lock_key=ADVISORY_LOCK_KEY,
            name=RELAY_NAME,
            topics=topics,
            watch=watch,
            refill=refill,
            **options,
        )


class Refill:
    """Feeds open republish jobs into the outbox, a batch per call (``republish.step``).

    With no job open it looks again only every few seconds (a job ``enrollment republish``
    opened in another process waits that long), so an idle relay does not lock the job table at
    every poll; a loss this relay noticed wakes it at once.
    """

    def __init__(self, engine: AsyncEngine, batch_size: int) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self._quiet_until = 0.0

    async def __call__(self) -> int:
        if time.monotonic() < self._quiet_until:
            return 0
        queued = await republish.step(self.engine, self.batch_size)
        if not queued:
            self._quiet_until = time.monotonic() + JOB_CHECK_SECONDS
        return queued

    def after(self, handler: LossHandler) -> LossHandler:
        """``handler``, then a wake-up."""

        async def handle(conn: AsyncConnection, losses: list[Loss]) -> None:
            await handler(conn, losses)
            self._quiet_until = 0.0

        return handle


async def relay_status(sessionmaker: async_sessionmaker[Any]) -> dict[str, Any]:
    """The stored relay position and the outbox backlog (for /healthz and the CLI)."""
    async with sessionmaker() as session:
        return await shared_relay.relay_status(session, outbox, relay_position, RELAY_NAME)
