"""A person's state, folded from their event stream (pure).

``fold`` replays a stream into ``PersonState``: everything the rules (``person.py``,
``payments.py``, ``subsidies.py``) need to know about one person. Event types this module does not
know leave the state as it is, so a newer event never breaks an older reader.

The identity timeline is kept in order of ``effective_from`` (a change may be recorded after one
that takes effect later: a month's assistance list uploaded after the carry-over freeze set the
next 1 January). The identity of a registered year is the one in force on its last day, once a
change reaches that year; ``identity_on(day)`` answers any other day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

from shared.events import (
    CarriedOver,
    Category,
    DeceasedStop,
    Event,
    EventPayload,
    Gender,
    Identity,
    IdentityChanged,
    Payer,
    PremiumDueChanged,
    PremiumPaid,
    PremiumRefunded,
    Registered,
    SubsidyGranted,
    SubsidyStatusChanged,
)
from shared.money import ZERO

T = TypeVar("T")


def replace(record: T, **changes: Any) -> T:
    """``dataclasses.replace`` for the frozen, slotted records of this module, without running
    ``__init__`` again: a fold replaces records for every event, and the generic one was most
    of its time. Every change must name a field."""
    cls: type = type(record)
    slots: tuple[str, ...] = getattr(cls, "__slots__")  # noqa: B009 (a dataclass(slots=True))
    if not changes.keys() <= _names(cls):
        raise TypeError(f"{cls.__name__} has no field {set(changes) - _names(cls)}")
    new: T = object.__new__(cls)
    for name in slots:
        object.__setattr__(new, name, changes[name] if name in changes else getattr(record, name))
    return new


@cache
def _names(cls: type) -> frozenset[str]:
    return frozenset(getattr(cls, "__slots__"))  # noqa: B009


COUNTED = frozenset({"payable", "paid", "paid_by_government"})
"""Subsidy statuses that count in ``YearRecord.subsidised`` (money granted and not taken back)."""


@dataclass(frozen=True, slots=True)
class YearRecord:
    """A person's registration for one insurance year and what stands against it."""

    insurance_year: int
    category: Category
    identity: Identity
    medical_assistance: bool
    region: str
    organization: str
    premium_due: Decimal
    premium_paid: Decimal = ZERO
    # Subsidies granted for the year (004 §二(二)), not counting those pending a policy.
    subsidised: Decimal = ZERO
    # On the frozen carry-over list for the year (004 §一): special from 1 January, not "added".
    carried_over: bool = False
    # The most the person was ever asked to pay personally for the year (a subsidy refunds what
    # they paid up to it), and their own (non-government) payments by tax serial, net of refunds.
    premium_base: Decimal = ZERO
    personal_payments: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def paid_personally(self) -> Decimal:
        """What the person (or their school) paid for the year, net of refunds."""
        return sum(self.personal_payments.values(), ZERO)

    @property
    def covered(self) -> bool:
        """Coverage is active once confirmed payments reach the amount due (SPEC §4)."""
        return self.premium_paid >= self.premium_due


@dataclass(frozen=True, slots=True)
class IdentityPeriod:
    """An identity and assistance flag in force from ``effective_from`` to the next period."""

    effective_from: date
    identity: Identity
    medical_assistance: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SubsidyRecord:
    """A subsidy granted to the person (its id is its ``subsidy-granted`` event's id)."""

    subsidy_id: str
    insurance_year: int
    kind: str
    amount: Decimal
    status: str
    tax_serial: str | None = None

    @property
    def counted(self) -> bool:
        return self.status in COUNTED


@dataclass(frozen=True, slots=True)
class PersonState:
    """Everything the rules need to know about one person, folded from the stream."""

    psn_no: str
    version: int
    certno: str
    name: str
    gender: Gender
    birth_date: date
    identity: Identity
    medical_assistance: bool
    timeline: tuple[IdentityPeriod, ...] = ()
    years: Mapping[int, YearRecord] = field(default_factory=dict)
    tax_serials: frozenset[str] = frozenset()
    last_change_from: date | None = None  # effective_from of the last identity-changed
    date_of_death: date | None = None
    settlement_deadline: date | None = None
    subsidies: Mapping[str, SubsidyRecord] = field(default_factory=dict)

    @property
    def deceased(self) -> bool:
        return self.date_of_death is not None

    def identity_on(self, day: date) -> IdentityPeriod | None:
        """The period in force on ``day`` (``None`` before the first one)."""
        current = None
        for period in self.timeline:
            if period.effective_from > day:
                break
            current = period
        return current


def fold(events: Iterable[Event]) -> PersonState | None:
    """The state after a stream (``None`` for an empty stream)."""
    state: PersonState | None = None
    for event in events:
        state = apply(state, event)
    return state


def apply(state: PersonState | None, event: Event) -> PersonState:
    """One step of the fold. Event types this module does not know leave the state as it is."""
    return _step(
        state,
        event.payload,
        event.psn_no,
        event.stream_version,
        event.occurred_at,
        str(event.event_id),
    )


def _step(
    state: PersonState | None,
    payload: EventPayload,
    psn_no: str,
    version: int,
    occurred_at: datetime,
    event_id: str,
) -> PersonState:
    if state is None:
        if not isinstance(payload, Registered):
            raise ValueError(f"stream {psn_no} does not start with registered")
        state = PersonState(
            psn_no=psn_no,
            version=0,
            certno=payload.certno,
            name=payload.name,
            gender=payload.gender,
            birth_date=payload.birth_date,
            identity=payload.identity,
            medical_assistance=payload.medical_assistance,
        )
    # Each branch replaces the state once, the new version with it: a fold replaces the state
    # for every event, and that is most of what folding costs.
    if isinstance(payload, Registered):
        return _apply_registered(state, payload, occurred_at, version)
    if isinstance(payload, IdentityChanged):
        return _apply_identity(state, payload, version)
    if isinstance(payload, PremiumDueChanged):
        record = state.years.get(payload.insurance_year)
        base = max(record.premium_base, payload.premium_due) if record else payload.premium_due
        return _with_year(
            state,
            payload.insurance_year,
            version,
            premium_due=payload.premium_due,
            premium_base=base,
        )
    if isinstance(payload, PremiumPaid | PremiumRefunded):
        return _apply_money(state, payload, version)
    if isinstance(payload, SubsidyGranted | SubsidyStatusChanged):
        return _apply_subsidy(state, payload, event_id, version)
    if isinstance(payload, CarriedOver):
        return _with_year(state, payload.insurance_year, version, carried_over=True)
    if isinstance(payload, DeceasedStop):
        return replace(
            state,
            version=version,
            date_of_death=payload.date_of_death,
            settlement_deadline=payload.settlement_deadline,
        )
    return replace(state, version=version)


def _apply_registered(
    state: PersonState, p: Registered, occurred_at: datetime, version: int
) -> PersonState:
    record = YearRecord(
        insurance_year=p.insurance_year,
        category=p.category,
        identity=p.identity,
        medical_assistance=p.medical_assistance,
        region=p.region,
        organization=p.organization,
        premium_due=p.premium_due,
        premium_base=p.premium_due,
    )
    # like an identity change, a registered identity counts from the month it was recorded in
    start = occurred_at.date().replace(day=1)
    held = state.identity_on(start)
    timeline = state.timeline
    if held is None or (held.identity, held.medical_assistance) != (
        p.identity,
        p.medical_assistance,
    ):
        timeline = _insert(timeline, IdentityPeriod(start, p.identity, p.medical_assistance))
    return replace(
        state,
        version=version,
        name=p.name,
        identity=timeline[-1].identity,
        medical_assistance=timeline[-1].medical_assistance,
        timeline=timeline,
        years={**state.years, p.insurance_year: record},
    )


def _apply_identity(state: PersonState, p: IdentityChanged, version: int) -> PersonState:
    period = IdentityPeriod(p.effective_from, p.identity, p.medical_assistance, p.reason)
    state = replace(state, timeline=_insert(state.timeline, period))
    years = {}
    for year, record in state.years.items():
        in_force = state.identity_on(date(year, 12, 31)) if year >= p.effective_from.year else None
        if in_force is not None:
            record = replace(
                record, identity=in_force.identity, medical_assistance=in_force.medical_assistance
            )
        years[year] = record
    latest = state.timeline[-1]
    last = max(state.last_change_from or p.effective_from, p.effective_from)
    return replace(
        state,
        version=version,
        identity=latest.identity,
        medical_assistance=latest.medical_assistance,
        years=years,
        last_change_from=last,
    )


def _insert(
    timeline: tuple[IdentityPeriod, ...], period: IdentityPeriod
) -> tuple[IdentityPeriod, ...]:
    """The timeline with ``period`` in its place (after periods of the same or earlier date)."""
    at = len(timeline)
    while at and timeline[at - 1].effective_from > period.effective_from:
        at -= 1
    return (*timeline[:at], period, *timeline[at:])


def _apply_money(state: PersonState, p: PremiumPaid | PremiumRefunded, version: int) -> PersonState:
    record = state.years.get(p.insurance_year)
    serials = state.tax_serials | {p.tax_serial}
    if record is None:
        return replace(state, version=version, tax_serials=serials)
    personal = dict(record.personal_payments)
    if isinstance(p, PremiumPaid):
        paid = record.premium_paid + p.amount
        if p.payer is not Payer.GOVERNMENT:
            personal[p.tax_serial] = p.amount
    else:
        paid = record.premium_paid - p.amount
        original = p.original_tax_serial
        if original in personal:
            personal[original] = personal[original] - p.amount
    return _with_year(
        state,
        p.insurance_year,
        version,
        {"tax_serials": serials},
        premium_paid=paid,
        personal_payments=personal,
    )


def _apply_subsidy(
    state: PersonState, p: SubsidyGranted | SubsidyStatusChanged, event_id: str, version: int
) -> PersonState:
    if isinstance(p, SubsidyGranted):
        before = None
        after = SubsidyRecord(event_id, p.insurance_year, p.kind, p.amount, p.status, p.tax_serial)
    else:
        before = state.subsidies.get(p.subsidy_id)
        if before is None:
            return replace(state, version=version)
        after = replace(before, status=p.status)
    held = {"subsidies": {**state.subsidies, after.subsidy_id: after}}
    record = state.years.get(after.insurance_year)
    if record is None:
        return replace(state, version=version, **held)
    delta = (after.amount if after.counted else ZERO) - (
        before.amount if before is not None and before.counted else ZERO
    )
    subsidised = record.subsidised + delta
    return _with_year(state, after.insurance_year, version, held, subsidised=subsidised)


def _with_year(
    state: PersonState,
    year: int,
    version: int,
    also: dict[str, Any] | None = None,
    **changes: Any,
) -> PersonState:
    """The state with ``changes`` to the year's record (and ``also`` to the state itself)."""
    record = state.years.get(year)
    if record is None:  # a payment or amount for a year never registered: nothing to attach to
        return replace(state, version=version, **(also or {}))
    years = {**state.years, year: replace(record, **changes)}
    return replace(state, version=version, years=years, **(also or {}))


def then(state: PersonState | None, payloads: Sequence[EventPayload], at: datetime) -> PersonState:
    """The state after payloads not appended yet, to decide what must follow them (``None``: a
    new person, whose first payload is their registration). Subsidies granted here have
    placeholder ids: a decision refers only to those granted before it."""
    assert state is not None or payloads, "then() of nobody with nothing"
    psn_no = state.psn_no if state is not None else "new"
    first = state.version + 1 if state is not None else 1
    for version, payload in enumerate(payloads, start=first):
        state = _step(state, payload, psn_no, version, at, f"preview-{version}")
    assert state is not None
    return state


def numbered(
    psn_no: str,
    after_version: int,
    payloads: Sequence[EventPayload],
    occurred_at: datetime | None = None,
    *,
    actor: str,
) -> list[Event]:
    """New events for a stream, numbered after the version the decision was based on, each
    naming its ``actor`` (who wrote it: ``shared.events`` says the forms)."""
    return [
        Event.new(
            payload, psn_no=psn_no, stream_version=version, occurred_at=occurred_at, actor=actor
        )
        for version, payload in enumerate(payloads, start=after_version + 1)
    ]
