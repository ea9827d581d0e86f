"""Kafka plumbing shared by both services (aiokafka), tuned for brokers without idempotence."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)


def make_producer(bootstrap: str, **kwargs: Any) -> AIOKafkaProducer:
    """acks=all; no idempotence (Tansu lacks it) — consumers are idempotent instead."""
    kwargs.setdefault("acks", "all")
    kwargs.setdefault("enable_idempotence", False)
    kwargs.setdefault("linger_ms", 5)
    kwargs.setdefault("request_timeout_ms", 10_000)
    return AIOKafkaProducer(bootstrap_servers=bootstrap, **kwargs)


def make_consumer(bootstrap: str, *topics: str, group_id: str, **kwargs: Any) -> AIOKafkaConsumer:
    """Manual commits (after the database commit), earliest offset for a new group."""
    kwargs.setdefault("enable_auto_commit", False)
    kwargs.setdefault("auto_offset_reset", "earliest")
    return AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=group_id, **kwargs)


async def rewind_shrunk(
    consumer: AIOKafkaConsumer, consumed: dict[TopicPartition, int]
) -> list[TopicPartition]:
    """Read again from the beginning each assigned partition whose log now ends before the offset
    the consumer got to; returns those partitions.

    ``consumed`` is, per partition, the offset after the last message handled; the partitions
    rewound leave it. Kafka answers a fetch past a log's end with OffsetOutOfRange, which
    ``auto_offset_reset`` handles; Tansu answers with no records and the new, lower high-water
    mark. So a consumer whose topic was deleted and created again (or whose broker lost its log
    while its group survived) would wait at its old offset and, once the new log grew past it,
    skip the new log's start for good. A high-water mark below what was consumed can only be a
    new log; the consumers here are idempotent, so what they already applied is dropped.
    """
    shrunk = []
    for tp in consumer.assignment():
        high, done = consumer.highwater(tp), consumed.get(tp)
        if high is not None and done is not None and high < done:
            log.warning(
                "%s[%d] now ends at offset %d, before the %d consumed: a new log; reading it"
                " again from the beginning",
                tp.topic,
                tp.partition,
                high,
                done,
            )
            shrunk.append(tp)
            del consumed[tp]
    if shrunk:
        await consumer.seek_to_beginning(*shrunk)
    return shrunk


async def ensure_topics(
    bootstrap: str, topics: list[str], partitions: int = 3, wait: float = 20.0
) -> None:
    """Create topics that do not exist yet (idempotent); retries while the broker starts."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in topics if t not in existing]
            if missing:
                try:
                    await admin.create_topics(
                        [
                            NewTopic(t, num_partitions=partitions, replication_factor=1)
                            for t in missing
                        ]
                    )
                except TopicAlreadyExistsError:
                    pass
            return
        except Exception as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.info("waiting for Kafka at %s: %s", bootstrap, exc)
            await asyncio.sleep(0.5)
        finally:
            await admin.close()
