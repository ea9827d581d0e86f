"""The coverage projection fold: order, duplicates, identity timeline, death, refunds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.settlement.domain import projection
from shared.events import Identity, PremiumDueChanged, PremiumRefunded, SubsidyGranted
from tests.support.sample_events import Stream, certno

pytestmark = pytest.mark.unit

ON = date(2024, 3, 1)


def test_registered_and_paid_is_covered():
    s = Stream()
    state = projection.fold_all([s.registered(), s.paid()])
    cover = projection.coverage_on(state, ON)
    assert state is not None and state.version == 2 and state.certno == certno(1)
    assert cover.known and cover.registered
    assert cover.premium_paid == cover.premium_due == Decimal("360.00")
    cover.check(2024, ON, ON)  # no refusal


def test_unknown_person_and_unregistered_year():
    assert projection.coverage_on(None, ON).known is False
    s = Stream()
    state = projection.fold_all([s.registered(year=2024), s.paid(year=2024)])
    assert projection.coverage_on(state, date(2025, 2, 1)).registered is False


def test_partial_payment_is_unpaid_until_the_due_is_reached():
    s = Stream()
    events = [s.registered(), s.paid(amount="200.00")]
    assert projection.coverage_on(projection.fold_all(events), ON).premium_paid == Decimal("200")
    events.append(s.paid(amount="160.00"))
    cover = projection.coverage_on(projection.fold_all(events), ON)
    assert cover.premium_paid >= cover.premium_due


def test_a_payment_confirmed_twice_counts_once():
    s = Stream()
    state = projection.fold_all([s.registered(), s.paid(serial="T1"), s.paid(serial="T1")])
    assert projection.coverage_on(state, ON).premium_paid == Decimal("360.00")


def test_refund_takes_the_amount_back_and_due_change_applies():
    s = Stream()
    events = [s.registered(), s.paid(serial="T1")]
    events.append(
        s.next(
            PremiumRefunded(
                insurance_year=2024,
                amount=Decimal("360.00"),
                tax_serial="R1",
                original_tax_serial="T1",
                refunded_at=datetime(2024, 1, 5, tzinfo=UTC),
            )
        )
    )
    cover = projection.coverage_on(projection.fold_all(events), ON)
    assert cover.premium_paid == Decimal("0.00")
    events.append(
        s.next(PremiumDueChanged(insurance_year=2024, premium_due=Decimal("0"), reason="subsidy"))
    )
    cover = projection.coverage_on(projection.fold_all(events), ON)
    assert cover.premium_due == Decimal("0.00")
    cover.check(2024, ON, ON)


def test_identity_timeline_is_ordered_by_effective_date():
    s = Stream()
    events = [
        s.registered(),
        s.paid(),
        s.identity(Identity.SUBSISTENCE, date(2024, 6, 1), assistance=True),
        # recorded later, effective earlier: the timeline sorts by effective date
        s.identity(Identity.SEVERE_DISABILITY, date(2024, 4, 1)),
    ]
    state = projection.fold_all(events)
    assert projection.coverage_on(state, date(2024, 3, 1)).identity == Identity.ORDINARY
    assert projection.coverage_on(state, date(2024, 5, 1)).identity == Identity.SEVERE_DISABILITY
    later = projection.coverage_on(state, date(2024, 7, 1))
    assert later.identity == Identity.SUBSISTENCE and later.medical_assistance


def test_the_last_death_record_wins():
    s = Stream()
    events = [
        s.registered(),
        s.paid(),
        s.died(date(2024, 5, 1), date(2024, 6, 1)),
        s.died(date(2024, 5, 1), date(2024, 8, 1)),  # extended
    ]
    cover = projection.coverage_on(projection.fold_all(events), ON)
    assert cover.date_of_death == date(2024, 5, 1)
    assert cover.settlement_deadline == date(2024, 8, 1)


def test_subsidy_changes_nothing_but_the_version():
    s = Stream()
    base = projection.fold_all([s.registered(), s.paid()])
    after = projection.fold(
        base,
        s.next(SubsidyGranted(insurance_year=2024, kind="paid_on_behalf", amount=Decimal("360"))),
    )
    assert after.version == 3
    assert after.model_copy(update={"version": 2}) == base


def test_state_round_trips_through_json():
    s = Stream()
    state = projection.fold_all(
        [s.registered(), s.paid(), s.identity(Identity.ORPHAN, date(2024, 2, 1))]
    )
    assert projection.from_json(projection.to_json(state)) == state


def test_the_fold_ignores_the_actor_and_events_without_one():
    s = Stream()
    with_actor = [s.registered(), s.paid()]
    without = [
        type(e).model_validate({k: v for k, v in e.model_dump().items() if k != "actor"})
        for e in with_actor
    ]
    assert {e.actor for e in with_actor} == {"system"}
    assert {e.actor for e in without} == {"unknown"}
    assert projection.fold_all(with_actor) == projection.fold_all(without)
