"""Who a handler acts for (domain/access.py): scope as a filter, a person's place, the actor of
events, where whole ID numbers may appear."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.enrollment.domain.access import EVERYTHING, Caller, Listing, Scope, person_place
from services.enrollment.domain.staff import Action, Actor, Forbidden, new_staff
from services.enrollment.domain.state import fold
from shared.events import Event
from tests.support.sample_events import wang_fang

pytestmark = pytest.mark.unit

TOWN = Caller.of(new_staff("wang", "town", organization="Dongchang street"))
DISTRICT = Caller.of(new_staff("li", "district", region="3715"))
DEPARTMENT = Caller.of(new_staff("zhao", "department", source="civil_affairs"))
TAX = Caller.of(new_staff("qian", "tax"))
CONSOLE = Caller.system(Actor("cli:root", "system"))


def person(*places: tuple[int, str, str]):
    events = [
        Event.new(
            wang_fang(
                region=region,
                organization=organization,
                insurance_year=year,
                premium_due=Decimal("400"),
            ),
            psn_no="P1",
            stream_version=n,
            occurred_at=datetime(2024, 1, 2, tzinfo=UTC),
            actor="system",
        )
        for n, (year, region, organization) in enumerate(places, start=1)
    ]
    return fold(events)


def test_scopes_as_query_filters():
    assert TOWN.scope == Scope(organization="Dongchang street")
    assert DISTRICT.scope == Scope(region_prefix="3715")
    assert DEPARTMENT.scope == Scope()  # a department reads no one's records
    assert TAX.scope is EVERYTHING and CONSOLE.scope is EVERYTHING
    assert DISTRICT.scope.holds("371502", "anything")
    assert not DISTRICT.scope.holds("110105", "Dongchang street")
    assert TOWN.scope.holds("110105", " Dongchang street ")
    assert not TOWN.scope.holds("371502", "Xincheng street")
    assert not Scope().holds("371502", "Dongchang street")


def test_a_person_belongs_where_their_latest_year_puts_them():
    moved = person((2024, "371502", "Dongchang street"), (2025, "110105", "Xincheng street"))
    assert person_place(moved) == ("110105", "Xincheng street")
    assert not TOWN.sees_person(moved) and not DISTRICT.sees_person(moved)
    stayed = person((2024, "371502", "Dongchang street"))
    assert TOWN.sees_person(stayed) and DISTRICT.sees_person(stayed)
    assert TAX.sees_person(moved) and CONSOLE.sees_person(moved)


def test_the_actor_of_events_and_of_audit_rows():
    assert TOWN.event_actor == "wang (town)"
    assert TOWN.actor == Actor("wang", "town")
    assert CONSOLE.event_actor == "system" and CONSOLE.actor == Actor("cli:root", "system")


def test_permissions_by_the_role_table_systems_may_everything():
    assert TOWN.may(Action.REGISTER) and not TOWN.may(Action.BACKDATE_IDENTITY)
    with pytest.raises(Forbidden):
        TOWN.check(Action.BACKDATE_IDENTITY)
    DISTRICT.check(Action.BACKDATE_IDENTITY)
    CONSOLE.check(Action.MANAGE_STAFF)
    assert DEPARTMENT.sees_source("civil_affairs") and not DEPARTMENT.sees_source("health")


def test_whole_id_numbers_only_in_the_basic_data_for_tax():
    assert TAX.whole_certnos(Listing.BASIC_DATA)
    admin = Caller.of(new_staff("root", "admin"))
    for caller in (admin, TOWN, DISTRICT):
        assert not caller.whole_certnos(Listing.BASIC_DATA)
    for listing in (Listing.SUBSIDIES, Listing.REPORTS):
        assert not TAX.whole_certnos(listing) and not admin.whole_certnos(listing)
    assert CONSOLE.whole_certnos(Listing.BASIC_DATA)  # the operator's own export at the console
