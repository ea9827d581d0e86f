"""The consumer of ``enrollment.events`` (group ``settlement``) feeding the coverage projection.

At-least-once delivery, made exactly-once in effect: each event is applied in its own database
transaction with its tracking record (coverage_store), and offsets are committed only after the
database commit. A message that cannot be decoded or applied becomes a ``dead_letters`` row and,
in the same transaction, an outbox row for ``enrollment.events.dlq`` (``adapters.dead_letters``),
and the consumer goes on; the outbox relay running beside the consumer publishes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.settlement import metrics
from services.settlement.adapters import coverage_store, dead_letters
from services.settlement.adapters.tables import outbox
from shared.events import Event, dlq
from shared.kafka import ensure_topics, make_consumer, rewind_shrunk
from shared.relay import OutboxRelay

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 7_114_202  # any constant shared by every settlement relay
# Dead letters are rare and nobody waits on them: a slow poll keeps the relay's reads (a write
# lock each on SQLite) out of the settlements' way.
RELAY_POLL_SECONDS = 0.5


def dead_letter_relay(engine: AsyncEngine, bootstrap: str, topic: str) -> OutboxRelay:
    """The relay publishing the outbox (the dead letters of ``topic``) to ``<topic>.dlq``."""
    return OutboxRelay(
        engine,
        bootstrap,
        outbox=outbox,
        metrics=metrics.RELAY,
        lock_key=ADVISORY_LOCK_KEY,
        topics=[dlq(topic)],
        poll_interval=RELAY_POLL_SECONDS,
    )


class EventSink:
    """Applies decoded messages to the projection and dead-letters the poison ones."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def handle(self, msg: ConsumerRecord) -> str:
        """Process one message; returns the outcome name. Raises only on database failure."""
        try:
            event = Event.from_json(msg.value)
        except Exception as exc:  # undecodable, unknown type, invalid payload
            await self.dead_letter(msg, f"undecodable event: {exc}")
            return "dead_lettered"
        try:
            async with self.engine.begin() as conn:
                outcome = await coverage_store.apply(conn, event)
        except (ValueError, TypeError) as exc:  # a payload the fold cannot take
            await self.dead_letter(msg, f"cannot apply event: {exc}")
            return "dead_lettered"
        return str(outcome)

    async def dead_letter(self, msg: ConsumerRecord, error: str) -> None:
        """List a poison message and queue it for the DLQ topic, in one transaction."""
        log.error("poison message %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, error)
        async with self.engine.begin() as conn:
            await dead_letters.dead_letter(
                conn,
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
                key=msg.key,
                value=msg.value,
                error=error,
            )


async def run(
    engine: AsyncEngine,
    bootstrap: str,
    *,
    topic: str,
    group: str,
    stop: asyncio.Event | None = None,
) -> None:
    """Consume until ``stop`` is set (or forever); commit offsets after each database commit.

    The outbox relay runs beside it for as long, publishing the dead letters.
    """
    stop = stop or asyncio.Event()
    await ensure_topics(bootstrap, [topic, dlq(topic)])
    consumer = make_consumer(
        bootstrap, topic, group_id=group, max_poll_records=200, session_timeout_ms=10_000
    )
    relay = dead_letter_relay(engine, bootstrap, topic)
    relaying = asyncio.create_task(relay.run(), name="settlement-outbox-relay")
    try:
        await consumer.start()
        log.info("consuming %s as group %s", topic, group)
        await _consume(consumer, EventSink(engine), engine, stop)
    finally:
        relay.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(relaying, 10)
        await consumer.stop()


async def _consume(
    consumer: AIOKafkaConsumer, sink: EventSink, engine: AsyncEngine, stop: asyncio.Event
) -> None:
    positions: dict[TopicPartition, int] = {}
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=500)
        for tp, messages in batches.items():
            for msg in messages:
                outcome = await _with_retries(sink, msg)
                metrics.CONSUMER_EVENTS.labels(outcome).inc()
                positions[tp] = msg.offset + 1
        if batches:
            try:
                await consumer.commit()
            except CommitFailedError:
                # The group rebalanced under us: the new owner re-reads from the last
                # committed offset, and the tracking rows make the re-delivery harmless.
                log.warning("offset commit refused after a rebalance; going on")
            async with engine.connect() as conn:
                metrics.GAPS_WAITING.set(await coverage_store.gaps_waiting(conn))
        await rewind_shrunk(consumer, positions)  # a topic created again: its start not skipped
        _record_lag(consumer, positions)


async def run_forever(
    engine: AsyncEngine, bootstrap: str, *, topic: str, group: str, stop: asyncio.Event
) -> None:
    """``run``, restarted after a failure (broker away, database down) until ``stop``."""
    while not stop.is_set():
        try:
            await run(engine, bootstrap, topic=topic, group=group, stop=stop)
        except Exception:
            log.exception("the enrollment.events consumer failed; restarting in 2 s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2)


async def _with_retries(sink: EventSink, msg: ConsumerRecord, attempts: int = 5) -> str:
    # A transient database error (a lock timeout, a unique race during a rebalance) is retried;
    # the tracking record makes a retry harmless. An event the database refuses every time (a
    # value too long for its column) is poison: dead-lettered, or it would block its partition.
    # Anything else that lasts (the database is down) stops the consumer with nothing committed.
    for attempt in range(1, attempts + 1):
        try:
            return await sink.handle(msg)
        except DBAPIError as exc:
            transient = exc.connection_invalidated or isinstance(
                exc, OperationalError | InterfaceError
            )
            if attempt == attempts and transient:
                raise
            if attempt == attempts:
                # exc.orig: the driver's message, without SQLAlchemy's dump of the parameters
                await sink.dead_letter(msg, f"the database refuses this event: {exc.orig}")
                return "dead_lettered"
            log.warning("retrying %s@%d: %s", msg.topic, msg.offset, exc.orig)
        except Exception:
            if attempt == attempts:
                raise
            log.warning("retrying %s@%d", msg.topic, msg.offset, exc_info=True)
        await asyncio.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def _record_lag(consumer: AIOKafkaConsumer, positions: dict[TopicPartition, int]) -> None:
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        if high is not None and tp in positions:
            metrics.CONSUMER_LAG.labels(str(tp.partition)).set(max(0, high - positions[tp]))
