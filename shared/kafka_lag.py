"""A consumer group's lag, asked of the broker (for the consoles).

The consumers export their own lag as a Prometheus gauge, but a console runs in the API process,
which is not the consumer in production (``settlement consume`` runs apart). So the console asks
the broker: the group's committed offsets (OffsetFetch) against each partition's end
(ListOffsets). The embedded Tansu broker of ``make run`` answers ListOffsets with the start of
the last batch, so there the lag can read a little low; on Kafka it is exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

log = logging.getLogger(__name__)

TIMEOUT = 5.0  # seconds: a console page does not wait longer for a broker that is down


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """One partition: where the group stands (None: never committed) and the log's end."""

    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - (self.committed or 0))


@dataclass(frozen=True, slots=True)
class GroupLag:
    """A group's lag on a topic, or why it could not be read (``error``)."""

    topic: str
    group: str
    partitions: tuple[PartitionLag, ...] = ()
    error: str | None = None

    @property
    def total(self) -> int:
        return sum(p.lag for p in self.partitions)


async def _read(bootstrap: str, topic: str, group: str) -> GroupLag:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        await consumer.start()
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        if not partitions:
            await consumer.topics()  # refresh the metadata once: a topic seen for the first time
            partitions = sorted(consumer.partitions_for_topic(topic) or ())
        tps = [TopicPartition(topic, p) for p in partitions]
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        ends = await consumer.end_offsets(tps) if tps else {}
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
        with contextlib.suppress(Exception):
            await admin.close()
    rows = []
    for tp in tps:
        mark = committed.get(tp)
        offset = mark.offset if mark is not None and mark.offset >= 0 else None
        rows.append(PartitionLag(tp.partition, offset, int(ends.get(tp, 0))))
    return GroupLag(topic, group, tuple(rows))


async def group_lag(bootstrap: str | None, topic: str, group: str) -> GroupLag:
    """The group's lag per partition of ``topic``; never raises (the error is in the answer)."""
    if not bootstrap:
        return GroupLag(topic, group, error="no broker configured")
    try:
        return await asyncio.wait_for(_read(bootstrap, topic, group), TIMEOUT)
    except Exception as exc:  # a console shows what it can: the broker may be down
        log.info("consumer lag of %s on %s not read: %r", group, topic, exc)
        return GroupLag(topic, group, error=f"broker not reachable: {type(exc).__name__}")
