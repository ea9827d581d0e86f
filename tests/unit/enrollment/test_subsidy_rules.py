"""004 §二(二): which subsidy either side of 30 June, answering the later of payment or identity."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.enrollment.domain.errors import DomainError
from services.enrollment.domain.state import PersonState, fold, then
from services.enrollment.domain.subsidies import (
    SubsidyKind,
    SubsidyStatus,
    basic_data_payer,
    entitlement,
    reconcile,
    record_payout,
    rule_for,
)
from shared.events import (
    CarriedOver,
    Channel,
    Event,
    EventPayload,
    Identity,
    IdentityChanged,
    Payer,
    PremiumDueChanged,
    PremiumPaid,
    PremiumRefunded,
    SubsidyGranted,
    SubsidyStatusChanged,
)
from tests.support.sample_events import wang_fang

pytestmark = pytest.mark.unit

JUNE_29, JUNE_30, JULY_1 = date(2024, 6, 29), date(2024, 6, 30), date(2024, 7, 1)
AT = datetime(2024, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize("added", [JUNE_29, JUNE_30])
def test_added_on_or_before_30_june_the_government_pays_on_their_behalf(added):
    rule = rule_for(Identity.SUBSISTENCE, added, 2024)
    assert rule is not None
    assert (rule.kind, rule.status) == (SubsidyKind.PAID_ON_BEHALF, SubsidyStatus.PAYABLE)
    assert basic_data_payer(rule) is Payer.GOVERNMENT


def test_added_after_30_june_they_pay_and_get_all_of_it_back():
    rule = rule_for(Identity.DESTITUTE, JULY_1, 2024)
    assert rule is not None and rule.kind is SubsidyKind.REFUND_AFTER_PAYMENT
    assert (rule.rate, rule.status) == (Decimal("1"), SubsidyStatus.PAYABLE)
    assert basic_data_payer(rule) is Payer.INDIVIDUAL


def test_the_severely_disabled_added_after_30_june_are_recorded_pending_policy():
    after = rule_for(Identity.SEVERE_DISABILITY, JULY_1, 2024)
    assert after is not None and after.status is SubsidyStatus.PENDING_POLICY
    assert after.kind is SubsidyKind.REFUND_AFTER_PAYMENT
    before = rule_for(Identity.SEVERE_DISABILITY, JUNE_30, 2024)
    assert before is not None and before.kind is SubsidyKind.PAID_ON_BEHALF
    assert basic_data_payer(before) is Payer.GOVERNMENT


def test_new_poverty_registered_before_30_june_wait_for_the_city_policy():
    rule = rule_for(Identity.POVERTY_REGISTERED, JUNE_29, 2024)
    assert rule is not None and rule.status is SubsidyStatus.PENDING_POLICY
    assert basic_data_payer(rule) is Payer.INDIVIDUAL


@pytest.mark.parametrize("added", [JUNE_29, JUNE_30, JULY_1])
def test_low_income_adults_get_60_percent_of_what_they_paid_whatever_the_date(added):
    rule = rule_for(Identity.LOW_INCOME_ELDERLY, added, 2024)
    assert rule is not None and rule.kind is SubsidyKind.LOW_INCOME_60
    assert rule.rate == Decimal("0.60")


def test_low_income_minors_follow_the_date_rule_not_the_60_percent_one():
    assert rule_for(Identity.LOW_INCOME_MINOR, JULY_1, 2024).kind is (
        SubsidyKind.REFUND_AFTER_PAYMENT
    )
    assert rule_for(Identity.LOW_INCOME_MINOR, JUNE_30, 2024).kind is SubsidyKind.PAID_ON_BEHALF


def test_ordinary_persons_have_no_subsidy_and_carried_over_ones_are_paid_on_behalf():
    assert rule_for(Identity.ORDINARY, JUNE_29, 2024) is None
    assert basic_data_payer(None) is Payer.INDIVIDUAL
    # carried over: neither "added" nor new, whatever the identity (poverty_registered and
    # low_income_elderly included)
    for identity in (Identity.ORPHAN, Identity.POVERTY_REGISTERED, Identity.LOW_INCOME_ELDERLY):
        rule = rule_for(identity, None, 2024)
        assert (rule.kind, rule.status) == (SubsidyKind.PAID_ON_BEHALF, SubsidyStatus.PAYABLE)


def test_the_cutoff_is_the_insurance_years_own_30_june():
    # added in July of the collection year (Y-1) is long before 30 June of Y
    assert rule_for(Identity.ORPHAN, date(2023, 7, 1), 2024).kind is SubsidyKind.PAID_ON_BEHALF
    # and a low-income person special since the year before is not "new" in Y
    assert rule_for(Identity.LOW_INCOME_ELDERLY, date(2023, 3, 1), 2024).kind is (
        SubsidyKind.PAID_ON_BEHALF
    )


# --- reconcile: the later of payment and identity ---------------------------------------------


def person(*payloads: EventPayload, identity: Identity = Identity.ORDINARY) -> PersonState:
    registered = wang_fang(identity=identity, region="450204", organization="潭西街道")
    # registered in November of the collection year, as most people are
    events = [
        Event.new(
            registered,
            psn_no="P1",
            stream_version=1,
            occurred_at=AT.replace(2023, 11),
            actor="system",
        )
    ]
    state = fold(events)
    assert state is not None
    return then(state, payloads, AT)


def paid(serial: str = "T1", amount: str = "400.00", payer: Payer = Payer.INDIVIDUAL):
    return PremiumPaid(
        insurance_year=2024,
        amount=Decimal(amount),
        payer=payer,
        channel=Channel.WECHAT if payer is Payer.INDIVIDUAL else Channel.GOVERNMENT,
        tax_serial=serial,
        paid_at=AT,
    )


def became(identity: Identity, on: date) -> IdentityChanged:
    return IdentityChanged(
        identity=identity, medical_assistance=False, effective_from=on, reason="民政"
    )


def settle(state: PersonState) -> tuple[PersonState, list[EventPayload]]:
    """Reconcile and fold what it says; reconciling again must then say nothing."""
    out = reconcile(state, 2024)
    after = then(state, out, AT)
    assert reconcile(after, 2024) == []
    return after, out


def test_a_person_who_became_special_after_paying_gets_what_they_paid_back():
    # paid 400 in November, subsistence from March: exempt, and the 400 is paid back to them
    state = person(paid(), became(Identity.SUBSISTENCE, date(2024, 3, 1)))
    state = then(state, [PremiumDueChanged(insurance_year=2024, premium_due=0, reason="x")], AT)
    state, [granted] = settle(state)
    assert isinstance(granted, SubsidyGranted)
    assert (granted.kind, granted.amount, granted.tax_serial) == ("paid_on_behalf", 400, "T1")
    assert state.years[2024].subsidised == Decimal("400.00")


def test_a_special_person_who_has_not_paid_is_paid_for_at_the_tax_bureau():
    state = person(became(Identity.SEVERE_DISABILITY, date(2024, 3, 1)))
    state, [granted] = settle(state)
    assert (granted.kind, granted.amount, granted.tax_serial) == ("paid_on_behalf", 400, None)
    # the government's payment through the tax feed settles it: nothing more to grant
    state = then(state, [paid("G1", payer=Payer.GOVERNMENT)], AT)
    assert reconcile(state, 2024) == []


def test_paying_personally_before_the_district_paid_moves_the_subsidy_to_the_person():
    state, _ = settle(person(became(Identity.SEVERE_DISABILITY, date(2024, 3, 1))))
    state = then(state, [paid("T2")], AT)
    cancelled, granted = reconcile(state, 2024)
    assert isinstance(cancelled, SubsidyStatusChanged) and cancelled.status == "cancelled"
    assert isinstance(granted, SubsidyGranted) and granted.tax_serial == "T2"


def test_once_paid_to_the_tax_bureau_a_later_personal_payment_changes_nothing():
    state, _ = settle(person(became(Identity.SEVERE_DISABILITY, date(2024, 3, 1))))
    [subsidy_id] = state.subsidies
    payout = record_payout(
        state, subsidy_id, paid_on=date(2024, 4, 1), reference="BANK-1", today=date(2024, 4, 2)
    )
    state = then(state, [*payout, paid("T3")], AT)
    assert reconcile(state, 2024) == []


def test_a_low_income_elderly_person_added_in_august_after_paying_gets_60_percent():
    state = person(paid(), became(Identity.LOW_INCOME_ELDERLY, date(2024, 8, 1)))
    _, [granted] = settle(state)
    assert (granted.kind, granted.amount) == ("low_income_60", Decimal("240.00"))


def test_a_refund_cancels_an_unpaid_subsidy_and_flags_a_paid_one_for_reclaim():
    base = person(paid(), became(Identity.DESTITUTE, date(2024, 8, 1)))
    state, [granted] = settle(base)
    assert granted.kind == "refund_after_payment"
    refund = PremiumRefunded(
        insurance_year=2024,
        amount=Decimal("400.00"),
        tax_serial="R1",
        original_tax_serial="T1",
        refunded_at=AT,
    )
    [cancelled] = reconcile(then(state, [refund], AT), 2024)
    assert cancelled.status == "cancelled"
    [subsidy_id] = state.subsidies
    payout = record_payout(
        state, subsidy_id, paid_on=date(2024, 9, 1), reference="B-9", today=date(2024, 9, 1)
    )
    state = then(state, [*payout, refund], AT)
    [reclaim] = reconcile(state, 2024)
    assert reclaim.status == "reclaim"
    assert then(state, [reclaim], AT).years[2024].subsidised == Decimal("0.00")


def test_an_exit_later_in_the_year_does_not_take_the_years_subsidy_away():
    state, _ = settle(person(paid(), became(Identity.DESTITUTE, date(2024, 8, 1))))
    state = then(state, [became(Identity.ORDINARY, date(2024, 11, 1))], AT)
    assert reconcile(state, 2024) == []
    assert entitlement(state, 2024) is not None


def test_a_carried_over_person_is_not_new_even_if_low_income():
    state = person(
        became(Identity.LOW_INCOME_ELDERLY, date(2024, 1, 1)),
        CarriedOver(
            insurance_year=2024,
            identity=Identity.LOW_INCOME_ELDERLY,
            medical_assistance=False,
            sources=["civil_affairs"],
        ),
    )
    _, [granted] = settle(state)
    assert (granted.kind, granted.amount, granted.tax_serial) == ("paid_on_behalf", 400, None)


def test_a_payout_needs_a_payable_subsidy_a_reference_and_no_future_date():
    state, _ = settle(person(paid(), became(Identity.DESTITUTE, date(2024, 8, 1))))
    [subsidy_id] = state.subsidies
    today = date(2024, 9, 1)
    for kwargs, code in (
        ({"subsidy_id": "nope", "reference": "B"}, "SUBSIDY_NOT_FOUND"),
        ({"subsidy_id": subsidy_id, "reference": " "}, "INVALID_REFERENCE"),
        ({"subsidy_id": subsidy_id, "reference": "B", "paid_on": date(2024, 9, 2)}, "INVALID_DATE"),
    ):
        with pytest.raises(DomainError) as info:
            record_payout(state, **{"paid_on": today, "today": today, **kwargs})
        assert info.value.code == code
    done = record_payout(state, subsidy_id, paid_on=today, reference="B", today=today)
    state = then(state, done, AT)
    assert record_payout(state, subsidy_id, paid_on=today, reference="B", today=today) == []
