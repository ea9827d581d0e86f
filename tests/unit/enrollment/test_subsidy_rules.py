"""004 §二(二): subsidies of special persons added during the year, on both sides of 30 June."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.enrollment.domain.subsidies import (
    SubsidyKind,
    SubsidyStatus,
    basic_data_payer,
    on_payment,
    rule_for,
)
from shared.events import Identity, Payer

pytestmark = pytest.mark.unit

JUNE_29, JUNE_30, JULY_1 = date(2024, 6, 29), date(2024, 6, 30), date(2024, 7, 1)


@pytest.mark.parametrize("added", [JUNE_29, JUNE_30])
def test_added_on_or_before_30_june_the_government_pays_on_their_behalf(added):
    rule = rule_for(Identity.SUBSISTENCE, added, 2024)
    assert rule is not None
    assert rule.kind is SubsidyKind.PAID_ON_BEHALF
    assert basic_data_payer(rule) is Payer.GOVERNMENT
    paid = on_payment(rule, Payer.GOVERNMENT, Decimal("360"))
    assert paid is not None
    assert (paid.amount, paid.status) == (Decimal("360.00"), SubsidyStatus.PAID_BY_GOVERNMENT)
    # the person paying themselves earns nothing back under this rule
    assert on_payment(rule, Payer.INDIVIDUAL, Decimal("360")) is None


def test_added_after_30_june_they_pay_and_get_all_of_it_back():
    rule = rule_for(Identity.DESTITUTE, JULY_1, 2024)
    assert rule is not None and rule.kind is SubsidyKind.REFUND_AFTER_PAYMENT
    assert basic_data_payer(rule) is Payer.INDIVIDUAL
    granted = on_payment(rule, Payer.INDIVIDUAL, Decimal("360.00"))
    assert granted is not None
    assert (granted.amount, granted.status) == (Decimal("360.00"), SubsidyStatus.PAYABLE)


def test_the_severely_disabled_added_after_30_june_are_recorded_pending_policy():
    after = rule_for(Identity.SEVERE_DISABILITY, JULY_1, 2024)
    assert after is not None and after.status is SubsidyStatus.PENDING_POLICY
    granted = on_payment(after, Payer.INDIVIDUAL, Decimal("360"))
    assert granted is not None and granted.status is SubsidyStatus.PENDING_POLICY
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
    granted = on_payment(rule, Payer.INDIVIDUAL, Decimal("360"))
    assert granted is not None and granted.amount == Decimal("216.00")
    assert on_payment(rule, Payer.INDIVIDUAL, Decimal("0.05")).amount == Decimal("0.03")


def test_low_income_minors_follow_the_date_rule_not_the_60_percent_one():
    assert rule_for(Identity.LOW_INCOME_MINOR, JULY_1, 2024).kind is (
        SubsidyKind.REFUND_AFTER_PAYMENT
    )
    assert rule_for(Identity.LOW_INCOME_MINOR, JUNE_30, 2024).kind is SubsidyKind.PAID_ON_BEHALF


def test_ordinary_and_carried_over_persons_have_no_subsidy():
    assert rule_for(Identity.ORDINARY, JUNE_29, 2024) is None
    assert rule_for(Identity.ORPHAN, None, 2024) is None
    assert basic_data_payer(None) is Payer.INDIVIDUAL
    assert on_payment(None, Payer.INDIVIDUAL, Decimal("360")) is None


def test_the_cutoff_is_the_insurance_years_own_30_june():
    # added in July of the collection year (Y-1) is long before 30 June of Y
    assert rule_for(Identity.ORPHAN, date(2023, 7, 1), 2024).kind is SubsidyKind.PAID_ON_BEHALF
