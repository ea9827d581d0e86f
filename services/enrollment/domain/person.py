"""A person's commands, pure: each checks the rules against the folded ``PersonState``
(``state.py``) and returns the new event payloads, or raises ``DomainError``.

No database, web or broker here. Premium amounts come from rules passed in (``RulesFor``), and
"today" is an argument, so every rule is a plain function of its inputs.

Decisions where the sources are silent (SPEC §4, 004):

* An identity change takes effect from ``effective_from`` (the caller defaults it to the first
  day of the month it is recorded in, 004 "当月生效"). It changes the premium due of every year the
  person is registered for from the year of ``effective_from`` on; for each such year whose amount
  changes, a ``premium-due-changed`` event follows the ``identity-changed`` one. Settlement learns
  amounts only from these events. Refunds of what was paid above the new amount are issue #4's.
* The identity timeline only moves forward: a change dated before the last one is refused.
* After death nothing but a new ``settlement_deadline`` (extension or earlier final stop, within
  date of death + 3 months) is accepted; the date of death itself cannot be changed.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from services.enrollment.domain.errors import DomainError
from services.enrollment.domain.premiums import PremiumRules, premium_due
from services.enrollment.domain.state import PersonState
from shared import certno as certnos
from shared.events import (
    Category,
    DeceasedStop,
    EventPayload,
    Gender,
    Identity,
    IdentityChanged,
    PremiumDueChanged,
    Registered,
)

RulesFor = Callable[[str, int], PremiumRules]
"""(region, insurance_year) -> the premium rules; raises DomainError NO_PREMIUM_RULES."""

DEADLINE_MONTHS = 1
DEADLINE_LIMIT_MONTHS = 3


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
    refuse_after_death(state)
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


def refuse_after_death(state: PersonState) -> None:
    if state.deceased:
        raise DomainError(
            "ALREADY_DECEASED",
            f"the person died on {state.date_of_death}; only the settlement deadline can change",
        )
