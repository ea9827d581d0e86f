"""The outbox relay: publishes every committed outbox row to Kafka, at least once, in order.

Each round reads the oldest outbox rows (``id`` order) that are *visible*, i.e. committed, sends
them with one producer, awaits every acknowledgement, and only then deletes them and advances the
``relay_position`` row (position, count, time) in one transaction.

* **No skipping.** The relay does not remember "I am past id N": it publishes whatever rows are
  still there. A transaction that took a lower id but committed after a higher one (the
  PostgreSQL sequence pitfall) leaves its row behind, and the next round publishes it.
* **Per-person order.** A person's next event can only be appended after the previous one
  committed (unique stream version), so it always has a higher outbox id; rows are sent in id
  order through one producer and a batch is acknowledged as a whole before the next is read.
* **Crash or broker loss.** Rows are deleted only after the broker acknowledged them; a crash in
  between republishes them on restart (consumers dedupe on ``event_id`` / stream version).
  Broker errors are logged, counted and retried with a back-off, with a fresh producer.
* **One relay at a time.** On PostgreSQL the relay holds a session advisory lock; SQLite
  serialises writers, and a second relay would only publish duplicates, never lose rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import case, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from services.enrollment import metrics
from services.enrollment.adapters.tables import outbox, relay_position
from shared.events import TOPIC_ENROLLMENT_EVENTS, utcnow
from shared.kafka import ensure_topics, make_producer

log = logging.getLogger(__name__)

RELAY_NAME = "outbox"
ADVISORY_LOCK_KEY = 7_114_201  # any constant shared by every enrollment relay


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    topic: str
    key: str | None
    value: str
    event_position: int | None
    created_at: datetime


class OutboxRelay:
    """Drain the outbox into Kafka; ``run()`` until cancelled or ``stop()`` is called."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[Any],
        bootstrap: str,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.05,
        retry_backoff: float = 1.0,
        topics: Sequence[str] = (TOPIC_ENROLLMENT_EVENTS,),
        producer_factory: Callable[[str], AIOKafkaProducer] | None = None,
        after_publish: Callable[[list[OutboxMessage]], Awaitable[None]] | None = None,
    ) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker
        self.bootstrap = bootstrap
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retry_backoff = retry_backoff
        self.topics = list(topics)
        # A short request timeout makes a lost broker surface as an error here (and the relay
        # reconnect and re-create its topics) instead of hiding in the producer's own retries.
        self.producer_factory = producer_factory or (
            lambda bootstrap: make_producer(bootstrap, request_timeout_ms=3000)
        )
        # A test hook between "acknowledged" and "deleted" (where a crash must lose nothing).
        self.after_publish = after_publish
        self._stopping = asyncio.Event()
        self.connected = False
        self.last_error: str | None = None

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Hold the relay lock, then publish until stopped; survives broker outages."""
        async with self._exclusive():
            while not self._stopping.is_set():
                producer: AIOKafkaProducer | None = None
                try:
                    await ensure_topics(self.bootstrap, self.topics, wait=self.retry_backoff)
                    producer = self.producer_factory(self.bootstrap)
                    await producer.start()
                    self.connected, self.last_error = True, None
                    log.info("relay connected to %s", self.bootstrap)
                    await self._pump(producer)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.connected, self.last_error = False, f"{type(exc).__name__}: {exc}"
                    metrics.RELAY_ERRORS.inc()
                    log.warning("relay error, retrying in %.1fs: %s", self.retry_backoff, exc)
                    await self._sleep(self.retry_backoff)
                finally:
                    self.connected = False
                    if producer is not None:
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(producer.stop(), 5)

    async def _pump(self, producer: AIOKafkaProducer) -> None:
        while not self._stopping.is_set():
            published = await self.publish_once(producer)
            if published < self.batch_size:
                await self._sleep(self.poll_interval)

    async def publish_once(self, producer: AIOKafkaProducer) -> int:
        """One round: read a batch, publish it, await acks, delete it. Returns the batch size."""
        batch = await self.pending()
        if not batch:
            return 0
        for topic in {m.topic for m in batch} - set(self.topics):
            await ensure_topics(self.bootstrap, [topic])
            self.topics.append(topic)
        futures = [
            await producer.send(
                m.topic, value=m.value.encode(), key=m.key.encode() if m.key else None
            )
            for m in batch
        ]
        await asyncio.gather(*futures)
        if self.after_publish is not None:
            await self.after_publish(batch)
        await self.acknowledge(batch)
        metrics.EVENTS_PUBLISHED.inc(len(batch))
        return len(batch)

    async def pending(self) -> list[OutboxMessage]:
        """The oldest committed outbox rows, in id order (and the lag gauges, same snapshot)."""
        async with self.sessionmaker() as session:
            rows = await session.execute(
                select(outbox).order_by(outbox.c.id).limit(self.batch_size)
            )
            batch = [
                OutboxMessage(r.id, r.topic, r.key, r.value, r.event_position, r.created_at)
                for r in rows
            ]
            if len(batch) < self.batch_size:
                count, oldest = len(batch), min((r.created_at for r in batch), default=None)
            else:
                count, oldest = (
                    await session.execute(select(func.count(), func.min(outbox.c.created_at)))
                ).one()
        self._set_lag(count, oldest)
        return batch

    async def acknowledge(self, batch: list[OutboxMessage]) -> None:
        """Delete published rows and advance the stored position, in one transaction."""
        last_position = max((m.event_position or 0 for m in batch), default=0)
        async with self.sessionmaker() as session, session.begin():
            await session.execute(delete(outbox).where(outbox.c.id.in_([m.id for m in batch])))
            await self._upsert_position(session)
            await session.execute(
                update(relay_position)
                .where(relay_position.c.name == RELAY_NAME)
                .values(
                    # one UPDATE, no read-then-write: rows may be acknowledged out of position order
                    last_event_position=case(
                        (relay_position.c.last_event_position < last_position, last_position),
                        else_=relay_position.c.last_event_position,
                    ),
                    last_outbox_id=batch[-1].id,
                    published_count=relay_position.c.published_count + len(batch),
                    published_at=utcnow(),
                )
            )

    async def _upsert_position(self, session: Any) -> None:
        values = {
            "name": RELAY_NAME,
            "last_event_position": 0,
            "last_outbox_id": 0,
            "published_count": 0,
        }
        dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
        await session.execute(
            dialect.insert(relay_position).values(**values).on_conflict_do_nothing()
        )

    @staticmethod
    def _set_lag(count: int, oldest: datetime | str | None) -> None:
        metrics.RELAY_LAG_MESSAGES.set(count)
        if oldest is None:
            metrics.RELAY_LAG_SECONDS.set(0)
            return
        if isinstance(oldest, str):  # SQLite may hand back an aggregate as text
            oldest = datetime.fromisoformat(oldest)
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        metrics.RELAY_LAG_SECONDS.set(max(0.0, (utcnow() - oldest).total_seconds()))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    @contextlib.asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        """Hold PostgreSQL's session advisory lock for the relay's lifetime (no-op on SQLite).

        The lock goes with the connection, so a relay that dies frees it for the next one.
        """
        if self.engine.dialect.name != "postgresql":
            yield
            return
        async with self.engine.connect() as conn:
            while not await conn.scalar(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}
            ):
                await conn.commit()
                if self._stopping.is_set():
                    yield  # stopped before getting the lock: run() sees the stop and returns
                    return
                log.info("another relay holds the lock; waiting")
                await self._sleep(max(self.poll_interval, 1.0))
            await conn.commit()
            try:
                yield
            finally:
                with contextlib.suppress(Exception):
                    await conn.execute(
                        text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY}
                    )


async def relay_status(sessionmaker: async_sessionmaker[Any]) -> dict[str, Any]:
    """The stored relay position and the outbox backlog (for /healthz and the CLI)."""
    async with sessionmaker() as session:
        pos = (
            await session.execute(select(relay_position).where(relay_position.c.name == RELAY_NAME))
        ).one_or_none()
        backlog = await session.scalar(select(func.count()).select_from(outbox))
    return {
        "last_event_position": pos.last_event_position if pos else 0,
        "published_count": pos.published_count if pos else 0,
        "published_at": pos.published_at.isoformat() if pos and pos.published_at else None,
        "backlog": int(backlog or 0),
    }
