"""Apply tax-bureau messages: each one ends as exactly one event, or in the unmatched list.

``apply_messages`` takes a batch (what one ``getmany`` returned) and, in ONE transaction:

* inserts a ``payments`` row per applied message — its primary key ``tax_serial`` is what makes a
  duplicate (or a redelivery after a crash) a no-op, enforced by the database;
* appends ``premium-paid`` (or ``premium-refunded``) to the person's stream, with
  ``subsidy-granted`` after it when a subsidy rule says so, and the outbox rows that carry them to
  ``enrollment.events`` (so they reach settlement);
* writes an ``unmatched_payments`` row for every message that cannot be applied, with its reason
  code, and queues its dead-letter record for ``tax.premium-payments.dlq`` through the same outbox
  (so a broker blip cannot lose it, and a redelivered message is not dead-lettered twice).

The caller commits the Kafka offsets only after this returns. If the batch trips a unique key
(another writer moved one of its streams) it is rolled back and re-run message by message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.enrollment import metrics
from services.enrollment.adapters.bulk_store import (
    add_messages,
    append_many,
    insert_rows,
    load_people,
    pg_connection,
)
from services.enrollment.adapters.collection_tables import payments, unmatched_payments
from services.enrollment.adapters.collection_tables import subsidies as subsidies_table
from services.enrollment.collection_metrics import TAX_MESSAGES
from services.enrollment.domain import person as domain
from services.enrollment.domain import subsidies
from services.enrollment.domain.tax_messages import (
    MessageKind,
    Reason,
    Rejected,
    TaxPayment,
    parse,
    raw_key,
)
from shared.certno import mask
from shared.events import (
    TOPIC_TAX_PAYMENTS,
    Event,
    EventPayload,
    PremiumRefunded,
    SubsidyGranted,
    dlq,
    utcnow,
)

log = logging.getLogger(__name__)
DLQ_TOPIC = dlq(TOPIC_TAX_PAYMENTS)


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message value; ``unmatched_id`` is set when it is replayed from the unmatched list."""

    raw: bytes
    unmatched_id: int | None = None


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


@dataclass(frozen=True, slots=True)
class _Miss:
    index: int  # place in the batch: the list keeps the order messages arrived in
    incoming: Incoming
    reason: str
    message: str
    tax_serial: str | None


@dataclass(frozen=True, slots=True)
class Parsed:
    """A batch read and validated message by message (pure): what the transaction starts from.

    Parsing needs no database, so the consumer parses the next batch while the current one
    waits on its round trips."""

    batch: Sequence[Incoming]
    good: list[tuple[int, Incoming, TaxPayment]]
    misses: list[_Miss]


def parse_batch(batch: Sequence[Incoming]) -> Parsed:
    """Parse every message of a batch; the bad ones become misses with their reason."""
    misses: list[_Miss] = []
    good: list[tuple[int, Incoming, TaxPayment]] = []
    for index, incoming in enumerate(batch):
        try:
            good.append((index, incoming, parse(incoming.raw)))
        except Rejected as exc:
            misses.append(_Miss(index, incoming, exc.reason.value, exc.message, exc.tax_serial))
        except Exception as exc:  # a poison message must not stop the feed: list it
            log.exception("unexpected error parsing a tax message")
            misses.append(_Miss(index, incoming, *_processing_error(exc), None))
    return Parsed(batch, good, misses)


async def apply_messages(
    sessionmaker: async_sessionmaker[Any],
    batch: Sequence[Incoming],
    *,
    parsed: Parsed | None = None,
) -> Outcome:
    """Apply a batch in one transaction (committed on return); see the module docstring.
    ``parsed`` is ``parse_batch(batch)`` when the caller has already done it."""
    if parsed is None or parsed.batch is not batch:
        parsed = parse_batch(batch)
    outcome = await _apply_batch(sessionmaker, parsed)
    TAX_MESSAGES.labels("applied").inc(outcome.applied)
    TAX_MESSAGES.labels("duplicate").inc(outcome.duplicates)
    TAX_MESSAGES.labels("unmatched").inc(outcome.unmatched)
    return outcome


async def _apply_batch(sessionmaker: async_sessionmaker[Any], parsed: Parsed) -> Outcome:
    batch = parsed.batch
    try:
        return await _apply_in_transaction(sessionmaker, parsed)
    except IntegrityError:
        if len(batch) == 1:
            raise
        log.info("batch of %d collided with another writer; applying one by one", len(batch))
    outcome = Outcome()
    for incoming in batch:
        single = parse_batch([incoming])
        for attempt in range(5):
            try:
                outcome.add(await _apply_in_transaction(sessionmaker, single))
                break
            except IntegrityError:
                if attempt == 4:
                    raise
    return outcome


async def _apply_in_transaction(sessionmaker: async_sessionmaker[Any], parsed: Parsed) -> Outcome:
    async with sessionmaker() as session, session.begin():
        outcome, appended = await _apply(session, parsed)
    metrics.EVENTS_APPENDED.inc(appended)
    return outcome


async def _apply(session: AsyncSession, parsed: Parsed) -> tuple[Outcome, int]:
    outcome = Outcome()
    misses = list(parsed.misses)  # a copy: a rolled-back attempt must not leave its misses
    good = parsed.good
    serials = [p.tax_serial for _, _, p in good]
    originals_wanted = [p.original_tax_serial for _, _, p in good if p.original_tax_serial]
    taken = await _taken(session, serials)
    originals: dict[str, dict[str, Any]] = {}
    refunded: dict[str, Decimal] = {}
    if originals_wanted:
        rows = await session.execute(
            select(payments).where(
                payments.c.tax_serial.in_(originals_wanted),
                payments.c.kind == MessageKind.PAYMENT.value,
            )
        )
        originals = {row.tax_serial: dict(row._mapping) for row in rows}
        sums = await session.execute(
            select(payments.c.original_tax_serial, func.sum(payments.c.amount))
            .where(payments.c.original_tax_serial.in_(originals_wanted))
            .group_by(payments.c.original_tax_serial)
        )
        refunded = {serial: Decimal(total) for serial, total in sums.all()}
    people, streams = await load_people(session, (p.certno for _, _, p in good))
    states = {psn: domain.fold(stream) for psn, stream in streams.items()}
    # Events appended in this batch, folded in only if the same person comes up again: most
    # people pay once, and folding costs more than anything else per payment.
    unfolded: dict[str, list[Event]] = {}

    def current(psn_no: str) -> domain.PersonState | None:
        state = states.get(psn_no)
        for event in unfolded.pop(psn_no, ()):
            state = domain.apply(state, event)
        if state is not None:
            states[psn_no] = state
        return state

    now = utcnow()
    new_events: list[Event] = []
    payment_rows: list[dict[str, Any]] = []
    subsidy_rows: list[dict[str, Any]] = []
    resolved: list[tuple[int, str]] = []
    for index, incoming, p in good:
        if p.tax_serial in taken:
            outcome.duplicates += 1
            if incoming.unmatched_id is not None:
                resolved.append((incoming.unmatched_id, "duplicate"))
            continue
        psn_no = people.get(p.certno)
        state = current(psn_no) if psn_no else None
        if psn_no is None or state is None:
            misses.append(
                _Miss(index, incoming, Reason.UNKNOWN_CERTNO.value, _unknown(p), p.tax_serial)
            )
            continue
        if p.tax_serial in state.tax_serials:
            # A concurrent writer committed this serial after this transaction read
            # ``payments`` (READ COMMITTED): the stream shows it, so it is a duplicate.
            outcome.duplicates += 1
            if incoming.unmatched_id is not None:
                resolved.append((incoming.unmatched_id, "duplicate"))
            continue
        try:
            payloads = _decide(state, p, originals, refunded, psn_no)
        except Rejected as exc:
            misses.append(_Miss(index, incoming, exc.reason.value, exc.message, p.tax_serial))
            continue
        except domain.DomainError as exc:
            misses.append(_Miss(index, incoming, exc.code, exc.message, p.tax_serial))
            continue
        except Exception as exc:  # the decision is pure: an error here is this message's
            log.exception("unexpected error deciding tax message %s", p.tax_serial)
            misses.append(_Miss(index, incoming, *_processing_error(exc), p.tax_serial))
            continue
        version = state.version
        for payload in payloads:
            version += 1
            event = Event.new(payload, psn_no=psn_no, stream_version=version, occurred_at=p.paid_at)
            unfolded.setdefault(psn_no, []).append(event)
            new_events.append(event)
            if isinstance(payload, SubsidyGranted):
                subsidy_rows.append(
                    {
                        "tax_serial": p.tax_serial,
                        "psn_no": psn_no,
                        "insurance_year": payload.insurance_year,
                        "kind": payload.kind,
                        "status": payload.status,
                        "amount": payload.amount,
                        "event_id": str(event.event_id),
                        "granted_at": now,
                    }
                )
        taken.add(p.tax_serial)
        payment_rows.append(_payment_row(p, psn_no, now))
        if p.kind is MessageKind.PAYMENT:
            originals[p.tax_serial] = payment_rows[-1]
        else:
            assert p.original_tax_serial is not None
            refunded[p.original_tax_serial] = (
                refunded.get(p.original_tax_serial, Decimal(0)) + p.amount
            )
        outcome.applied += 1
        if incoming.unmatched_id is not None:
            resolved.append((incoming.unmatched_id, "applied"))

    if payment_rows:
        await insert_rows(session, payments, payment_rows)
    await append_many(session, new_events)
    if subsidy_rows:
        await insert_rows(session, subsidies_table, subsidy_rows)
    for unmatched_id, resolution in resolved:
        await session.execute(
            update(unmatched_payments)
            .where(unmatched_payments.c.id == unmatched_id)
            .values(resolved_at=now, resolution=resolution)
        )
    outcome.resolved = len(resolved)
    await _record_misses(session, misses, outcome, now)
    return outcome, len(new_events)


async def _taken(session: AsyncSession, serials: list[str]) -> set[str]:
    """The serials among these that ``payments`` already holds."""
    if not serials:
        return set()
    raw = await pg_connection(session)
    if raw is not None:
        rows = await raw.fetch(
            "SELECT tax_serial FROM payments WHERE tax_serial = ANY($1::varchar[])", serials
        )
        return {row[0] for row in rows}
    taken: set[str] = set()
    for start in range(0, len(serials), 1000):
        result = await session.execute(
            select(payments.c.tax_serial).where(
                payments.c.tax_serial.in_(serials[start : start + 1000])
            )
        )
        taken.update(result.scalars())
    return taken


def _processing_error(exc: Exception) -> tuple[str, str]:
    return Reason.PROCESSING_ERROR.value, f"could not process: {type(exc).__name__}"


def _unknown(p: TaxPayment) -> str:
    return f"no person is registered under certno {mask(p.certno)}"


def _decide(
    state: domain.PersonState,
    p: TaxPayment,
    originals: dict[str, dict[str, Any]],
    refunded: dict[str, Decimal],
    psn_no: str,
) -> list[EventPayload]:
    if p.insurance_year not in state.years:
        raise Rejected(
            Reason.NOT_REGISTERED_FOR_YEAR,
            f"the person is not registered for {p.insurance_year}",
        )
    if p.kind is MessageKind.REFUND:
        return [_refund(p, originals, refunded, psn_no)]
    payloads = domain.record_payment(
        state,
        insurance_year=p.insurance_year,
        amount=p.amount,
        payer=p.payer,
        channel=p.channel,
        tax_serial=p.tax_serial,
        paid_at=p.paid_at,
    )
    assert payloads, "record_payment refused a serial the caller checked was new"
    decision = subsidies.on_payment(
        subsidies.rule_for_person(state, p.insurance_year), p.payer, p.amount
    )
    if decision is not None:
        payloads.append(
            SubsidyGranted(
                insurance_year=p.insurance_year,
                kind=decision.kind.value,
                amount=decision.amount,
                status=decision.status.value,
                reason=f"004 §二(二) on payment {p.tax_serial}",
                tax_serial=p.tax_serial,
            )
        )
    return payloads


def _refund(
    p: TaxPayment,
    originals: dict[str, dict[str, Any]],
    refunded: dict[str, Decimal],
    psn_no: str,
) -> EventPayload:
    assert p.original_tax_serial is not None
    original = originals.get(p.original_tax_serial)
    if original is None:
        raise Rejected(
            Reason.UNKNOWN_ORIGINAL_PAYMENT,
            f"no applied payment has tax_serial {p.original_tax_serial}",
        )
    if original["psn_no"] != psn_no or original["insurance_year"] != p.insurance_year:
        raise Rejected(
            Reason.INVALID_FIELD, "the refund's person or year differs from its original payment"
        )
    already = refunded.get(p.original_tax_serial, Decimal(0))
    if already + p.amount > Decimal(original["amount"]):
        raise Rejected(
            Reason.REFUND_EXCEEDS_PAYMENT,
            f"refunds would exceed the original payment of {Decimal(original['amount']):.2f}",
        )
    return PremiumRefunded(
        insurance_year=p.insurance_year,
        amount=p.amount,
        tax_serial=p.tax_serial,
        original_tax_serial=p.original_tax_serial,
        refunded_at=p.paid_at,
    )


def _payment_row(p: TaxPayment, psn_no: str, now: Any) -> dict[str, Any]:
    return {
        "tax_serial": p.tax_serial,
        "kind": p.kind.value,
        "psn_no": psn_no,
        "insurance_year": p.insurance_year,
        "amount": p.amount,
        "payer": p.payer.value,
        "channel": p.channel.value,
        "paid_at": p.paid_at,
        "original_tax_serial": p.original_tax_serial,
        "recorded_at": now,
    }


async def _record_misses(
    session: AsyncSession, misses: list[_Miss], outcome: Outcome, now: Any
) -> None:
    """Unmatched rows (once per dedup key) and their dead-letter records; replays update theirs."""
    fresh: dict[str, _Miss] = {}
    for miss in sorted(misses, key=lambda m: m.index):
        outcome.unmatched += 1
        outcome.reasons[miss.reason] = outcome.reasons.get(miss.reason, 0) + 1
        if miss.incoming.unmatched_id is not None:
            await session.execute(
                update(unmatched_payments)
                .where(unmatched_payments.c.id == miss.incoming.unmatched_id)
                .values(reason=miss.reason, message=miss.message)
            )
            continue
        fresh.setdefault(miss.tax_serial or raw_key(miss.incoming.raw), miss)
    if not fresh:
        return
    listed = set(
        (
            await session.execute(
                select(unmatched_payments.c.dedup_key).where(
                    unmatched_payments.c.dedup_key.in_(list(fresh))
                )
            )
        ).scalars()
    )
    new = {key: miss for key, miss in fresh.items() if key not in listed}
    if not new:
        return
    await session.execute(
        insert(unmatched_payments),
        [
            {
                "dedup_key": key,
                "tax_serial": miss.tax_serial,
                "reason": miss.reason,
                "message": miss.message,
                "raw": miss.incoming.raw,
                "received_at": now,
            }
            for key, miss in new.items()
        ],
    )
    await add_messages(
        session,
        [(DLQ_TOPIC, key, dead_letter(miss, now)) for key, miss in new.items()],
    )


def dead_letter(miss: _Miss, now: Any) -> str:
    """The record on ``tax.premium-payments.dlq``: the reason and the original message."""
    return json.dumps(
        {
            "reason": miss.reason,
            "message": miss.message,
            "tax_serial": miss.tax_serial,
            "received_at": now.isoformat(),
            "original": miss.incoming.raw.decode("utf-8", errors="replace"),
        },
        ensure_ascii=False,
    )


async def unresolved(
    sessionmaker: async_sessionmaker[Any], *, after_id: int = 0, limit: int = 1000
) -> list[Incoming]:
    """The unmatched messages not yet resolved, oldest first, ready to replay."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(unmatched_payments.c.id, unmatched_payments.c.raw)
            .where(unmatched_payments.c.resolved_at.is_(None), unmatched_payments.c.id > after_id)
            .order_by(unmatched_payments.c.id)
            .limit(limit)
        )
        return [Incoming(bytes(raw), unmatched_id) for unmatched_id, raw in rows.all()]


async def retry_unmatched(sessionmaker: async_sessionmaker[Any]) -> Outcome:
    """Replay every unresolved unmatched message (after its cause was fixed, e.g. a late
    registration): applied or duplicate ones are marked resolved, the rest keep a fresh reason."""
    outcome = Outcome()
    last_id = 0
    while True:
        batch = await unresolved(sessionmaker, after_id=last_id)
        if not batch:
            return outcome
        last_id = max(i.unmatched_id or 0 for i in batch)
        for start in range(0, len(batch), 500):
            outcome.add(await apply_messages(sessionmaker, batch[start : start + 500]))


async def retry_waiting_refunds(sessionmaker: async_sessionmaker[Any]) -> Outcome:
    """Replay refunds that arrived before their payment (another partition may run ahead);
    called by the consumer after it applied payments. Costs one query when none wait."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(unmatched_payments.c.id, unmatched_payments.c.raw)
            .where(
                unmatched_payments.c.resolved_at.is_(None),
                unmatched_payments.c.reason == Reason.UNKNOWN_ORIGINAL_PAYMENT.value,
            )
            .order_by(unmatched_payments.c.id)
            .limit(500)
        )
        waiting = [Incoming(bytes(raw), unmatched_id) for unmatched_id, raw in rows.all()]
    if not waiting:
        return Outcome()
    return await apply_messages(sessionmaker, waiting)
