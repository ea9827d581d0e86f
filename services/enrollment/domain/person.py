"""A person's commands, pure: each checks the rules against the folded ``PersonState``
(``state.py``) and returns the new event payloads, or raises ``DomainError``.

No database, web or broker here. Premium amounts come from rules passed in (``RulesFor``), and
"today" is an argument, so every rule is a plain function of its inputs.

Decisions where the sources are silent (SPEC §4, 004):

* A registration never resets an identity: a blank (or ``ordinary``) identity and an unset
  assistance flag keep what the person holds on the registration date (a special person
  re-registered for a new year from a school list stays special, SPEC §7).
* An identity change takes effect on the 1st of the month it is recorded in (004 "当月": a change
  recorded in March is effective 1 March). An earlier month is a back-dated change: only the
  district role may record it (``may_backdate``); a later month is refused. An exit from special
  status needs an ``evidence_ref`` (004 §二(一)2: "收集特殊人员退出证明材料").
* A change alters the premium due of every year the person is registered for from the year of
  ``effective_from`` on — never upwards for the year it falls in (that year's premium was set when
  it was collected: an exit in October does not take the year's cover away). For each year whose
  amount changes, a ``premium-due-changed`` event follows the ``identity-changed`` one. Settlement
  learns amounts only from these events; what was paid above the new amount comes back as a
  subsidy (``subsidies.py``).
* The identity timeline only moves forward: a change dated before the last one is refused.
* After death nothing but a new ``settlement_deadline`` (extension or earlier final stop, within
  date of death + 3 months) is accepted; the date of death itself cannot be changed.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from services.enrollment.domain.calendar import Month
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

    def held(self, state: PersonState | None, on: date) -> tuple[Identity, bool]:
        """The identity and flag to register with: the request's, or what the person holds on
        ``on`` where the request leaves them blank (never reset)."""
        period = state.identity_on(on) if state is not None else None
        if period is None:
            return self.identity, self.medical_assistance
        identity = period.identity if self.identity is Identity.ORDINARY else self.identity
        return identity, self.medical_assistance or period.medical_assistance


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
    identity, medical_assistance = request.held(state, today)
    return [
        Registered(
            certno=parsed.value,
            name=request.name.strip(),
            gender=Gender(parsed.gender),
            birth_date=parsed.birth_date,
            category=request.category,
            identity=identity,
            medical_assistance=medical_assistance,
            region=request.region,
            organization=request.organization,
            insurance_year=request.insurance_year,
            premium_due=premium_due(rules, request.category, identity),
        )
    ]


def outside_window(rules: PremiumRules, registered: EventPayload, today: date) -> bool:
    """Whether a registration made ``today`` falls outside its year's registration window.

    A special person is registered in the month they are added, whenever that is (004 §二(一)1),
    so only ordinary registrations have a window; rules without a calendar have none.
    """
    if not isinstance(registered, Registered) or rules.calendar is None:
        return False
    if registered.identity is not Identity.ORDINARY:
        return False
    return not rules.calendar.in_window(today)


def recorded_month(effective_from: date | None, today: date, *, may_backdate: bool) -> date:
    """The date a change recorded ``today`` takes effect: the 1st of ``effective_from``'s month
    (default: this month). An earlier month needs ``may_backdate``; a later one is refused."""
    month = Month.of(effective_from or today)
    current = Month.of(today)
    if month > current:
        raise DomainError(
            "INVALID_EFFECTIVE_DATE",
            f"a change takes effect in the month it is recorded ({current}), not in {month}",
        )
    if month < current and not may_backdate:
        raise DomainError(
            "BACKDATE_NOT_ALLOWED",
            f"a change effective before this month ({current}) needs the district role",
        )
    return month.first


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
    # the timeline is kept in date order: a change dated before its latest period (a change,
    # or the registration that started it) would be overridden by it, so it is refused
    started = state.timeline[-1].effective_from if state.timeline else date.min
    latest = max(state.last_change_from or date.min, started)
    if effective_from < latest:
        raise DomainError(
            "EFFECTIVE_DATE_BEFORE_LAST_CHANGE",
            f"effective_from {effective_from} is before the last change ({latest})",
        )
    if effective_from < state.birth_date:
        raise DomainError("INVALID_EFFECTIVE_DATE", "effective_from is before the birth date")
    if not reason.strip():
        raise DomainError("INVALID_REASON", "a change needs a reason")
    leaving = identity is Identity.ORDINARY and state.identity is not Identity.ORDINARY
    if leaving and not (evidence_ref or "").strip():
        raise DomainError(
            "EVIDENCE_REQUIRED", "an exit from special status needs an evidence_ref (004 §二(一)2)"
        )
    new: list[EventPayload] = [
        IdentityChanged(
            identity=identity,
            medical_assistance=medical_assistance,
            effective_from=effective_from,
            reason=reason,
            evidence_ref=evidence_ref,
        )
    ]
    return new + premium_changes(state, identity, effective_from, rules_for)


def premium_changes(
    state: PersonState,
    identity: Identity,
    effective_from: date,
    rules_for: RulesFor,
    *,
    raise_current: bool = False,
) -> list[EventPayload]:
    """``premium-due-changed`` for each registered year from ``effective_from``'s on whose
    amount the new identity alters; never upwards for the year the change falls in, unless
    ``raise_current`` (the carry-over list sets a year's identity from its first day)."""
    new: list[EventPayload] = []
    for year in sorted(state.years):
        record = state.years[year]
        if year < effective_from.year:
            continue
        due = premium_due(rules_for(record.region, year), record.category, identity)
        raises = year == effective_from.year and due > record.premium_due and not raise_current
        if due != record.premium_due and not raises:
            new.append(
                PremiumDueChanged(
                    insurance_year=year,
                    premium_due=due,
                    reason=f"identity {record.identity.value} -> {identity.value}",
                )
            )
    return new


def assistance_flag(
    state: PersonState, flagged: bool, effective_from: date, reason: str, evidence_ref: str
) -> list[EventPayload]:
    """Set the medical-assistance flag from a date, the identity in force then unchanged (the
    monthly list, 004 §二(一)4). ``[]`` when the flag already is so on that date. Unlike an
    identity change it may fall before a later change (a list uploaded after the carry-over
    froze the next 1 January): the timeline keeps the periods in date order."""
    refuse_after_death(state)
    period = state.identity_on(effective_from)
    held = period.identity if period is not None else state.identity
    if period is not None and period.medical_assistance == flagged:
        return []
    if period is None and state.medical_assistance == flagged:
        return []
    return [
        IdentityChanged(
            identity=held,
            medical_assistance=flagged,
            effective_from=effective_from,
            reason=reason,
            evidence_ref=evidence_ref,
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


def refuse_after_death(state: PersonState) -> None:
    if state.deceased:
        raise DomainError(
            "ALREADY_DECEASED",
            f"the person died on {state.date_of_death}; only the settlement deadline can change",
        )
