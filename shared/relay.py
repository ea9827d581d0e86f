"""The outbox relay: publishes every committed outbox row to Kafka, at least once, in order.

One relay serves any service's outbox table (``shared.outbox``): the table, the metrics, the
advisory lock key and, optionally, a position table are given to it. Each round reads the oldest
outbox rows (``id`` order) that are *visible*, i.e. committed, sends them with one producer,
awaits every acknowledgement, and only then deletes them (and advances the position row, if the
service keeps one) in one transaction.

* **No skipping.** The relay does not remember "I am past id N": it publishes whatever rows are
  still there. A transaction that took a lower id but committed after a higher one (the
  PostgreSQL sequence pitfall) leaves its row behind, and the next round publishes it.
* **Order per key.** A writer's next message for a key can only be queued after its previous one
  committed, so it has a higher id; rows are sent in id order through one producer and a batch
  is acknowledged as a whole before the next is read.
* **Crash or broker loss.** Rows are deleted only after the broker acknowledged them; a crash in
  between republishes them on restart (consumers dedupe). Broker errors are logged, counted and
  retried with a back-off, with a fresh producer.
* **One relay at a time.** On PostgreSQL the relay holds a session advisory lock; SQLite
  serialises writers, and a second relay would only publish duplicates, never lose rows.
* **A broker that lost what it acknowledged.** With a ``watch`` (``shared.offsets``) the relay
  stores the acknowledged end of each partition of the watched topics and notices when the
  broker's log falls short of it (on connecting, on every acknowledgement, and every few
  seconds while idle); the service's handler then queues a republish. ``refill`` is how such a
  republish reaches the outbox: called whenever the outbox runs short of a batch, it queues the
  next rows and says how many, so the outbox stays small and live rows are never held back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge
from sqlalchemy import Table, case, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from shared.events import utcnow
from shared.kafka import ensure_topics, make_producer
from shared.offsets import OffsetWatch, Partition

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RelayMetrics:
    """The service's own Prometheus series the relay feeds."""

    published: Counter  # messages acknowledged by the broker
    lag_messages: Gauge  # committed, not yet published
    lag_seconds: Gauge  # age of the oldest unpublished message
    errors: Counter  # broker or database errors seen


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One outbox row, as the relay sends it."""

    id: int
    topic: str
    key: bytes | None
    value: bytes | None  # None: a record without a value (a dead letter may be one)
    headers: list[tuple[str, bytes]]
    event_position: int | None
    created_at: datetime


class OutboxRelay:
    """Drain an outbox table into Kafka; ``run()`` until cancelled or ``stop()`` is called."""

    def __init__(
        self,
        engine: AsyncEngine,
        bootstrap: str,
        *,
        outbox: Table,
        metrics: RelayMetrics,
        lock_key: int,
        topics: Sequence[str],
        position: Table | None = None,
        name: str = "outbox",
        batch_size: int = 500,
        poll_interval: float = 0.05,
        retry_backoff: float = 1.0,
        producer_factory: Callable[[str], AIOKafkaProducer] | None = None,
        after_publish: Callable[[list[OutboxMessage]], Awaitable[None]] | None = None,
        watch: OffsetWatch | None = None,
        refill: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.engine = engine
        self.bootstrap = bootstrap
        self.outbox = outbox
        self.metrics = metrics
        self.lock_key = lock_key  # one constant per service: its relays exclude each other
        self.position = position
        self.name = name
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
        self.watch = watch
        self.refill = refill
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
                    if self.watch is not None:  # before publishing: a new log must not hide it
                        await self.watch.check(self.engine, self.bootstrap)
                    self.connected, self.last_error = True, None
                    log.info("relay connected to %s", self.bootstrap)
                    await self._pump(producer)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.connected, self.last_error = False, f"{type(exc).__name__}: {exc}"
                    self.metrics.errors.inc()
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
            if published >= self.batch_size:
                continue
            if self.watch is not None and self.watch.due():
                if await self.watch.check(self.engine, self.bootstrap):
                    return  # reconnect: topics re-created as configured, a producer's metadata
            if self.refill is None or not await self.refill():
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
            await producer.send(m.topic, value=m.value, key=m.key, headers=m.headers or None)
            for m in batch
        ]
        acks = await asyncio.gather(*futures)
        if self.after_publish is not None:
            await self.after_publish(batch)
        spans = None
        if self.watch is not None:
            spans = self.watch.acknowledged((m.topic, m.partition, m.offset) for m in acks)
        await self.acknowledge(batch, spans)
        self.metrics.published.inc(len(batch))
        return len(batch)

    async def pending(self) -> list[OutboxMessage]:
        """The oldest committed outbox rows, in id order (and the lag gauges, same snapshot)."""
        table = self.outbox
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(table).order_by(table.c.id).limit(self.batch_size))
            batch = [_message(row._mapping) for row in rows]
            if len(batch) < self.batch_size:
                count, oldest = len(batch), min((m.created_at for m in batch), default=None)
            else:
                count, oldest = (
                    await conn.execute(select(func.count(), func.min(table.c.created_at)))
                ).one()
        self._set_lag(count, oldest)
        return batch

    async def acknowledge(
        self, batch: list[OutboxMessage], spans: dict[Partition, range] | None = None
    ) -> None:
        """Delete published rows, advance the stored position and the acknowledged offsets
        (``spans``: per watched partition, the offsets the broker gave the batch), in one
        transaction."""
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(self.outbox).where(self.outbox.c.id.in_([m.id for m in batch]))
            )
            if self.position is not None:
                await self._advance(conn, self.position, batch)
            if self.watch is not None and spans:
                await self.watch.record(conn, spans)

    async def _advance(
        self, conn: AsyncConnection, position: Table, batch: list[OutboxMessage]
    ) -> None:
        last_position = max((m.event_position or 0 for m in batch), default=0)
        values = {
            "name": self.name,
            "last_event_position": 0,
            "last_outbox_id": 0,
            "published_count": 0,
        }
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        await conn.execute(dialect.insert(position).values(**values).on_conflict_do_nothing())
        await conn.execute(
            update(position)
            .where(position.c.name == self.name)
            .values(
                # one UPDATE, no read-then-write: rows may be acknowledged out of position order
                last_event_position=case(
                    (position.c.last_event_position < last_position, last_position),
                    else_=position.c.last_event_position,
                ),
                last_outbox_id=batch[-1].id,
                published_count=position.c.published_count + len(batch),
                published_at=utcnow(),
            )
        )

    def _set_lag(self, count: int, oldest: datetime | str | None) -> None:
        self.metrics.lag_messages.set(count)
        if oldest is None:
            self.metrics.lag_seconds.set(0)
            return
        if isinstance(oldest, str):  # SQLite may hand back an aggregate as text
            oldest = datetime.fromisoformat(oldest)
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        self.metrics.lag_seconds.set(max(0.0, (utcnow() - oldest).total_seconds()))

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
                text("SELECT pg_try_advisory_lock(:k)"), {"k": self.lock_key}
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
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.lock_key})


def _message(row: Any) -> OutboxMessage:
    raw_headers = row.get("headers")
    return OutboxMessage(
        id=row["id"],
        topic=row["topic"],
        key=_bytes(row["key"]),
        value=_bytes(row["value"]),
        headers=[(name, value.encode()) for name, value in json.loads(raw_headers or "[]")],
        event_position=row.get("event_position"),
        created_at=row["created_at"],
    )


def _bytes(data: str | bytes | None) -> bytes | None:
    if data is None or isinstance(data, bytes):
        return data
    return data.encode()


async def relay_status(
    executor: AsyncSession | AsyncConnection, outbox: Table, position: Table, name: str
) -> dict[str, Any]:
    """The stored relay position and the outbox backlog (for /healthz and the CLI)."""
    pos = (await executor.execute(select(position).where(position.c.name == name))).one_or_none()
    backlog = await executor.scalar(select(func.count()).select_from(outbox))
    return {
        "last_event_position": pos.last_event_position if pos else 0,
        "published_count": pos.published_count if pos else 0,
        "published_at": pos.published_at.isoformat() if pos and pos.published_at else None,
        "backlog": int(backlog or 0),
    }
