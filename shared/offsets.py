"""Noticing that the broker lost messages it had acknowledged (issue 9), for the outbox relay.

An embedded broker that keeps its log in memory (Tansu in ``make run``) and restarts, a topic
deleted and created again, an unclean leader election on real Kafka: messages the relay saw
acknowledged are gone, and the outbox rows that carried them were deleted. ``OffsetWatch`` keeps,
per partition of the watched topics, the offset after the last message the broker acknowledged
(a table of the service's, written in the relay's acknowledge transaction), and notices when the
broker's log is now shorter than that:

* at once, when an acknowledgement comes back with an offset below the stored one (the relay is
  the topic's only producer, so its offsets only grow while the log is intact);
* by a probe on every (re)connection, and every ``interval`` seconds while the outbox is idle: a
  consumer without a group fetches at each stored offset and reads the partition's high-water
  mark. A fetch, not ListOffsets: Tansu answers ListOffsets with the base offset of the last
  batch, short of the real end. A missing topic or partition counts as empty.

On a loss it logs an error naming each partition, counts it, sets the stored offsets to what the
broker has now and calls the service's ``on_loss`` in the same transaction (enrollment queues a
republish of its event store), so a crash right after cannot forget a loss it noticed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import OffsetOutOfRangeError
from prometheus_client import Counter
from sqlalchemy import Table, case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.events import utcnow

log = logging.getLogger(__name__)

Partition = tuple[str, int]
"""A topic and a partition number."""


@dataclass(frozen=True, slots=True)
class Loss:
    """A partition whose log ends before the offset the relay last saw acknowledged."""

    topic: str
    partition: int
    expected: int  # the offset after the last message acknowledged
    found: int  # where the broker's log of the partition ends now (0: empty or missing)


LossHandler = Callable[[AsyncConnection, list[Loss]], Awaitable[None]]
"""Called inside the transaction that records a loss (the service's recovery starts there)."""


class OffsetWatch:
    """The acknowledged end of each watched partition, stored, and the checks against it.

    ``table`` has the columns ``topic``, ``partition``, ``next_offset`` and ``updated_at``.
    """

    def __init__(
        self,
        table: Table,
        topics: Sequence[str],
        on_loss: LossHandler,
        losses: Counter,
        *,
        interval: float = 5.0,
        probe_timeout: float = 3.0,
    ) -> None:
        self.table = table
        self.topics = frozenset(topics)
        self.on_loss = on_loss
        self.losses = losses
        self.interval = interval
        self.probe_timeout = probe_timeout
        self.acked: dict[Partition, int] = {}
        self._checked_at = float("-inf")

    def acknowledged(self, offsets: Iterable[tuple[str, int, int]]) -> dict[Partition, range]:
        """Per watched partition, the range of offsets in (topic, partition, offset) triples."""
        spans: dict[Partition, range] = {}
        for topic, partition, offset in offsets:
            if topic not in self.topics:
                continue
            span = spans.get((topic, partition))
            low, high = (offset, offset + 1) if span is None else (span.start, span.stop)
            spans[(topic, partition)] = range(min(low, offset), max(high, offset + 1))
        return spans

    async def record(self, conn: AsyncConnection, spans: Mapping[Partition, range]) -> None:
        """Store a batch's acknowledged offsets (in the relay's acknowledge transaction).

        An offset below the stored end means the log was cut or recreated under us: a loss.
        """
        losses = [
            Loss(topic, partition, self.acked[(topic, partition)], span.start)
            for (topic, partition), span in spans.items()
            if span.start < self.acked.get((topic, partition), 0)
        ]
        if losses:
            await self._lost(conn, losses)
        await self._store(conn, {key: span.stop for key, span in spans.items()}, reset=bool(losses))

    def due(self) -> bool:
        """Whether the idle-time probe is due."""
        return time.monotonic() - self._checked_at >= self.interval

    async def check(self, engine: AsyncEngine, bootstrap: str) -> list[Loss]:
        """Load the stored ends, probe the broker's, and record any loss (one transaction)."""
        self._checked_at = time.monotonic()
        async with engine.connect() as conn:
            rows = await conn.execute(select(self.table))
            self.acked = {
                (row.topic, row.partition): int(row.next_offset)
                for row in rows
                if row.topic in self.topics
            }
        wanted = {key: offset for key, offset in self.acked.items() if offset > 0}
        if not wanted:
            return []
        found = await high_waters(bootstrap, wanted, within=self.probe_timeout)
        losses = [
            Loss(topic, partition, wanted[(topic, partition)], end)
            for (topic, partition), end in sorted(found.items())
            if end < wanted[(topic, partition)]
        ]
        if losses:
            async with engine.begin() as conn:
                await self._lost(conn, losses)
                ends = {(x.topic, x.partition): x.found for x in losses}
                await self._store(conn, ends, reset=True)
        return losses

    async def _lost(self, conn: AsyncConnection, losses: list[Loss]) -> None:
        for loss in losses:
            log.error(
                "BROKER LOST DATA: %s[%d] ends at offset %d, but offsets up to %d were"
                " acknowledged; republishing from the store",
                loss.topic,
                loss.partition,
                loss.found,
                loss.expected - 1,
            )
        self.losses.inc()
        await self.on_loss(conn, losses)

    async def _store(
        self, conn: AsyncConnection, ends: Mapping[Partition, int], *, reset: bool = False
    ) -> None:
        """Upsert the stored ends: never lowered (a second, stale relay cannot move them back)
        unless ``reset`` (a loss: the broker's log is shorter now)."""
        if not ends:
            return
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        now = utcnow()
        rows = [
            {"topic": topic, "partition": partition, "next_offset": end, "updated_at": now}
            for (topic, partition), end in ends.items()
        ]
        statement = dialect.insert(self.table)
        new, stored = statement.excluded.next_offset, self.table.c.next_offset
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=["topic", "partition"],
                set_={
                    "next_offset": new if reset else case((new > stored, new), else_=stored),
                    "updated_at": now,
                },
            ),
            rows,
        )
        self.acked.update(ends)


async def high_waters(
    bootstrap: str, wanted: Mapping[Partition, int], *, within: float = 3.0
) -> dict[Partition, int]:
    """Where the broker's log of each partition ends, fetched at the offsets in ``wanted``.

    A partition the broker does not have ends at 0; one that did not answer in time is left
    out (unknown is not lost). A broker that does not answer at all raises (``TimeoutError``,
    a Kafka error): the relay then reconnects, as for any broker error.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="none",
        fetch_max_wait_ms=100,
        request_timeout_ms=int(within * 1000) + 1000,
    )
    try:
        async with asyncio.timeout(within + 5):
            await consumer.start()
            await consumer.topics()  # a metadata refresh: which topics and partitions exist now
            found: dict[Partition, int] = {}
            present: list[TopicPartition] = []
            for topic, partition in wanted:
                if partition in (consumer.partitions_for_topic(topic) or set()):
                    present.append(TopicPartition(topic, partition))
                else:
                    found[(topic, partition)] = 0
            consumer.assign(present)
            for tp in present:
                consumer.seek(tp, wanted[(tp.topic, tp.partition)])
            found.update(await _fetch_high_waters(consumer, present, within))
            return found
    finally:
        await _close(consumer)


async def _close(consumer: AIOKafkaConsumer) -> None:
    """Stop the probe's consumer, bounded, whatever state a lost broker left it in."""
    try:
        await asyncio.wait_for(consumer.stop(), 3)
    except asyncio.CancelledError:
        # aiokafka's close awaits a fetch it cancelled; when that fetch was backing off after
        # a broken connection, its CancelledError comes out of stop(). Only ours is obeyed.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
    except Exception as exc:  # a close that failed or timed out: the probe's answer stands
        log.debug("offset probe consumer did not close cleanly: %r", exc)


async def _fetch_high_waters(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], within: float
) -> dict[Partition, int]:
    found: dict[Partition, int] = {}
    waiting = set(partitions)
    deadline = time.monotonic() + within
    while waiting and time.monotonic() < deadline:
        try:
            await consumer.getmany(*waiting, timeout_ms=200)
        except OffsetOutOfRangeError as exc:
            # Kafka's answer to a fetch past the end of the log: the log is shorter than we
            # know it was. ListOffsets gives its end (Tansu answers out of range differently).
            cut = list(exc.args[0]) if exc.args else []
            ends = await consumer.end_offsets(cut) if cut else {}
            for tp in cut:
                found[(tp.topic, tp.partition)] = int(ends.get(tp, 0))
                waiting.discard(tp)
                consumer.pause(tp)
        for tp in list(waiting):
            high = consumer.highwater(tp)
            if high is not None:
                found[(tp.topic, tp.partition)] = int(high)
                waiting.discard(tp)
    return found
