"""Every edge of SPEC §5: stays, hospital levels, caps hit and overshot, band edges, tiny claims."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.settlement.engine import Accumulator, adjudicate
from shared.events import Identity

from .builders import (
    CLINIC,
    LEVEL_1,
    LEVEL_1_PUBLIC,
    LEVEL_2,
    LEVEL_3,
    LIAOCHENG,
    accident,
    chronic,
    general,
    inpatient,
    yuan,
)

pytestmark = pytest.mark.unit


def after_stays(n: int) -> Accumulator:
    return Accumulator.zero()._replace(inpatient_stays=n)


# --- deductibles and ratios by stay and hospital ----------------------------------------------


@pytest.mark.parametrize(
    ("hospital", "stays_before", "deductible", "basic"),
    [
        (LEVEL_3, 0, "900", "5460"),  # (10,000 − 900) × 60%
        (LEVEL_3, 1, "450", "5730"),  # 2nd stay: half
        (LEVEL_3, 2, "0", "6000"),  # 3rd stay: none
        (LEVEL_3, 7, "0", "6000"),  # and none ever after
        (LEVEL_2, 0, "500", "6650"),
        (LEVEL_2, 1, "250", "6825"),
        (LEVEL_1, 0, "200", "7840"),
        (LEVEL_1, 1, "100", "7920"),
        (LEVEL_1_PUBLIC, 0, "100", "8910"),  # level-1 public: 100 and 90%
        (LEVEL_1_PUBLIC, 1, "50", "8955"),
        (LEVEL_1_PUBLIC, 2, "0", "9000"),
    ],
)
def test_deductible_by_stay_and_level(
    hospital: object, stays_before: int, deductible: str, basic: str
) -> None:
    result = adjudicate(LIAOCHENG, inpatient("10000"), hospital, after_stays(stays_before))  # type: ignore[arg-type]
    assert result.act_pay_dedc == yuan(deductible)
    assert result.hifp_pay == yuan(basic)
    assert result.accumulator_after.inpatient_stays == stays_before + 1


def test_public_status_changes_nothing_above_level_1() -> None:
    from services.settlement.engine import HospitalProfile

    public_3 = adjudicate(
        LIAOCHENG, inpatient("10000"), HospitalProfile(level=3, public=True), Accumulator.zero()
    )
    assert (public_3.act_pay_dedc, public_3.hifp_pay) == (yuan("900"), yuan("5460"))


def test_policy_scope_below_the_deductible_pays_nothing_and_counts_the_stay() -> None:
    result = adjudicate(LIAOCHENG, inpatient("1000", "400"), LEVEL_3, Accumulator.zero())
    assert result.inscp_scp_amt == yuan("600")
    assert result.act_pay_dedc == yuan("600")  # min(P, deductible)
    assert result.hifp_pay == 0
    assert result.burden_added == yuan("600")
    assert result.psn_part_amt == yuan("1000")
    assert result.accumulator_after.inpatient_stays == 1


def test_accident_below_the_visit_deductible() -> None:
    result = adjudicate(LIAOCHENG, accident("80"), LEVEL_2, Accumulator.zero())
    assert (result.act_pay_dedc, result.hifp_pay, result.psn_part_amt) == (
        yuan("80"),
        yuan("0"),
        yuan("80"),
    )


@pytest.mark.parametrize("make", [inpatient, chronic, general, accident])
def test_zero_amounts(make: object) -> None:
    result = adjudicate(LIAOCHENG, make("0"), CLINIC, Accumulator.zero())  # type: ignore[operator]
    assert result.fund_pay_sumamt == 0
    assert result.psn_part_amt == 0
    assert result.act_pay_dedc == 0


def test_everything_self_paid_leaves_a_zero_policy_scope() -> None:
    result = adjudicate(LIAOCHENG, inpatient("5000", "5000"), LEVEL_2, Accumulator.zero())
    assert result.inscp_scp_amt == 0
    assert result.psn_part_amt == yuan("5000")


# --- rounding --------------------------------------------------------------------------------


def test_each_fund_rounds_half_up_to_the_fen() -> None:
    # 0.05 × 50% = 0.025 → 0.03 (half-up, not banker's 0.02)
    assert adjudicate(LIAOCHENG, general("0.05"), CLINIC, Accumulator.zero()).hifp_pay == yuan(
        "0.03"
    )
    # (1,000.01 − 900) × 60% = 60.006 → 60.01
    result = adjudicate(LIAOCHENG, inpatient("1000.01"), LEVEL_3, Accumulator.zero())
    assert result.hifp_pay == yuan("60.01")
    assert result.psn_part_amt == yuan("940.00")  # total − funds, exactly


# --- annual caps, hit exactly and overshot ---------------------------------------------------


def test_basic_cap_hit_exactly() -> None:
    # (200,900 − 900) × 60% = 120,000 exactly
    result = adjudicate(LIAOCHENG, inpatient("200900"), LEVEL_3, Accumulator.zero())
    assert result.hifp_pay == yuan("120000")
    assert result.accumulator_after.basic_paid == yuan("120000")
    after = adjudicate(LIAOCHENG, chronic("1000"), CLINIC, result.accumulator_after)
    assert after.hifp_pay == 0
    assert after.burden_added == yuan("1000")


def test_basic_cap_is_shared_by_chronic_outpatient_and_overshot() -> None:
    spent = Accumulator.zero()._replace(basic_paid=yuan("119900"))
    result = adjudicate(LIAOCHENG, chronic("1000"), CLINIC, spent)
    assert result.hifp_pay == yuan("100")  # 650 due, 100 left
    assert result.burden_added == yuan("900")
    assert result.accumulator_after.basic_paid == yuan("120000")


def test_outpatient_caps_are_not_the_basic_cap() -> None:
    spent = Accumulator.zero()._replace(basic_paid=yuan("120000"))
    assert adjudicate(LIAOCHENG, general("100"), CLINIC, spent).hifp_pay == yuan("50")
    assert adjudicate(LIAOCHENG, accident("200"), CLINIC, spent).hifp_pay == yuan("90")


def test_general_outpatient_cap_hit_exactly_then_nothing() -> None:
    first = adjudicate(LIAOCHENG, general("400"), CLINIC, Accumulator.zero())
    assert first.hifp_pay == yuan("200")
    second = adjudicate(LIAOCHENG, general("50"), CLINIC, first.accumulator_after)
    assert second.hifp_pay == 0
    assert second.psn_part_amt == yuan("50")


def test_accident_cap_hit_exactly_and_overshot() -> None:
    exact = adjudicate(LIAOCHENG, accident("1211.11"), CLINIC, Accumulator.zero())
    assert exact.hifp_pay == yuan("1000")  # 1,111.11 × 90% = 999.999 → 1,000.00
    over = adjudicate(LIAOCHENG, accident("1211.12"), CLINIC, Accumulator.zero())
    assert over.hifp_pay == yuan("1000")  # 1,000.008 → 1,000.01, held to the cap
    spent = Accumulator.zero()._replace(accident_outpatient_paid=yuan("999.99"))
    overshot = adjudicate(LIAOCHENG, accident("300"), CLINIC, spent)
    assert overshot.hifp_pay == yuan("0.01")
    assert overshot.accumulator_after.accident_outpatient_paid == yuan("1000")


def test_outpatient_claims_do_not_enter_the_catastrophic_pass() -> None:
    heavy = Accumulator.zero()._replace(catastrophic_burden=yuan("50000"))
    for result in (
        adjudicate(LIAOCHENG, general("1000"), CLINIC, heavy),
        adjudicate(LIAOCHENG, accident("5000"), CLINIC, heavy),
    ):
        assert result.hifmi_pay == 0
        assert result.burden_added == 0
        assert result.accumulator_after.catastrophic_burden == yuan("50000")
        assert [row.fund_pay_type for row in result.setldetail] == ["390100"]


# --- catastrophic bands: each edge, at and one fen past --------------------------------------


# With the basic cap spent, a chronic claim's whole policy-scope amount is burden.
SPENT = Accumulator.zero()._replace(basic_paid=yuan("120000"))


@pytest.mark.parametrize(
    ("burden", "entitlement"),
    [
        ("10999.99", "0"),
        ("11000", "0"),
        ("11000.01", "0.01"),  # 0.006 → 0.01
        ("11000.02", "0.01"),  # 0.012 → 0.01
        ("100000", "53400"),
        ("100000.01", "53400.01"),  # 53,400.0065
        ("200000", "118400"),
        ("200000.01", "118400.01"),  # .007
        ("300000", "188400"),
        ("300000.01", "188400.01"),  # .0075 → .01
        ("582133.33", "400000"),  # 399,999.9975 → 400,000.00: the cap hit exactly
        ("582133.34", "400000"),  # 400,000.005 → 400,000.01: overshot, clamped
        ("900000", "400000"),
    ],
)
def test_band_edges(burden: str, entitlement: str) -> None:
    result = adjudicate(LIAOCHENG, chronic(burden), CLINIC, SPENT)
    assert result.burden_added == yuan(burden)
    assert result.hifmi_pay == yuan(entitlement)
    assert result.psn_part_amt == yuan(burden) - yuan(entitlement)


def test_catastrophic_pays_the_difference_of_entitlements_over_the_year() -> None:
    first = adjudicate(LIAOCHENG, chronic("100000"), CLINIC, SPENT)
    assert first.hifmi_pay == yuan("53400")
    second = adjudicate(LIAOCHENG, chronic("50000"), CLINIC, first.accumulator_after)
    assert second.hifmi_pay == yuan("32500")  # f(150,000) − 53,400 = 85,900 − 53,400
    assert second.accumulator_after.catastrophic_paid == yuan("85900")


def test_catastrophic_cap_left_clamps_and_then_pays_nothing() -> None:
    near = SPENT._replace(catastrophic_burden=yuan("500000"), catastrophic_paid=yuan("399990"))
    result = adjudicate(LIAOCHENG, chronic("100000"), CLINIC, near)
    assert result.hifmi_pay == yuan("10")
    after = adjudicate(LIAOCHENG, chronic("100000"), CLINIC, result.accumulator_after)
    assert after.hifmi_pay == 0


def test_catastrophic_never_claws_back() -> None:
    # Already paid more than f(B) says (e.g. a tilt lost mid-year): nothing more, never negative.
    overpaid = SPENT._replace(catastrophic_burden=yuan("20000"), catastrophic_paid=yuan("9000"))
    result = adjudicate(LIAOCHENG, chronic("1000"), CLINIC, overpaid)
    assert result.hifmi_pay == 0


def test_identity_without_a_tilt_uses_the_standard_bands() -> None:
    from services.settlement.engine import Coverage

    result = adjudicate(
        LIAOCHENG, chronic("20000"), CLINIC, SPENT, Coverage(identity=Identity.DESTITUTE)
    )
    assert result.hifmi_pay == yuan("5400")  # 0.60 × 9,000
    assert result.maf_pay == 0


def test_insurance_year_is_the_year_of_admission() -> None:
    claim = inpatient("1000", begntime="2024-12-31T22:00:00", endtime="2025-01-05T10:00:00")
    assert adjudicate(LIAOCHENG, claim, LEVEL_3, Accumulator.zero()).insurance_year == 2024


def test_decimal_amounts_are_exact() -> None:
    result = adjudicate(LIAOCHENG, inpatient("1234.56", "0.01"), LEVEL_2, Accumulator.zero())
    assert result.psn_part_amt + result.fund_pay_sumamt == Decimal("1234.56")
