"""SPEC §5's worked examples (policy liaocheng-2024), each to the fen."""

from __future__ import annotations

import pytest

from services.settlement.engine import Accumulator, adjudicate

from .builders import CLINIC, LEVEL_2, LEVEL_3, LIAOCHENG, accident, general, inpatient, yuan

pytestmark = pytest.mark.unit


def test_1_inpatient_level_3_below_the_catastrophic_threshold() -> None:
    claim = inpatient("20000", "1000", class_b="500")
    result = adjudicate(LIAOCHENG, claim, LEVEL_3, Accumulator.zero())
    assert result.inscp_scp_amt == yuan("18500")
    assert result.act_pay_dedc == yuan("900")
    assert result.hifp_pay == yuan("10560")
    assert result.burden_added == yuan("7940")
    assert result.hifmi_pay == 0
    assert result.psn_part_amt == yuan("9440")


def test_2_inpatient_over_the_basic_cap_reaches_the_second_band() -> None:
    result = adjudicate(LIAOCHENG, inpatient("250000", "10000"), LEVEL_3, Accumulator.zero())
    assert result.inscp_scp_amt == yuan("240000")
    assert result.hifp_pay == yuan("120000")  # 239,100 × 60% = 143,460, capped
    assert result.burden_added == yuan("120000")
    assert result.hifmi_pay == yuan("66400")  # 0.60 × 89,000 + 0.65 × 20,000
    assert result.fund_pay_sumamt == yuan("186400")
    assert result.psn_part_amt == yuan("63600")


def test_3_second_stay_halves_the_deductible_and_burdens_accumulate() -> None:
    first = adjudicate(LIAOCHENG, inpatient("31000", "1000"), LEVEL_2, Accumulator.zero())
    assert (first.hifp_pay, first.burden_added, first.hifmi_pay, first.psn_part_amt) == (
        yuan("20650"),
        yuan("9350"),
        yuan("0"),
        yuan("10350"),
    )
    second = adjudicate(LIAOCHENG, inpatient("50000"), LEVEL_3, first.accumulator_after)
    assert second.act_pay_dedc == yuan("450")
    assert second.hifp_pay == yuan("29730")
    assert second.burden_added == yuan("20270")
    assert second.accumulator_after.catastrophic_burden == yuan("29620")
    assert second.hifmi_pay == yuan("11172")  # 0.60 × 18,620
    assert second.psn_part_amt == yuan("9098")
    assert second.accumulator_after.inpatient_stays == 2


def test_4_general_outpatient_stops_at_the_200_cap() -> None:
    first = adjudicate(LIAOCHENG, general("150"), CLINIC, Accumulator.zero())
    assert first.hifp_pay == yuan("75")
    second = adjudicate(LIAOCHENG, general("400"), CLINIC, first.accumulator_after)
    assert second.hifp_pay == yuan("125")
    assert second.psn_part_amt == yuan("275")
    assert second.accumulator_after.general_outpatient_paid == yuan("200")


def test_5_accident_outpatient_capped_at_1000() -> None:
    result = adjudicate(LIAOCHENG, accident("1500"), LEVEL_3, Accumulator.zero())
    assert result.act_pay_dedc == yuan("100")
    assert result.hifp_pay == yuan("1000")  # 1,400 × 90% = 1,260, capped
    assert result.psn_part_amt == yuan("500")


def test_catastrophic_entitlement_example_of_150000() -> None:
    schedule = LIAOCHENG.catastrophic.schedule("ordinary")  # type: ignore[arg-type]
    assert schedule.entitlement(yuan("150000")) == yuan("85900")
