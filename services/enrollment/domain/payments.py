"""The tax feed's decision over a batch, pure: each message ends as exactly one outcome.

``decide(parsed, known)`` takes a parsed batch and what the database knew before it (``Known``:
the people by certno and their folded states, the serials already applied, the original payments
refunds point at and what was refunded of them) and returns a ``Decision``: the events to append
(the ``subsidies`` rows follow from them), the ``payments`` rows to insert, the misses to list
(and dead-letter), the replayed messages now resolved. Nothing is read or written here; the
service layer loads, calls this, and writes what it says in one transaction.

The rules, in the order they are checked:

* a serial already applied (in ``payments``, in the person's stream, or earlier in the batch) is
  a duplicate: counted, nothing written;
* a certno with no person, or a year the person is not registered for, is a miss;
* a payment appends ``premium-paid`` — an overpayment too (the person shows paid above due) —
  followed by the subsidy events the payment brings (``subsidies.reconcile``: a subsidy granted,
  or one it supersedes cancelled; 004 §二(二));
* a refund appends ``premium-refunded`` when its original payment was applied for the same person
  and year and the refunds of it stay within its amount; a refund whose payment is not known yet
  (another partition may run ahead) is a miss ``UNKNOWN_ORIGINAL_PAYMENT``, replayed later; the
  refund cancels the subsidy it took the ground from (or flags it ``reclaim`` once paid out).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from services.enrollment.domain import subsidies
from services.enrollment.domain.errors import DomainError
from services.enrollment.domain.person import refuse_after_death
from services.enrollment.domain.state import PersonState, apply, numbered, then
from services.enrollment.domain.tax_messages import (
    Incoming,
    MessageKind,
    Miss,
    Parsed,
    Reason,
    Rejected,
    TaxPayment,
    processing_error,
    raw_key,
)
from shared.certno import mask
from shared.errors import CodedError
from shared.events import (
    TAX_FEED_ACTOR,
    Channel,
    Event,
    EventPayload,
    Payer,
    PremiumPaid,
    PremiumRefunded,
    SubsidyGranted,
)
from shared.money import ZERO

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OriginalPayment:
    """An applied payment a refund may point at."""

    psn_no: str
    insurance_year: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PaymentRow:
    """A ``payments`` row: one applied message (its ``tax_serial`` is the table's key)."""

    tax_serial: str
    kind: str
    psn_no: str
    insurance_year: int
    amount: Decimal
    payer: str
    channel: str
    paid_at: datetime
    original_tax_serial: str | None


@dataclass(frozen=True, slots=True)
class SubsidyRow:
    """A subsidy a batch granted (the event store writes its ``subsidies`` row with the event)."""

    tax_serial: str | None
    psn_no: str
    insurance_year: int
    kind: str
    status: str
    amount: Decimal
    event_id: str


@dataclass(frozen=True, slots=True)
class UnmatchedRow:
    """An ``unmatched_payments`` row: a message put on the ops list."""

    dedup_key: str
    tax_serial: str | None
    reason: str
    message: str
    raw: bytes


@dataclass(frozen=True)
class Known:
    """What the database held for a batch before deciding it."""

    people: Mapping[str, str]  # certno -> psn_no
    states: Mapping[str, PersonState]  # psn_no -> folded state
    taken: frozenset[str] = frozenset()  # serials already in ``payments``
    originals: Mapping[str, OriginalPayment] = field(default_factory=dict)
    refunded: Mapping[str, Decimal] = field(default_factory=dict)  # original serial -> sum


@dataclass
class Decision:
    """What a batch comes to; the service writes it as it is."""

    events: list[Event] = field(default_factory=list)
    payments: list[PaymentRow] = field(default_factory=list)
    subsidies: list[SubsidyRow] = field(default_factory=list)
    misses: list[Miss] = field(default_factory=list)  # in batch order
    resolved: list[tuple[int, str]] = field(default_factory=list)  # (unmatched_id, resolution)
    applied: int = 0
    duplicates: int = 0


class _Batch:
    """The running state of one decision: what the batch itself applied so far."""

    def __init__(self, known: Known) -> None:
        self.known = known
        self.states = dict(known.states)
        self.taken = set(known.taken)
        self.originals = dict(known.originals)
        self.refunded = dict(known.refunded)
        # Events appended in this batch, folded in only if the same person comes up again: most
        # people pay once, and folding costs more than anything else per payment.
        self.unfolded: dict[str, list[Event]] = {}

    def state(self, psn_no: str) -> PersonState | None:
        state = self.states.get(psn_no)
        for event in self.unfolded.pop(psn_no, ()):
            state = apply(state, event)
        if state is not None:
            self.states[psn_no] = state
        return state


def decide(parsed: Parsed, known: Known) -> Decision:
    """Decide every message of a parsed batch against what the database knew; see the module."""
    decision = Decision(misses=list(parsed.misses))
    batch = _Batch(known)
    for index, incoming, payment in parsed.good:
        _decide_message(decision, batch, index, incoming, payment)
    decision.misses.sort(key=lambda m: m.index)
    return decision


def _decide_message(
    decision: Decision, batch: _Batch, index: int, incoming: Incoming, p: TaxPayment
) -> None:
    if p.tax_serial in batch.taken:
        _duplicate(decision, incoming)
        return
    psn_no = batch.known.people.get(p.certno)
    state = batch.state(psn_no) if psn_no is not None else None
    if psn_no is None or state is None:
        message = f"no person is registered under certno {mask(p.certno)}"
        decision.misses.append(
            Miss(index, incoming, Reason.UNKNOWN_CERTNO.value, message, p.tax_serial)
        )
        return
    if p.tax_serial in state.tax_serials:
        # A concurrent writer committed this serial after the batch read ``payments`` (READ
        # COMMITTED): the stream shows it, so it is a duplicate.
        _duplicate(decision, incoming)
        return
    try:
        payloads = payment_events(state, p, batch.originals, batch.refunded)
    except CodedError as exc:  # ``Rejected`` or ``DomainError``: a reason to list it
        decision.misses.append(Miss(index, incoming, exc.code, exc.message, p.tax_serial))
        return
    except Exception as exc:  # the decision is pure: an error here is this message's
        log.exception("unexpected error deciding tax message %s", p.tax_serial)
        decision.misses.append(Miss(index, incoming, *processing_error(exc), p.tax_serial))
        return
    events = numbered(psn_no, state.version, payloads, p.paid_at, actor=TAX_FEED_ACTOR)
    _record(decision, batch, p, psn_no, events)
    if incoming.unmatched_id is not None:
        decision.resolved.append((incoming.unmatched_id, "applied"))


def _duplicate(decision: Decision, incoming: Incoming) -> None:
    decision.duplicates += 1
    if incoming.unmatched_id is not None:
        decision.resolved.append((incoming.unmatched_id, "duplicate"))


def _record(
    decision: Decision, batch: _Batch, p: TaxPayment, psn_no: str, new: list[Event]
) -> None:
    batch.unfolded.setdefault(psn_no, []).extend(new)
    decision.events.extend(new)
    for event in new:
        if isinstance(event.payload, SubsidyGranted):
            decision.subsidies.append(subsidy_row(event))
    row = PaymentRow(
        tax_serial=p.tax_serial,
        kind=p.kind.value,
        psn_no=psn_no,
        insurance_year=p.insurance_year,
        amount=p.amount,
        payer=p.payer.value,
        channel=p.channel.value,
        paid_at=p.paid_at,
        original_tax_serial=p.original_tax_serial,
    )
    decision.payments.append(row)
    batch.taken.add(p.tax_serial)
    if p.kind is MessageKind.PAYMENT:
        batch.originals[p.tax_serial] = OriginalPayment(psn_no, p.insurance_year, p.amount)
    else:
        assert p.original_tax_serial is not None
        serial = p.original_tax_serial
        batch.refunded[serial] = batch.refunded.get(serial, ZERO) + p.amount
    decision.applied += 1


def subsidy_row(event: Event) -> SubsidyRow:
    """The subsidy of a ``subsidy-granted`` event."""
    payload = event.payload
    assert isinstance(payload, SubsidyGranted)
    return SubsidyRow(
        tax_serial=payload.tax_serial,
        psn_no=event.psn_no,
        insurance_year=payload.insurance_year,
        kind=payload.kind,
        status=payload.status,
        amount=payload.amount,
        event_id=str(event.event_id),
    )


def payment_events(
    state: PersonState,
    p: TaxPayment,
    originals: Mapping[str, OriginalPayment],
    refunded: Mapping[str, Decimal],
) -> list[EventPayload]:
    """The events one new message appends to its person's stream, or ``DomainError``."""
    if p.insurance_year not in state.years:
        raise Rejected(
            Reason.NOT_REGISTERED_FOR_YEAR,
            f"the person is not registered for {p.insurance_year}",
        )
    if p.kind is MessageKind.REFUND:
        # a refund takes back what it refunded: an unpaid subsidy is cancelled, a paid one
        # flagged for reclaim (004 §二(二), SPEC §7)
        payloads = [refund(state.psn_no, p, originals, refunded)]
        return payloads + subsidies.reconcile(then(state, payloads, p.paid_at), p.insurance_year)
    payloads = record_payment(
        state,
        insurance_year=p.insurance_year,
        amount=p.amount,
        payer=p.payer,
        channel=p.channel,
        tax_serial=p.tax_serial,
        paid_at=p.paid_at,
    )
    assert payloads, "record_payment refused a serial the caller checked was new"
    return payloads + subsidies.reconcile(then(state, payloads, p.paid_at), p.insurance_year)


def record_payment(
    state: PersonState,
    *,
    insurance_year: int,
    amount: Decimal,
    payer: Payer,
    channel: Channel,
    tax_serial: str,
    paid_at: datetime,
) -> list[EventPayload]:
    """A confirmed payment; ``[]`` when its ``tax_serial`` was already recorded."""
    if tax_serial in state.tax_serials:
        return []
    refuse_after_death(state)
    if insurance_year not in state.years:
        raise DomainError(
            "NOT_REGISTERED_FOR_YEAR", f"the person is not registered for {insurance_year}"
        )
    if amount <= 0:
        raise DomainError("INVALID_AMOUNT", "a payment amount must be positive")
    return [
        PremiumPaid(
            insurance_year=insurance_year,
            amount=amount,
            payer=payer,
            channel=channel,
            tax_serial=tax_serial,
            paid_at=paid_at,
        )
    ]


def refund(
    psn_no: str,
    p: TaxPayment,
    originals: Mapping[str, OriginalPayment],
    refunded: Mapping[str, Decimal],
) -> EventPayload:
    """Money given back for an applied payment: never more than it, never another person's."""
    assert p.original_tax_serial is not None
    original = originals.get(p.original_tax_serial)
    if original is None:
        raise Rejected(
            Reason.UNKNOWN_ORIGINAL_PAYMENT,
            f"no applied payment has tax_serial {p.original_tax_serial}",
        )
    if original.psn_no != psn_no or original.insurance_year != p.insurance_year:
        raise Rejected(
            Reason.INVALID_FIELD, "the refund's person or year differs from its original payment"
        )
    already = refunded.get(p.original_tax_serial, ZERO)
    if already + p.amount > original.amount:
        raise Rejected(
            Reason.REFUND_EXCEEDS_PAYMENT,
            f"refunds would exceed the original payment of {original.amount:.2f}",
        )
    return PremiumRefunded(
        insurance_year=p.insurance_year,
        amount=p.amount,
        tax_serial=p.tax_serial,
        original_tax_serial=p.original_tax_serial,
        refunded_at=p.paid_at,
    )


# --- the unmatched list ----------------------------------------------------------------------


def dedup_key(miss: Miss) -> str:
    """What keeps a message from being listed twice: its serial, else the hash of its bytes."""
    return miss.tax_serial or raw_key(miss.incoming.raw)


def unmatched_row(miss: Miss) -> UnmatchedRow:
    """The unmatched-list row of a miss."""
    return UnmatchedRow(
        dedup_key(miss), miss.tax_serial, miss.reason, miss.message, miss.incoming.raw
    )


def dead_letter(miss: Miss, now: datetime) -> str:
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
