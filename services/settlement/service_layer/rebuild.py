"""`settlement rebuild`: drop the coverage projection and fold it again from the topic.

The whole rebuild is one transaction: hospitals keep settling against the old projection until
the new one commits. Stop the `consume` processes first (or `serve --no-consumer`); afterwards
they resume from their committed offsets, and the tracking records make re-delivery harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.settlement.adapters import coverage_store, dead_letters
from shared.events import Event

log = logging.getLogger(__name__)


async def topic_messages(bootstrap: str, topic: str) -> AsyncIterator[tuple[int, int, bytes]]:
    """Every message now in ``topic``, partition by partition, from the beginning to the end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        await consumer.topics()
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        tps = [TopicPartition(topic, p) for p in partitions]
        if not tps:
            return
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, messages in batches.items():
                for msg in messages:
                    if msg.offset < ends[tp]:
                        yield msg.partition, msg.offset, msg.value
                if messages and messages[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()


async def _file_messages(path: Path) -> AsyncIterator[tuple[int, int, bytes]]:
    content = await asyncio.to_thread(path.read_bytes)
    for number, line in enumerate(content.splitlines()):
        if line.strip():
            yield 0, number, line


async def rebuild(
    engine: AsyncEngine,
    *,
    bootstrap: str | None = None,
    topic: str,
    replay_file: Path | None = None,
) -> dict[str, int]:
    """Replace the projection by a fold of the topic (or a JSON-lines replay file)."""
    source = _file_messages(replay_file) if replay_file else topic_messages(bootstrap or "", topic)
    counts = {"applied": 0, "duplicate": 0, "parked": 0, "dead_lettered": 0}
    poison: list[tuple[int, int, bytes, str]] = []
    async with engine.begin() as conn:
        await coverage_store.clear(conn)
        async for partition, offset, value in source:
            try:
                event = Event.from_json(value)
                outcome = await coverage_store.apply(conn, event)
            except (ValueError, TypeError, KeyError) as exc:
                poison.append((partition, offset, value, str(exc)))
                counts["dead_lettered"] += 1
                continue
            counts[str(outcome)] += 1
        await _record_poison(conn, topic, poison)
    log.info("rebuilt the coverage projection: %s", counts)
    return counts


async def _record_poison(
    conn: AsyncConnection, topic: str, poison: Iterable[tuple[int, int, bytes, str]]
) -> None:
    # Listed only: the consumer queued each for the DLQ topic when it first met it.
    for partition, offset, value, error in poison:
        await dead_letters.record(
            conn,
            topic=topic,
            partition=partition,
            offset=offset,
            key=None,
            value=value,
            error=error,
        )
