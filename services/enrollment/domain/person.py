"""The enrollment domain, pure: a person's events fold into ``PersonState``; commands check the
rules against that state and return the new event payloads, or raise ``DomainError``.

No database, web or broker here. Premium amounts come from rules passed in (``RulesFor``), and
"today" is an argument, so every rule is a plain function of its inputs.

Decisions where the sources are silent (SPEC §4, 004):

* An identity change takes effect from ``effective_from`` (the caller defaults it to the first
  day of the month it is recorded in, 004 "当月生效"). It changes the premium due of every year the
  person is registered for from the year of ``effective_from`` on; for each such year whose amount
  changes, a ``premium-due-changed`` event follows the ``identity-changed`` one. Settlement learns
  amounts only from these events. Refunds of what was paid above the new amount are issue #4's.
* The identity timeline only moves forward: a change dated before the last one is refused.
* A payment whose ``tax_serial`` is already in the stream is a no-op (the feed redelivers).
* After death nothing but a new ``settlement_deadline`` (extension or earlier final stop, within
  date of death + 3 months) is accepted; the date of death itself cannot be changed.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

from services.enrollment.domain.premiums import PremiumRules, premium_due
from shared import certno as certnos
from shared.events import (
    Category,
    Channel,
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
)
from shared.money import ZERO

RulesFor = Callable[[str, int], PremiumRules]
"""(region, insurance_year) -> the premium rules; raises DomainError NO_PREMIUM_RULES."""

DEADLINE_MONTHS = 1
DEADLINE_LIMIT_MONTHS = 3


class DomainError(Exception):
    """A rule refused a command; ``code`` is stable (API clients switch on it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- state -----------------------------------------------------------------------------------


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


# --- commands --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Registration:
    """What a registration request says (SPEC §6)."""

    certno: str
    name: str
    category: Category
    region: str
    organization: str
    insurance_year: int
    identity: Identity = Identity.ORDINARY
    medical_assistance: bool = False


def normalise_certno(raw: str, today: date) -> certnos.Certno:
    """Parse a certno or raise ``INVALID_CERTNO`` (the message never echoes the number)."""
    try:
        return certnos.parse(raw, today=today)
    except certnos.InvalidCertno as exc:
        raise DomainError("INVALID_CERTNO", str(exc)) from exc


def register(
    state: PersonState | None, request: Registration, rules_for: RulesFor, today: date
) -> list[EventPayload]:
    """Register for a year; ``[]`` when already registered for it (the existing one stands)."""
    parsed = normalise_certno(request.certno, today)
    if state is not None:
        if state.certno != parsed.value:
            raise ValueError("register() given the state of another person")
        if request.insurance_year in state.years:
            return []
        if state.deceased:
            raise DomainError("ALREADY_DECEASED", "the person is recorded as deceased")
    if not request.name.strip():
        raise DomainError("INVALID_NAME", "name must not be empty")
    if not (len(request.region) == 6 and request.region.isdigit()):
        raise DomainError("INVALID_REGION", "region must be a 6-digit division code")
    if not parsed.birth_date.year <= request.insurance_year <= today.year + 1:
        raise DomainError(
            "INVALID_INSURANCE_YEAR",
            f"insurance_year must be between the year of birth ({parsed.birth_date.year})"
            f" and next year ({today.year + 1})",
        )
    rules = rules_for(request.region, request.insurance_year)
    return [
        Registered(
            certno=parsed.value,
            name=request.name.strip(),
            gender=Gender(parsed.gender),
            birth_date=parsed.birth_date,
            category=request.category,
            identity=request.identity,
            medical_assistance=request.medical_assistance,
            region=request.region,
            organization=request.organization,
            insurance_year=request.insurance_year,
            premium_due=premium_due(rules, request.category, request.identity),
        )
    ]


def change_identity(
    state: PersonState,
    *,
    identity: Identity,
    medical_assistance: bool,
    effective_from: date,
    reason: str,
    evidence_ref: str | None,
    rules_for: RulesFor,
) -> list[EventPayload]:
    """Change the identity from a date; adds ``premium-due-changed`` for each year it alters."""
    _refuse_after_death(state)
    if (identity, medical_assistance) == (state.identity, state.medical_assistance):
        return []
    if state.last_change_from and effective_from < state.last_change_from:
        raise DomainError(
            "EFFECTIVE_DATE_BEFORE_LAST_CHANGE",
            f"effective_from {effective_from} is before the last change ({state.last_change_from})",
        )
    if effective_from < state.birth_date:
        raise DomainError("INVALID_EFFECTIVE_DATE", "effective_from is before the birth date")
    new: list[EventPayload] = [
        IdentityChanged(
            identity=identity,
            medical_assistance=medical_assistance,
            effective_from=effective_from,
            reason=reason,
            evidence_ref=evidence_ref,
        )
    ]
    for year in sorted(state.years):
        record = state.years[year]
        if year < effective_from.year:
            continue
        due = premium_due(rules_for(record.region, year), record.category, identity)
        if due != record.premium_due:
            new.append(
                PremiumDueChanged(
                    insurance_year=year,
                    premium_due=due,
                    reason=f"identity {record.identity.value} -> {identity.value}",
                )
            )
    return new


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
    _refuse_after_death(state)
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


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def record_death(
    state: PersonState,
    *,
    date_of_death: date,
    settlement_deadline: date | None,
    today: date,
) -> list[EventPayload]:
    """Record a death (deadline = death + 1 month) or move the deadline (never past + 3 months)."""
    if state.deceased:
        if date_of_death != state.date_of_death:
            raise DomainError(
                "ALREADY_DECEASED",
                f"death already recorded on {state.date_of_death}; only the settlement deadline"
                " can change",
            )
        if settlement_deadline is None or settlement_deadline == state.settlement_deadline:
            return []
    if date_of_death > today:
        raise DomainError("INVALID_DATE_OF_DEATH", "date_of_death is in the future")
    if date_of_death < state.birth_date:
        raise DomainError("INVALID_DATE_OF_DEATH", "date_of_death is before the birth date")
    limit = add_months(date_of_death, DEADLINE_LIMIT_MONTHS)
    deadline = settlement_deadline or add_months(date_of_death, DEADLINE_MONTHS)
    if deadline > limit:
        raise DomainError(
            "DEADLINE_BEYOND_LIMIT",
            f"settlement_deadline {deadline} is later than date of death + 3 months ({limit})",
        )
    if deadline < date_of_death:
        raise DomainError(
            "DEADLINE_BEFORE_DEATH", "settlement_deadline is before the date of death"
        )
    return [DeceasedStop(date_of_death=date_of_death, settlement_deadline=deadline)]


def _refuse_after_death(state: PersonState) -> None:
    if state.deceased:
        raise DomainError(
            "ALREADY_DECEASED",
            f"the person died on {state.date_of_death}; only the settlement deadline can change",
        )
