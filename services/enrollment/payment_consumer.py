"""The consumer of the tax bureau's feed: ``tax.premium-payments``, consumer group ``enrollment``.

Each poll (``getmany``) is applied as one database transaction (``payment_service``), and only
after that commit are the Kafka offsets committed. A crash between the two redelivers the batch,
which the ``payments`` primary key (``tax_serial``) and the unmatched list's ``dedup_key`` turn
into no-ops: every payment is applied exactly once, every bad message listed (and dead-lettered,
through the outbox) once. When the database is unreachable the consumer rewinds to the last
committed offsets and tries again after a pause; it never skips a message. Dead-letter records
always go to ``tax.premium-payments.dlq``. A refund that overtook its payment (the two on
different partitions) is listed as ``UNKNOWN_ORIGINAL_PAYMENT`` and replayed automatically once
payments have been applied; the tax bureau should key messages by certno so that one person's
messages keep their order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from services.enrollment.payment_service import (
    DLQ_TOPIC,
    Incoming,
    Outcome,
    apply_messages,
    parse_batch,
    retry_waiting_refunds,
)
from shared.events import TOPIC_TAX_PAYMENTS
from shared.kafka import ensure_topics, make_consumer

log = logging.getLogger(__name__)

GROUP_ID = "enrollment"
REFUND_RETRY_SECONDS = 2.0


class PaymentConsumer:
    """Consume, apply, commit the database, then commit the offsets — in that order."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[Any],
        bootstrap: str,
        *,
        topic: str = TOPIC_TAX_PAYMENTS,
        group_id: str = GROUP_ID,
        batch_size: int = 500,
        retry_backoff: float = 1.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.bootstrap = bootstrap
        self.topic = topic
        self.group_id = group_id
        self.batch_size = batch_size
        self.retry_backoff = retry_backoff
        self.totals = Outcome()
        self._refunds_retried_at = float("-inf")
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Consume until ``stop()``; reconnects when the broker goes away."""
        while not self._stopping.is_set():
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("payment consumer failed; restarting in %.1fs", self.retry_backoff)
                await self._pause()

    async def _pause(self) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), self.retry_backoff)
        except TimeoutError:
            pass

    async def _consume(self) -> None:
        await ensure_topics(self.bootstrap, [self.topic, DLQ_TOPIC])
        consumer = make_consumer(
            self.bootstrap,
            self.topic,
            group_id=self.group_id,
            max_poll_records=self.batch_size,
        )
        await consumer.start()
        log.info("consuming %s as group %s", self.topic, self.group_id)
        # One batch in flight at a time: while its transaction waits on the database, the
        # next batch is fetched and parsed (pure CPU, no database), then waits its turn.
        in_flight: tuple[asyncio.Task[Outcome], dict[Any, int]] | None = None
        try:
            while not self._stopping.is_set():
                batches = await consumer.getmany(
                    timeout_ms=0 if in_flight else 500, max_records=self.batch_size
                )
                records = [r for part in batches.values() for r in part]
                parsed = None
                if records:
                    incoming = [Incoming(r.value or b"") for r in records]
                    parsed = parse_batch(incoming)
                if in_flight is not None:
                    # An exception here leaves the offsets uncommitted: ``run`` restarts the
                    # consumer, which resumes from the last committed offsets.
                    await self._finish(consumer, *in_flight)
                    in_flight = None
                if parsed is not None:
                    offsets = {tp: part[-1].offset + 1 for tp, part in batches.items() if part}
                    task = asyncio.create_task(
                        apply_messages(self.sessionmaker, parsed.batch, parsed=parsed)
                    )
                    in_flight = (task, offsets)
            if in_flight is not None:
                await self._finish(consumer, *in_flight)
                in_flight = None
        finally:
            if in_flight is not None and not in_flight[0].done():
                in_flight[0].cancel()
                await asyncio.gather(in_flight[0], return_exceptions=True)
            await consumer.stop()

    async def _finish(
        self, consumer: Any, task: asyncio.Task[Outcome], offsets: dict[Any, int]
    ) -> None:
        """Wait for a batch's transaction; once it committed, commit its Kafka offsets."""
        outcome = await task
        # The database has committed: now, and only now, the offsets.
        await consumer.commit(offsets)
        self.totals.add(outcome)
        # At most every few seconds: waiting refunds are rare, the query is not free.
        clock = asyncio.get_running_loop().time()
        if outcome.applied and clock - self._refunds_retried_at > REFUND_RETRY_SECONDS:
            self._refunds_retried_at = clock
            await retry_waiting_refunds(self.sessionmaker)
        if outcome.unmatched:
            log.warning("unmatched tax messages: %s", outcome.reasons)


def start_in_app(app: Any, settings: Any, sessionmaker: async_sessionmaker[Any]) -> None:
    """Run the consumer as a background task of the HTTP app (``serve``), unless switched off
    with ``PAYMENT_CONSUMER_ENABLED=false`` (then run ``enrollment consume-payments``)."""
    app.state.payment_consumer = None
    if not settings.payment_consumer_enabled:
        return
    consumer = PaymentConsumer(
        sessionmaker,
        settings.kafka_bootstrap_servers,
        batch_size=settings.payment_batch_size,
    )
    app.state.payment_consumer = consumer
    app.state.payment_consumer_task = asyncio.create_task(consumer.run(), name="tax-payments")


async def stop_in_app(app: Any) -> None:
    """Stop the background consumer (its current batch finishes or is redelivered later)."""
    consumer = getattr(app.state, "payment_consumer", None)
    if consumer is None:
        return
    consumer.stop()
    task = app.state.payment_consumer_task
    try:
        await asyncio.wait_for(task, 10)
    except (TimeoutError, asyncio.CancelledError):
        task.cancel()
