"""Premium subsidies for special persons (004 §二(二), SPEC §7), as pure rules.

Which subsidy a person has for year Y depends on when their special identity began — the start
of the run of special periods in the identity timeline that reaches into Y — and on whether the
frozen carry-over list for Y named them. The cut-off is 30 June of Y, the 30th included.

* Carried over for Y, or special since before Y: ``paid_on_behalf`` — the government pays the
  personal premium (the district sends the tax bureau the on-behalf list, 代缴).
* Added in Y on or before 30 June: ``paid_on_behalf`` too (§二(二)1); ``poverty_registered`` added
  in Y waits for the city's policy (``pending_policy``: "待柳州市政策明确").
* Added after 30 June: ``refund_after_payment`` — they pay, then get 100 % back (§二(二)2);
  ``severe_disability`` added after 30 June: ``pending_policy``.
* New ``low_income_elderly`` (low-income, not minors): ``low_income_60`` — 60 % of what they paid
  personally, after payment, whatever the date (§二(二)3). ``low_income_minor`` follows the dates.

A subsidy answers the later of two facts, the payment or the identity taking effect: ``reconcile``
is asked after every change to a person (registration, identity change, carry-over, payment,
refund) and compares what the person is entitled to now with the subsidies they hold:

* paid on behalf and nothing paid personally yet: the premium due, paid to the tax bureau (on the
  on-behalf list, ``tax_serial`` empty); paid personally already (they became special after
  paying): what they paid, back to them, answering their payment (``tax_serial``);
* refunds after payment: what they paid personally (up to the most they were ever asked for the
  year) × the rate, answering their latest payment.

A subsidy that no longer matches is ``cancelled`` while ``payable`` (or ``pending_policy``) and
flagged ``reclaim`` once ``paid``; the new entitlement is granted beside it. So a refund of the
payment cancels an unpaid subsidy and flags a paid one. Once the premium was paid to the tax
bureau on the person's behalf, nothing changes any more for the year (a later personal payment is
an overpayment for the tax bureau to refund). An exit from special status during the year does not
take the year's subsidy away: the run that reached into the year still counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from services.enrollment.domain.errors import DomainError
from services.enrollment.domain.state import IdentityPeriod, PersonState, SubsidyRecord, then
from shared.events import (
    EventPayload,
    Identity,
    Payer,
    SubsidyGranted,
    SubsidyStatusChanged,
)
from shared.money import ZERO, quantize


class SubsidyKind(StrEnum):
    PAID_ON_BEHALF = "paid_on_behalf"
    REFUND_AFTER_PAYMENT = "refund_after_payment"
    LOW_INCOME_60 = "low_income_60"


class SubsidyStatus(StrEnum):
    PAYABLE = "payable"  # the bureau owes this amount (to the person, or the tax bureau)
    PENDING_POLICY = "pending_policy"  # recorded; the source defers it to a future policy
    PAID = "paid"  # the district recorded its payout
    CANCELLED = "cancelled"  # withdrawn before payout (its payment refunded, or superseded)
    RECLAIM = "reclaim"  # withdrawn after payout: the money is to be taken back
    PAID_BY_GOVERNMENT = "paid_by_government"  # before issue 11: settled through the tax feed


LIVE = frozenset(
    {
        SubsidyStatus.PAYABLE,
        SubsidyStatus.PENDING_POLICY,
        SubsidyStatus.PAID,
        SubsidyStatus.PAID_BY_GOVERNMENT,
    }
)
PAID_OUT = frozenset({SubsidyStatus.PAID, SubsidyStatus.PAID_BY_GOVERNMENT})


@dataclass(frozen=True, slots=True)
class SubsidyRule:
    """Which subsidy applies to a person for a year, before any money moved."""

    kind: SubsidyKind
    rate: Decimal
    status: SubsidyStatus


FULL = Decimal("1")
LOW_INCOME_RATE = Decimal("0.60")


def cutoff(insurance_year: int) -> date:
    """30 June of the insurance year: additions on or before it are paid on their behalf."""
    return date(insurance_year, 6, 30)


def rule_for(identity: Identity, added_on: date | None, insurance_year: int) -> SubsidyRule | None:
    """The subsidy rule for a person whose special identity began on ``added_on``.

    ``added_on`` None means carried over (on the frozen list for the year). ``None`` for
    ordinary persons.
    """
    if identity is Identity.ORDINARY:
        return None
    if added_on is None or added_on.year < insurance_year:
        return SubsidyRule(SubsidyKind.PAID_ON_BEHALF, FULL, SubsidyStatus.PAYABLE)
    if identity is Identity.LOW_INCOME_ELDERLY:
        return SubsidyRule(SubsidyKind.LOW_INCOME_60, LOW_INCOME_RATE, SubsidyStatus.PAYABLE)
    if added_on <= cutoff(insurance_year):
        pending = identity is Identity.POVERTY_REGISTERED
        status = SubsidyStatus.PENDING_POLICY if pending else SubsidyStatus.PAYABLE
        return SubsidyRule(SubsidyKind.PAID_ON_BEHALF, FULL, status)
    pending = identity is Identity.SEVERE_DISABILITY
    status = SubsidyStatus.PENDING_POLICY if pending else SubsidyStatus.PAYABLE
    return SubsidyRule(SubsidyKind.REFUND_AFTER_PAYMENT, FULL, status)


def special_run(state: PersonState, insurance_year: int) -> tuple[IdentityPeriod, date] | None:
    """The last special period in force during the year, and the day its run of special periods
    began (``None`` when the person was ordinary all year)."""
    first, last = date(insurance_year, 1, 1), date(insurance_year, 12, 31)
    timeline = state.timeline
    chosen = None
    for index, period in enumerate(timeline):
        ends = timeline[index + 1].effective_from if index + 1 < len(timeline) else None
        in_year = period.effective_from <= last and (ends is None or ends > first)
        if in_year and period.identity is not Identity.ORDINARY:
            chosen = index
    if chosen is None:
        return None
    start = chosen
    while start and timeline[start - 1].identity is not Identity.ORDINARY:
        start -= 1
    return timeline[chosen], timeline[start].effective_from


def rule_for_person(state: PersonState, insurance_year: int) -> SubsidyRule | None:
    """The rule for a registered person's year (see the module docstring)."""
    record = state.years.get(insurance_year)
    run = special_run(state, insurance_year)
    if record is None or run is None:
        return None
    period, began = run
    return rule_for(period.identity, None if record.carried_over else began, insurance_year)


def basic_data_payer(rule: SubsidyRule | None) -> Payer:
    """Who the basic data says pays the personal premium."""
    if rule is not None and rule.kind is SubsidyKind.PAID_ON_BEHALF:
        if rule.status is SubsidyStatus.PAYABLE:
            return Payer.GOVERNMENT
    return Payer.INDIVIDUAL


@dataclass(frozen=True, slots=True)
class Entitlement:
    """What a person is owed for a year now: ``tax_serial`` is the payment it answers (None:
    the premium itself, paid to the tax bureau on their behalf)."""

    kind: SubsidyKind
    status: SubsidyStatus
    amount: Decimal
    tax_serial: str | None


def entitlement(state: PersonState, insurance_year: int) -> Entitlement | None:
    """The subsidy the person is entitled to for the year, given what they paid so far."""
    rule = rule_for_person(state, insurance_year)
    record = state.years.get(insurance_year)
    if rule is None or record is None:
        return None
    paid = max(min(record.paid_personally, record.premium_base), ZERO)
    latest = next((s for s, v in reversed(list(record.personal_payments.items())) if v > 0), None)
    if rule.kind is SubsidyKind.PAID_ON_BEHALF and paid == ZERO:
        amount, serial = record.premium_due, None
    else:
        amount, serial = quantize(paid * rule.rate), latest
    if amount <= ZERO:
        return None
    return Entitlement(rule.kind, rule.status, quantize(amount), serial)


def _matches(held: SubsidyRecord, want: Entitlement) -> bool:
    pending = SubsidyStatus(held.status) is SubsidyStatus.PENDING_POLICY
    same = (held.kind, held.amount, held.tax_serial)
    return same == (want.kind.value, want.amount, want.tax_serial) and pending == (
        want.status is SubsidyStatus.PENDING_POLICY
    )


def _paid_on_behalf(held: SubsidyRecord) -> bool:
    """The premium itself went to the tax bureau for the person: the year is settled."""
    status = SubsidyStatus(held.status)
    to_tax_bureau = held.tax_serial is None or status is SubsidyStatus.PAID_BY_GOVERNMENT
    return held.kind == SubsidyKind.PAID_ON_BEHALF and status in PAID_OUT and to_tax_bureau


def reconcile(state: PersonState, insurance_year: int) -> list[EventPayload]:
    """The subsidy events that bring the year's subsidies in line with the entitlement."""
    live = [
        s
        for s in state.subsidies.values()
        if s.insurance_year == insurance_year and SubsidyStatus(s.status) in LIVE
    ]
    if any(_paid_on_behalf(s) for s in live):
        return []
    want = entitlement(state, insurance_year)
    kept = next((s for s in live if want is not None and _matches(s, want)), None)
    out: list[EventPayload] = []
    for held in live:
        if held is kept:
            continue
        status = SubsidyStatus.RECLAIM if held.status in PAID_OUT else SubsidyStatus.CANCELLED
        out.append(
            SubsidyStatusChanged(
                subsidy_id=held.subsidy_id,
                insurance_year=insurance_year,
                status=status.value,
                reason="004 §二(二): the entitlement changed (payment refunded or identity)",
            )
        )
    if want is not None and kept is None:
        out.append(
            SubsidyGranted(
                insurance_year=insurance_year,
                kind=want.kind.value,
                amount=want.amount,
                status=want.status.value,
                reason=_reason(want),
                tax_serial=want.tax_serial,
            )
        )
    return out


def settle(state: PersonState, years: Iterable[int], at: datetime) -> list[EventPayload]:
    """``reconcile`` for each of ``years`` the person is registered for, in order."""
    out: list[EventPayload] = []
    for year in sorted(set(years) & set(state.years)):
        step = reconcile(state, year)
        state = then(state, step, at)
        out += step
    return out


def _reason(want: Entitlement) -> str:
    if want.tax_serial is None:
        return "004 §二(二)1: personal premium paid on their behalf (代缴)"
    clause = {
        SubsidyKind.PAID_ON_BEHALF: "1",
        SubsidyKind.REFUND_AFTER_PAYMENT: "2",
        SubsidyKind.LOW_INCOME_60: "3",
    }[want.kind]
    return f"004 §二(二){clause}: on payment {want.tax_serial}"


def record_payout(
    state: PersonState, subsidy_id: str, *, paid_on: date, reference: str, today: date
) -> list[EventPayload]:
    """The district paid a subsidy out; ``[]`` when this payout was recorded already."""
    held = state.subsidies.get(subsidy_id)
    if held is None:
        raise DomainError("SUBSIDY_NOT_FOUND", f"no subsidy {subsidy_id}")
    if not reference.strip():
        raise DomainError("INVALID_REFERENCE", "reference must not be empty")
    if paid_on > today:
        raise DomainError("INVALID_DATE", "paid_on is in the future")
    status = SubsidyStatus(held.status)
    if status is SubsidyStatus.PAID:
        return []
    if status is not SubsidyStatus.PAYABLE:
        raise DomainError("SUBSIDY_NOT_PAYABLE", f"the subsidy is {status.value}, not payable")
    return [
        SubsidyStatusChanged(
            subsidy_id=subsidy_id,
            insurance_year=held.insurance_year,
            status=SubsidyStatus.PAID.value,
            reason="payout recorded by the district",
            paid_on=paid_on,
            reference=reference.strip(),
        )
    ]
