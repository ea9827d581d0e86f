"""Who a handler acts for and what they may see (SPEC §8), pure.

A ``Caller`` is the staff member behind a request, or a system (a console command, a feed).
Handlers take one, so the scope is enforced where the data is read, not only at the door:

* ``scope`` filters a handler's list queries (a district's region prefix, a town's organization);
* ``sees_person`` guards each person a handler loads — outside the scope reads as not found;
* ``event_actor`` names the caller on the events a handler appends, ``actor`` on its audit rows;
* ``whole_certnos`` says whether a listing may carry whole ID numbers (else they are masked).

A person belongs where their latest registered year puts them (``person_place``): a person who
moved to another town last year is that town's now.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.enrollment.domain.staff import (
    CITY_WIDE,
    Action,
    Actor,
    Forbidden,
    Role,
    Staff,
    in_scope,
    may,
)
from services.enrollment.domain.state import PersonState
from shared.events import SYSTEM_ACTOR, staff_actor


@dataclass(frozen=True, slots=True)
class Scope:
    """The registrations a caller's lists may hold, as a query filter.

    ``everything`` for city-wide roles and systems; otherwise a region prefix (district) or an
    organization (town); a scoped role with neither (a department) sees no one's records.
    """

    everything: bool = False
    region_prefix: str | None = None
    organization: str | None = None

    def holds(self, region: str | None, organization: str | None) -> bool:
        """Whether a registration in ``region`` / ``organization`` lies inside this scope."""
        if self.everything:
            return True
        if self.region_prefix is not None:
            return region is not None and region.startswith(self.region_prefix)
        if self.organization is not None:
            return organization is not None and organization.strip() == self.organization
        return False


EVERYTHING = Scope(everything=True)


class Listing(StrEnum):
    """The bulk answers that carry ID numbers."""

    BASIC_DATA = "basic_data"
    SUBSIDIES = "subsidies"
    REPORTS = "reports"


WHOLE_CERTNOS: dict[Listing, frozenset[Role]] = {Listing.BASIC_DATA: frozenset({Role.TAX})}
"""Where a role needs whole ID numbers (SPEC §8: basic data for ``tax``); masked elsewhere."""


def person_place(state: PersonState) -> tuple[str, str] | None:
    """(region, organization) of the person's latest registered year; None if none."""
    if not state.years:
        return None
    latest = state.years[max(state.years)]
    return latest.region, latest.organization


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a handler acts for: a staff member (``of``) or a system (``system``)."""

    actor: Actor
    staff: Staff | None = None

    @classmethod
    def of(cls, staff: Staff) -> Caller:
        return cls(staff.actor, staff)

    @classmethod
    def system(cls, actor: Actor | None = None) -> Caller:
        """A console command or job: city-wide, allowed everything, events by ``system``."""
        return cls(actor or Actor(SYSTEM_ACTOR, "system"))

    @property
    def event_actor(self) -> str:
        """The ``actor`` of the events this caller writes."""
        if self.staff is None:
            return SYSTEM_ACTOR
        return staff_actor(self.staff.name, self.staff.role.value)

    def may(self, action: Action) -> bool:
        return self.staff is None or may(self.staff.role, action)

    def check(self, action: Action) -> None:
        """Refuse (403 ``FORBIDDEN``) unless the role table allows ``action``."""
        if self.staff is not None and not may(self.staff.role, action):
            raise Forbidden(f"the {self.staff.role.value} role may not do {action.value}")

    @property
    def scope(self) -> Scope:
        staff = self.staff
        if staff is None or staff.role in CITY_WIDE:
            return EVERYTHING
        if staff.role is Role.DISTRICT:
            return Scope(region_prefix=staff.region)
        if staff.role is Role.TOWN:
            return Scope(organization=staff.organization)
        return Scope()

    def sees(self, *, region: str | None, organization: str | None) -> bool:
        """Whether a registration in this region and organization is inside the scope."""
        return self.staff is None or in_scope(self.staff, region=region, organization=organization)

    def sees_source(self, source: str) -> bool:
        """Whether a department's list of ``source`` is this caller's to hand in or read."""
        return self.staff is None or in_scope(self.staff, source=source)

    def sees_person(self, state: PersonState) -> bool:
        """Whether the person is inside the scope (where their latest registration puts them)."""
        place = person_place(state)
        if place is None:
            return self.staff is None or self.staff.role in CITY_WIDE
        return self.sees(region=place[0], organization=place[1])

    def whole_certnos(self, listing: Listing) -> bool:
        """Whether ``listing`` may carry whole ID numbers for this caller (else masked)."""
        return self.staff is None or self.staff.role in WHOLE_CERTNOS.get(listing, frozenset())
