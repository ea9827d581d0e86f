"""The annual rollover, pure: who is registered for Y+1 before collection starts.

Everyone covered in Y (premium due paid) who is alive and not registered for Y+1 yet is registered
for Y+1 with the same category, region and organization, keeping the identity and assistance flag
they hold (a registration never resets an identity). So the basic data for Y+1 is complete before
the tax bureau starts collecting in September (000 §三: registration by 31 October). People not
covered in Y — who never paid — are left for their town to register: a rollover does not sign
anyone up who did not take part.
"""

from __future__ import annotations

from datetime import date

from services.enrollment.domain.person import Registration, RulesFor, register
from services.enrollment.domain.state import PersonState
from shared.events import EventPayload


def due_for_rollover(state: PersonState, from_year: int) -> bool:
    """Whether the person is one the rollover registers for ``from_year + 1``."""
    record = state.years.get(from_year)
    return (
        record is not None
        and record.covered
        and not state.deceased
        and from_year + 1 not in state.years
    )


def roll_over(
    state: PersonState, from_year: int, rules_for: RulesFor, today: date
) -> list[EventPayload]:
    """The ``registered`` event for ``from_year + 1`` (``[]`` when not due)."""
    if not due_for_rollover(state, from_year):
        return []
    record = state.years[from_year]
    request = Registration(
        certno=state.certno,
        name=state.name,
        category=record.category,
        region=record.region,
        organization=record.organization,
        insurance_year=from_year + 1,
    )
    return register(state, request, rules_for, today)
