"""Settlement applies the identity and assistance flag in force on the claim's admission day, and
ignores what the special persons' cycle adds that is not coverage (SPEC §7)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.settlement.domain.projection import coverage_on, fold_all
from shared.events import (
    CarriedOver,
    Identity,
    SubsidyGranted,
    SubsidyStatusChanged,
)
from tests.support.sample_events import Stream

pytestmark = pytest.mark.unit


def test_the_admission_day_decides_identity_and_flag_whatever_the_order_recorded():
    s = Stream()
    events = [
        s.registered(year=2025, premium_due="360.00"),
        s.paid(year=2025),
        # the carry-over froze January's identity in December; March's list came later, and a
        # flag for the month before the freeze's date was recorded after it
        s.identity(Identity.SUBSISTENCE, date(2025, 1, 1), assistance=True),
        s.identity(Identity.SUBSISTENCE, date(2025, 3, 1), assistance=False),
        s.identity(Identity.ORDINARY, date(2024, 12, 1), assistance=True),
    ]
    state = fold_all(events)
    on = {day: coverage_on(state, day) for day in (date(2024, 12, 15), date(2025, 2, 10))}
    assert (on[date(2024, 12, 15)].identity, on[date(2024, 12, 15)].medical_assistance) == (
        Identity.ORDINARY,
        True,
    )
    assert (on[date(2025, 2, 10)].identity, on[date(2025, 2, 10)].medical_assistance) == (
        Identity.SUBSISTENCE,
        True,
    )
    march = coverage_on(state, date(2025, 3, 20))
    assert (march.identity, march.medical_assistance) == (Identity.SUBSISTENCE, False)


def test_a_next_years_registration_does_not_override_a_change_recorded_after_it():
    s = Stream()
    autumn = datetime(2025, 9, 2, tzinfo=UTC)
    events = [
        s.registered(year=2025),
        # the rollover's registration for 2026, made on 2 September
        s.registered(year=2026).model_copy(update={"occurred_at": autumn}),
        s.identity(Identity.DESTITUTE, date(2025, 9, 1)),  # recorded on the 9th
    ]
    state = fold_all(events)
    assert coverage_on(state, date(2025, 9, 20)).identity is Identity.DESTITUTE


def test_subsidies_and_the_carry_over_mark_change_no_coverage():
    s = Stream()
    base = [s.registered(year=2025, premium_due="360.00"), s.paid(year=2025)]
    extra = [
        s.next(
            CarriedOver(
                insurance_year=2025,
                identity=Identity.ORPHAN,
                medical_assistance=False,
                sources=["civil_affairs"],
            )
        ),
        s.next(
            SubsidyGranted(
                insurance_year=2025, kind="paid_on_behalf", amount=Decimal("360"), tax_serial="T"
            )
        ),
        s.next(
            SubsidyStatusChanged(
                subsidy_id="x", insurance_year=2025, status="reclaim", reason="refund"
            )
        ),
    ]
    before, after = fold_all(base), fold_all(base + extra)
    day = date(2025, 5, 1)
    assert coverage_on(before, day) == coverage_on(after, day)
    assert after.version == before.version + 3
