"""Apply tax-bureau messages: load → decide (``domain/payments.py``) → write, in one transaction.

``apply_messages`` takes a batch (what one ``getmany`` returned) and, in ONE unit of work:

* loads what the decision needs: the serials already applied, the people by certno and their
  streams, the original payments refunds point at;
* asks the domain to decide every message;
* writes the ``payments`` rows — their primary key ``tax_serial`` is what makes a duplicate (or a
  redelivery after a crash) a no-op, enforced by the database —, the events (``premium-paid`` or
  ``premium-refunded``, and the subsidy events they bring) with the outbox rows that carry them
  to ``enrollment.events`` and the ``subsidies`` rows the event store derives, and an
  ``unmatched_payments`` row for every message that cannot be applied, with its dead-letter record
  for ``tax.premium-payments.dlq`` through the same outbox (so a broker blip cannot lose it, and a
  redelivered message is not dead-lettered twice).

The caller commits the Kafka offsets only after this returns. If the batch trips a unique key
(another writer moved one of its streams) it is rolled back and re-run message by message.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from services.enrollment import metrics
from services.enrollment.adapters.recorders import ConcurrencyConflict
from services.enrollment.domain.payments import (
    Decision,
    Known,
    dead_letter,
    decide,
    dedup_key,
    unmatched_row,
)
from services.enrollment.domain.state import fold
from services.enrollment.domain.tax_messages import Incoming, Miss, Parsed, Reason, parse_batch
from services.enrollment.service_layer import unit_of_work
from services.enrollment.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.events import TOPIC_TAX_PAYMENTS, dlq, utcnow

__all__ = [
    "DLQ_TOPIC",
    "Incoming",
    "Outcome",
    "Parsed",
    "apply_messages",
    "parse_batch",
    "retry_unmatched",
    "retry_waiting_refunds",
]

log = logging.getLogger(__name__)
DLQ_TOPIC = dlq(TOPIC_TAX_PAYMENTS)
SINGLE_ATTEMPTS = 5  # a message applied alone, after its batch collided, is tried this often


@dataclass
class Outcome:
    """What a batch did; ``reasons`` counts the unmatched by reason code."""

    applied: int = 0
    duplicates: int = 0
    unmatched: int = 0
    resolved: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: Outcome) -> None:
        self.applied += other.applied
        self.duplicates += other.duplicates
        self.unmatched += other.unmatched
        self.resolved += other.resolved
        for reason, n in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n

    @classmethod
    def of(cls, decision: Decision) -> Outcome:
        outcome = cls(decision.applied, decision.duplicates, len(decision.misses))
        outcome.resolved = len(decision.resolved)
        for miss in decision.misses:
            outcome.reasons[miss.reason] = outcome.reasons.get(miss.reason, 0) + 1
        return outcome


async def apply_messages(
    uow: UnitOfWorkFactory,
    batch: Sequence[Incoming],
    *,
    parsed: Parsed | None = None,
) -> Outcome:
    """Apply a batch in one transaction (committed on return); see the module docstring.
    ``parsed`` is ``parse_batch(batch)`` when the caller has already done it."""
    if parsed is None or parsed.batch is not batch:
        parsed = parse_batch(batch)
    outcome = await _apply_batch(uow, parsed)
    metrics.TAX_MESSAGES.labels("applied").inc(outcome.applied)
    metrics.TAX_MESSAGES.labels("duplicate").inc(outcome.duplicates)
    metrics.TAX_MESSAGES.labels("unmatched").inc(outcome.unmatched)
    return outcome


async def _apply_batch(uow: UnitOfWorkFactory, parsed: Parsed) -> Outcome:
    try:
        return await unit_of_work.run(uow, partial(_apply, parsed=parsed), attempts=1)
    except ConcurrencyConflict:
        if len(parsed.batch) == 1:
            raise
        log.info("batch of %d collided with another writer; applying one by one", len(parsed.batch))
    outcome = Outcome()
    for incoming in parsed.batch:
        single = parse_batch([incoming])
        outcome.add(
            await unit_of_work.run(uow, partial(_apply, parsed=single), attempts=SINGLE_ATTEMPTS)
        )
    return outcome


async def _apply(uow: UnitOfWork, parsed: Parsed) -> Outcome:
    """Load → decide → write, in the unit of work's transaction."""
    decision = decide(parsed, await _known(uow, parsed))
    now = utcnow()
    await uow.payments.add_payments(decision.payments, now)
    await uow.events.append_many(decision.events)
    await uow.payments.resolve(decision.resolved, now)
    await _list_misses(uow, decision, now)
    return Outcome.of(decision)


async def _known(uow: UnitOfWork, parsed: Parsed) -> Known:
    """What the decision needs from the database, read in a handful of batch queries."""
    good = [p for _, _, p in parsed.good]
    taken = await uow.payments.taken([p.tax_serial for p in good])
    originals, refunded = await uow.payments.originals(
        [p.original_tax_serial for p in good if p.original_tax_serial]
    )
    people = await uow.events.psn_nos({p.certno for p in good})
    streams = await uow.events.load_many(set(people.values()))
    states = {psn_no: state for psn_no, s in streams.items() if (state := fold(s)) is not None}
    return Known(people, states, frozenset(taken), originals, refunded)


async def _list_misses(uow: UnitOfWork, decision: Decision, now: datetime) -> None:
    """Unmatched rows (once per dedup key) and their dead-letter records; replays update theirs."""
    fresh: dict[str, Miss] = {}
    for miss in decision.misses:
        if miss.incoming.unmatched_id is not None:
            await uow.payments.relist(miss.incoming.unmatched_id, miss.reason, miss.message)
        else:
            fresh.setdefault(dedup_key(miss), miss)
    if not fresh:
        return
    listed = await uow.payments.listed(list(fresh))
    new = [miss for key, miss in fresh.items() if key not in listed]
    await uow.payments.list_unmatched([unmatched_row(miss) for miss in new], now)
    for miss in new:
        await uow.outbox.add(DLQ_TOPIC, dedup_key(miss), dead_letter(miss, now))


async def retry_unmatched(uow: UnitOfWorkFactory) -> Outcome:
    """Replay every unresolved unmatched message (after its cause was fixed, e.g. a late
    registration): applied or duplicate ones are marked resolved, the rest keep a fresh reason."""
    outcome = Outcome()
    last_id = 0
    while True:
        async with uow() as work:
            batch = await work.payments.unresolved(after_id=last_id)
        if not batch:
            return outcome
        last_id = max(i.unmatched_id or 0 for i in batch)
        for start in range(0, len(batch), 500):
            outcome.add(await apply_messages(uow, batch[start : start + 500]))


async def retry_waiting_refunds(uow: UnitOfWorkFactory) -> Outcome:
    """Replay refunds that arrived before their payment (another partition may run ahead);
    called by the consumer after it applied payments. Costs one query when none wait."""
    async with uow() as work:
        waiting = await work.payments.unresolved(limit=500, reason=Reason.UNKNOWN_ORIGINAL_PAYMENT)
    if not waiting:
        return Outcome()
    return await apply_messages(uow, waiting)
