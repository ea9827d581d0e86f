"""The accumulator: a value posted to by settlements and restored exactly by their reversals."""

from __future__ import annotations

import pytest

from services.settlement.engine import Accumulator, adjudicate, caps_remaining

from .builders import (
    CLINIC,
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


def test_apply_adds_what_each_claim_type_uses() -> None:
    acc = Accumulator.zero()
    stay = adjudicate(LIAOCHENG, inpatient("31000", "1000"), LEVEL_2, acc)
    acc = acc.apply(stay)
    chronic_visit = adjudicate(LIAOCHENG, chronic("1000"), CLINIC, acc)
    acc = acc.apply(chronic_visit)
    acc = acc.apply(adjudicate(LIAOCHENG, general("100"), CLINIC, acc))
    acc = acc.apply(adjudicate(LIAOCHENG, accident("300"), CLINIC, acc))
    assert acc == Accumulator(
        inpatient_stays=1,
        basic_paid=yuan("21300"),  # 20,650 + 650
        general_outpatient_paid=yuan("50"),
        accident_outpatient_paid=yuan("180"),
        catastrophic_burden=yuan("9700"),  # 9,350 + 350
        catastrophic_paid=yuan("0"),
        assistance_paid=yuan("0"),
    )


def test_accumulator_after_is_apply() -> None:
    before = Accumulator.zero()._replace(inpatient_stays=1)
    result = adjudicate(LIAOCHENG, inpatient("50000"), LEVEL_3, before)
    assert result.accumulator_after == before.apply(result)


def test_reverse_takes_away_exactly_what_apply_added() -> None:
    first = adjudicate(LIAOCHENG, inpatient("250000", "10000"), LEVEL_3, Accumulator.zero())
    second = adjudicate(LIAOCHENG, inpatient("50000"), LEVEL_3, first.accumulator_after)
    after_both = second.accumulator_after
    assert after_both.reverse(second) == first.accumulator_after
    assert after_both.reverse(second).reverse(first) == Accumulator.zero()


def test_a_reversed_stay_no_longer_counts() -> None:
    first = adjudicate(LIAOCHENG, inpatient("10000"), LEVEL_3, Accumulator.zero())
    undone = first.accumulator_after.reverse(first)
    again = adjudicate(LIAOCHENG, inpatient("10000"), LEVEL_3, undone)
    assert again.act_pay_dedc == yuan("900")  # still the first stay's deductible


def test_reversing_what_was_never_posted_is_refused() -> None:
    result = adjudicate(LIAOCHENG, inpatient("10000"), LEVEL_3, Accumulator.zero())
    with pytest.raises(ValueError, match="reversal"):
        Accumulator.zero().reverse(result)


def test_a_ledger_change_posts_and_takes_back_exactly() -> None:
    before = adjudicate(
        LIAOCHENG, inpatient("30000"), LEVEL_2, Accumulator.zero()
    ).accumulator_after
    result = adjudicate(LIAOCHENG, inpatient("250000", "10000"), LEVEL_3, before)
    after = result.accumulator_after
    change = after.delta_from(before)  # what the ledger entry records
    assert change == Accumulator.zero().apply(result)
    assert Accumulator.from_dict(change.to_dict()) == change  # kept as JSON, read back exactly
    assert before.plus(change) == after
    assert after.minus(change) == before == after.reverse(result)
    # a reversal's change is the settlement's, negated: summing both leaves the totals as before
    assert after.plus(after.minus(change).delta_from(after)) == before


def test_taking_back_a_change_the_totals_do_not_hold_is_refused() -> None:
    posted = adjudicate(LIAOCHENG, accident("300"), CLINIC, Accumulator.zero()).accumulator_after
    change = posted.delta_from(Accumulator.zero())
    assert posted.minus(change) == Accumulator.zero()
    with pytest.raises(ValueError, match="reversal"):
        Accumulator.zero().minus(change)


def test_to_dict_is_json_ready_and_round_trips() -> None:
    acc = adjudicate(LIAOCHENG, inpatient("20000"), LEVEL_3, Accumulator.zero()).accumulator_after
    data = acc.to_dict()
    assert data == {
        "inpatient_stays": 1,
        "basic_paid": "11460.00",
        "general_outpatient_paid": "0.00",
        "accident_outpatient_paid": "0.00",
        "catastrophic_burden": "8540.00",
        "catastrophic_paid": "0.00",
        "assistance_paid": "0.00",
    }
    assert Accumulator.from_dict(data) == acc
    with pytest.raises(ValueError, match="unknown"):
        Accumulator.from_dict({"stays": 1})


def test_caps_remaining() -> None:
    assert caps_remaining(LIAOCHENG, Accumulator.zero()) == {
        "basic": yuan("120000"),
        "general_outpatient": yuan("200"),
        "accident_outpatient": yuan("1000"),
        "catastrophic": yuan("400000"),
    }
    used = Accumulator(
        basic_paid=yuan("120000"),
        general_outpatient_paid=yuan("75"),
        accident_outpatient_paid=yuan("1000"),
        catastrophic_paid=yuan("66400"),
    )
    assert caps_remaining(LIAOCHENG, used) == {
        "basic": yuan("0"),
        "general_outpatient": yuan("125"),
        "accident_outpatient": yuan("0"),
        "catastrophic": yuan("333600"),
    }
