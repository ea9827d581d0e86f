"""Helpers for the tax-feed tests: produce messages, read topics from the beginning."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.kafka import make_producer


async def produce(bootstrap: str, topic: str, values: Iterable[bytes]) -> None:
    """Send values keyed like the tax bureau keys them: by certno (raw bytes when unreadable),
    so one person's messages stay in order on one partition."""
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=_key(value)) for value in values]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _key(value: bytes) -> bytes:
    try:
        return str(json.loads(value)["certno"]).encode()
    except (ValueError, KeyError, TypeError):
        return value[:32]


async def read_topic(
    bootstrap: str, topic: str, keep: Callable[[dict], bool], expect: int, timeout: float = 20
) -> list[dict]:
    """JSON records of a topic (no consumer group) that ``keep`` selects, until ``expect``
    of them arrived or the timeout passed."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # fetches metadata for every topic
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        found: list[dict] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while len(found) < expect and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    value = json.loads(record.value)
                    if keep(value):
                        found.append(value)
        return found
    finally:
        await consumer.stop()


async def wait_for(condition: Callable[[], object], timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if await condition():  # type: ignore[misc]
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.2)
