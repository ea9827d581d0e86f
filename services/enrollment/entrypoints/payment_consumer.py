"""The consumer of the tax bureau's feed: ``tax.premium-payments``, consumer group ``enrollment``.

Each poll (``getmany``) is applied as one database transaction (``service_layer/payments``),
and only after that commit are the Kafka offsets committed. A crash between the two redelivers
the batch, which the ``payments`` primary key (``tax_serial``) and the unmatched list's
``dedup_key`` turn into no-ops: every payment is applied exactly once, every bad message listed
(and dead-lettered, through the outbox) once. When the database is unreachable the consumer
rewinds to the last committed offsets and tries again after a pause; it never skips a message.
Dead-letter records always go to ``tax.premium-payments.dlq``. A refund that overtook its payment
(the two on different partitions) is listed as ``UNKNOWN_ORIGINAL_PAYMENT`` and replayed
automatically once payments have been applied; the tax bureau should key messages by certno so
that one person's messages keep their order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import CommitFailedError

from services.enrollment.service_layer.payments import (
    DLQ_TOPIC,
    Incoming,
    Outcome,
    Parsed,
    apply_messages,
    parse_batch,
    retry_waiting_refunds,
)
from services.enrollment.service_layer.unit_of_work import UnitOfWorkFactory
from shared.events import TOPIC_TAX_PAYMENTS
from shared.kafka import ensure_topics, make_consumer, rewind_shrunk

log = logging.getLogger(__name__)

GROUP_ID = "enrollment"
REFUND_RETRY_SECONDS = 2.0
IN_FLIGHT = 2  # batches applied at once (see ``_consume``)


@dataclass(frozen=True, slots=True)
class _InFlight:
    task: asyncio.Task[Outcome]
    offsets: dict[Any, int]
    keys: frozenset[str]  # the certnos and serials it touches


def _keys(parsed: Parsed) -> frozenset[str]:
    keys = {p.certno for _, _, p in parsed.good}
    keys.update(p.tax_serial for _, _, p in parsed.good)
    keys.update(p.original_tax_serial for _, _, p in parsed.good if p.original_tax_serial)
    keys.update(m.tax_serial for m in parsed.misses if m.tax_serial)
    return frozenset(keys)


class PaymentConsumer:
    """Consume, apply, commit the database, then commit the offsets — in that order."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        bootstrap: str,
        *,
        topic: str = TOPIC_TAX_PAYMENTS,
        group_id: str = GROUP_ID,
        batch_size: int = 500,
        retry_backoff: float = 1.0,
    ) -> None:
        self.uow = uow
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
        # Up to IN_FLIGHT batches at once, each its own transaction, so that Python works on
        # one while the database works on (or commits) another. A batch that shares a certno or
        # a serial with one in flight waits for it: one person's messages keep their order. Two
        # batches in flight are two concurrent writers, guarded like any others by the unique
        # keys (a collision rolls one back and re-runs it message by message). Offsets are
        # committed batch after batch in the order polled, each only after its own commit
        # and its predecessors'.
        in_flight: deque[_InFlight] = deque()
        polled: dict[Any, int] = {}  # per partition, the offset after the last message polled
        try:
            while not self._stopping.is_set():
                batches = await consumer.getmany(
                    timeout_ms=0 if in_flight else 500, max_records=self.batch_size
                )
                records = [r for part in batches.values() for r in part]
                polled.update({tp: part[-1].offset + 1 for tp, part in batches.items() if part})
                # A topic created again is read from its start, not from our old offset.
                await rewind_shrunk(consumer, polled)
                while in_flight and in_flight[0].task.done():
                    await self._finish(consumer, in_flight.popleft())
                if not records:
                    if in_flight:
                        await self._finish(consumer, in_flight.popleft())
                    continue
                parsed = parse_batch([Incoming(r.value or b"") for r in records])
                keys = _keys(parsed)
                while in_flight and (
                    len(in_flight) >= IN_FLIGHT
                    or any(not keys.isdisjoint(b.keys) for b in in_flight)
                ):
                    # An exception here leaves the offsets uncommitted: ``run`` restarts the
                    # consumer, which resumes from the last committed offsets.
                    await self._finish(consumer, in_flight.popleft())
                task = asyncio.create_task(apply_messages(self.uow, parsed.batch, parsed=parsed))
                offsets = {tp: part[-1].offset + 1 for tp, part in batches.items() if part}
                in_flight.append(_InFlight(task, offsets, keys))
            while in_flight:
                await self._finish(consumer, in_flight.popleft())
        finally:
            for batch in in_flight:  # not committed: redelivered to whoever consumes next
                batch.task.cancel()
            await asyncio.gather(*(b.task for b in in_flight), return_exceptions=True)
            await consumer.stop()

    async def _finish(self, consumer: Any, batch: _InFlight) -> None:
        """Wait for a batch's transaction; once it committed, commit its Kafka offsets."""
        outcome = await batch.task
        # The database has committed: now, and only now, the offsets.
        try:
            await consumer.commit(batch.offsets)
        except CommitFailedError:
            # The group rebalanced (a consumer joined or left, a broker that forgot the group):
            # whoever owns the partition now reads again from the last committed offset, and
            # the serials make that harmless. Restarting would only rebalance the group again.
            log.warning("offset commit refused after a rebalance; going on")
        self.totals.add(outcome)
        # At most every few seconds: waiting refunds are rare, the query is not free.
        clock = asyncio.get_running_loop().time()
        if outcome.applied and clock - self._refunds_retried_at > REFUND_RETRY_SECONDS:
            self._refunds_retried_at = clock
            await retry_waiting_refunds(self.uow)
        if outcome.unmatched:
            log.warning("unmatched tax messages: %s", outcome.reasons)


def start_in_app(app: Any, consumer: PaymentConsumer | None) -> None:
    """Run the consumer as a background task of the HTTP app (``serve``); ``None`` when it is
    switched off with ``PAYMENT_CONSUMER_ENABLED=false`` (then run ``enrollment
    consume-payments``)."""
    app.state.payment_consumer = consumer
    if consumer is not None:
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
