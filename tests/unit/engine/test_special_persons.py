"""The parts liaocheng-2024 leaves off, on a test policy that switches them on: the catastrophic
tilt for special identities and the medical-assistance third pass (fund 610100)."""

from __future__ import annotations

import pytest

from services.settlement.engine import Accumulator, Coverage, adjudicate
from shared.events import Identity

from .builders import CLINIC, LEVEL_3, SPECIAL_PERSONS, accident, chronic, general, inpatient, yuan

pytestmark = pytest.mark.unit

DESTITUTE = Coverage(identity=Identity.DESTITUTE)
SUBSISTENCE = Coverage(identity=Identity.SUBSISTENCE)
FLAGGED = Coverage(medical_assistance=True)
ORDINARY = Coverage()


def test_destitute_inpatient_gets_the_tilt_and_assistance() -> None:
    # P 20,000 at level 3: basic (20,000 − 900) × 60% = 11,460; burden 8,540
    result = adjudicate(SPECIAL_PERSONS, inpatient("20000"), LEVEL_3, Accumulator.zero(), DESTITUTE)
    assert result.hifp_pay == yuan("11460")
    assert result.hifmi_pay == yuan("1976")  # tilt: 0.65 × (8,540 − 5,500)
    assert result.maf_pay == yuan("4594.80")  # 70% × (8,540 − 1,976) = 70% × 6,564
    assert result.fund_pay_sumamt == yuan("18030.80")
    assert result.psn_part_amt == yuan("1969.20")
    assert [(r.fund_pay_type, r.fund_payamt) for r in result.setldetail] == [
        ("390100", yuan("11460")),
        ("390200", yuan("1976")),
        ("610100", yuan("4594.80")),
    ]
    after = result.accumulator_after
    assert (after.catastrophic_paid, after.assistance_paid) == (yuan("1976"), yuan("4594.80"))


def test_ordinary_person_under_the_same_policy_gets_neither() -> None:
    result = adjudicate(SPECIAL_PERSONS, inpatient("20000"), LEVEL_3, Accumulator.zero(), ORDINARY)
    assert (result.hifmi_pay, result.maf_pay) == (0, 0)
    assert [r.fund_pay_type for r in result.setldetail] == ["390100", "390200"]


def test_no_coverage_means_an_ordinary_person() -> None:
    result = adjudicate(SPECIAL_PERSONS, inpatient("20000"), LEVEL_3, Accumulator.zero())
    assert result.maf_pay == 0


def test_subsistence_has_assistance_without_a_tilt() -> None:
    result = adjudicate(SPECIAL_PERSONS, chronic("1000"), CLINIC, Accumulator.zero(), SUBSISTENCE)
    assert result.hifp_pay == yuan("650")
    assert result.hifmi_pay == 0
    assert result.maf_pay == yuan("175")  # 50% × 350


def test_the_flag_alone_uses_the_flagged_rule() -> None:
    result = adjudicate(SPECIAL_PERSONS, chronic("1000"), CLINIC, Accumulator.zero(), FLAGGED)
    assert result.maf_pay == yuan("105")  # 30% × 350


def test_identity_rule_wins_over_the_flag() -> None:
    both = Coverage(identity=Identity.SUBSISTENCE, medical_assistance=True)
    result = adjudicate(SPECIAL_PERSONS, chronic("1000"), CLINIC, Accumulator.zero(), both)
    assert result.maf_pay == yuan("175")


def test_assistance_rounds_half_up() -> None:
    # burden 0.35 × 30% = 0.105 → 0.11
    result = adjudicate(SPECIAL_PERSONS, chronic("1"), CLINIC, Accumulator.zero(), FLAGGED)
    assert result.maf_pay == yuan("0.11")


def test_assistance_annual_cap_hit_and_then_nothing() -> None:
    near = Accumulator.zero()._replace(assistance_paid=yuan("19900"))
    result = adjudicate(SPECIAL_PERSONS, chronic("1000"), CLINIC, near, SUBSISTENCE)
    assert result.maf_pay == yuan("100")
    assert result.accumulator_after.assistance_paid == yuan("20000")
    again = adjudicate(
        SPECIAL_PERSONS, chronic("1000"), CLINIC, result.accumulator_after, SUBSISTENCE
    )
    assert again.maf_pay == 0


def test_assistance_does_not_apply_to_general_or_accident_outpatient() -> None:
    for claim in (general("100"), accident("500")):
        result = adjudicate(SPECIAL_PERSONS, claim, CLINIC, Accumulator.zero(), DESTITUTE)
        assert result.maf_pay == 0
        assert "610100" not in [r.fund_pay_type for r in result.setldetail]


@pytest.mark.parametrize(
    ("burden", "ordinary", "destitute"),
    [
        ("5500", "0", "0"),
        ("5500.01", "0", "0.01"),  # 0.0065
        ("11000", "0", "3575"),  # 0.65 × 5,500
        ("100000", "53400", "61425"),  # 0.65 × 94,500
        ("200000", "118400", "131425"),  # + 0.70 × 100,000
        ("300000", "188400", "206425"),  # + 0.75 × 100,000
        ("400000", "263400", "286425"),  # + 0.80 × 100,000
    ],
)
def test_tilt_band_edges(burden: str, ordinary: str, destitute: str) -> None:
    spent = Accumulator.zero()._replace(basic_paid=yuan("120000"))
    plain = adjudicate(SPECIAL_PERSONS, chronic(burden), CLINIC, spent, ORDINARY)
    tilted = adjudicate(SPECIAL_PERSONS, chronic(burden), CLINIC, spent, DESTITUTE)
    assert plain.hifmi_pay == yuan(ordinary)
    assert tilted.hifmi_pay == yuan(destitute)


def test_funds_never_exceed_the_policy_scope_amount() -> None:
    spent = Accumulator.zero()._replace(basic_paid=yuan("120000"))
    result = adjudicate(SPECIAL_PERSONS, chronic("700000"), CLINIC, spent, DESTITUTE)
    assert result.hifmi_pay == yuan("400000")
    assert result.maf_pay == yuan("30000")
    assert result.fund_pay_sumamt <= result.inscp_scp_amt


def test_receipt_names_the_special_person_bands_and_assistance() -> None:
    result = adjudicate(SPECIAL_PERSONS, inpatient("20000"), LEVEL_3, Accumulator.zero(), DESTITUTE)
    text = "\n".join(result.setl_proc_info)
    assert "destitute special-person bands" in text
    assert "Medical assistance 610100 (destitute)" in text
    assert "pays 4594.80" in text
