"""A person's state, folded from their event stream (pure).

``fold`` replays a stream into ``PersonState``: everything the rules (``person.py``,
``payments.py``, ``subsidies.py``) need to know about one person. Event types this module does not
know leave the state as it is, so a newer event never breaks an older reader.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

from shared.events import (
    Category,
    DeceasedStop,
    Event,
    EventPayload,
    Gender,
    Identity,
    IdentityChanged,
    PremiumDueChanged,
    PremiumPaid,
    PremiumRefunded,
    Registered,
    SubsidyGranted,
)
from shared.money import ZERO


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

    @property
    def covered(self) -> bool:
        """Coverage is active once confirmed payments reach the amount due (SPEC §4)."""
        return self.premium_paid >= self.premium_due


@dataclass(frozen=True, slots=True)
class IdentityPeriod:
    effective_from: date
    identity: Identity
    medical_assistance: bool


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

    @property
    def deceased(self) -> bool:
        return self.date_of_death is not None


def fold(events: Iterable[Event]) -> PersonState | None:
    """The state after a stream (``None`` for an empty stream)."""
    state: PersonState | None = None
    for event in events:
        state = apply(state, event)
    return state


def apply(state: PersonState | None, event: Event) -> PersonState:
    """One step of the fold. Event types this module does not know leave the state as it is."""
    payload = event.payload
    if state is None:
        if not isinstance(payload, Registered):
            raise ValueError(f"stream {event.psn_no} does not start with registered")
        state = PersonState(
            psn_no=event.psn_no,
            version=0,
            certno=payload.certno,
            name=payload.name,
            gender=payload.gender,
            birth_date=payload.birth_date,
            identity=payload.identity,
            medical_assistance=payload.medical_assistance,
        )
    state = replace(state, version=event.stream_version)
    if isinstance(payload, Registered):
        return _apply_registered(state, payload, event.occurred_at)
    if isinstance(payload, IdentityChanged):
        return _apply_identity(state, payload)
    if isinstance(payload, PremiumDueChanged):
        return _with_year(state, payload.insurance_year, premium_due=payload.premium_due)
    if isinstance(payload, PremiumPaid):
        record = state.years.get(payload.insurance_year)
        paid = (record.premium_paid if record else ZERO) + payload.amount
        state = replace(state, tax_serials=state.tax_serials | {payload.tax_serial})
        return _with_year(state, payload.insurance_year, premium_paid=paid)
    if isinstance(payload, PremiumRefunded):
        record = state.years.get(payload.insurance_year)
        paid = (record.premium_paid if record else ZERO) - payload.amount
        state = replace(state, tax_serials=state.tax_serials | {payload.tax_serial})
        return _with_year(state, payload.insurance_year, premium_paid=paid)
    if isinstance(payload, SubsidyGranted):
        record = state.years.get(payload.insurance_year)
        if record is None or payload.status == "pending_policy":
            return state
        return _with_year(
            state, payload.insurance_year, subsidised=record.subsidised + payload.amount
        )
    if isinstance(payload, DeceasedStop):
        return replace(
            state,
            date_of_death=payload.date_of_death,
            settlement_deadline=payload.settlement_deadline,
        )
    return state


def _apply_registered(state: PersonState, p: Registered, occurred_at: datetime) -> PersonState:
    record = YearRecord(
        insurance_year=p.insurance_year,
        category=p.category,
        identity=p.identity,
        medical_assistance=p.medical_assistance,
        region=p.region,
        organization=p.organization,
        premium_due=p.premium_due,
    )
    # like an identity change, a registered identity counts from the month it was recorded in
    period = IdentityPeriod(occurred_at.date().replace(day=1), p.identity, p.medical_assistance)
    timeline = state.timeline
    if not timeline or (timeline[-1].identity, timeline[-1].medical_assistance) != (
        p.identity,
        p.medical_assistance,
    ):
        timeline = (*timeline, period)
    return replace(
        state,
        name=p.name,
        identity=p.identity,
        medical_assistance=p.medical_assistance,
        timeline=timeline,
        years={**state.years, p.insurance_year: record},
    )


def _apply_identity(state: PersonState, p: IdentityChanged) -> PersonState:
    years = {
        year: replace(record, identity=p.identity, medical_assistance=p.medical_assistance)
        if year >= p.effective_from.year
        else record
        for year, record in state.years.items()
    }
    period = IdentityPeriod(p.effective_from, p.identity, p.medical_assistance)
    return replace(
        state,
        identity=p.identity,
        medical_assistance=p.medical_assistance,
        timeline=(*state.timeline, period),
        years=years,
        last_change_from=p.effective_from,
    )


def _with_year(state: PersonState, year: int, **changes: object) -> PersonState:
    record = state.years.get(year)
    if record is None:  # a payment or amount for a year never registered: nothing to attach to
        return state
    return replace(state, years={**state.years, year: replace(record, **changes)})  # type: ignore[arg-type]


def numbered(
    psn_no: str,
    after_version: int,
    payloads: Sequence[EventPayload],
    occurred_at: datetime | None = None,
) -> list[Event]:
    """New events for a stream, numbered after the version the decision was based on."""
    return [
        Event.new(payload, psn_no=psn_no, stream_version=version, occurred_at=occurred_at)
        for version, payload in enumerate(payloads, start=after_version + 1)
    ]
