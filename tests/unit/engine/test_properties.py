"""Properties that hold for every sequence of claims of one person in one year."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.settlement.engine import (
    Accumulator,
    Adjudication,
    Claim,
    Coverage,
    HospitalProfile,
    MedType,
    Policy,
    Rejected,
    adjudicate,
)
from shared.events import Identity
from shared.money import quantize

from .builders import LIAOCHENG, SPECIAL_PERSONS

pytestmark = pytest.mark.unit

CENT = Decimal("0.01")
FEN = re.compile(r"\d+\.\d\d")
WIRE_AMOUNTS = (
    "medfee_sumamt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "maf_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
)
SECOND_PASS = (MedType.INPATIENT, MedType.CHRONIC_OUTPATIENT)
DISEASES = ["C34.901", "N18.5", "Z94.0", "D66", "C91.0", "J18.9"]  # the last is not listed


def cents(high_yuan: int) -> st.SearchStrategy[Decimal]:
    return st.integers(0, high_yuan * 100).map(lambda c: Decimal(c) * CENT)


@st.composite
def claims(draw: st.DrawFn) -> tuple[Claim, HospitalProfile]:
    med_type = draw(st.sampled_from(list(MedType)))
    high = draw(st.sampled_from([5, 2_000, 60_000, 400_000]))
    policy_scope = draw(cents(high))
    wholly, over, class_b = (draw(cents(high // 4 or 1)) for _ in range(3))
    claim = Claim(
        psn_no="P1",
        mdtrt_id="M",
        med_type=med_type,
        begntime="2024-05-01T08:00:00",  # type: ignore[arg-type]
        endtime="2024-05-03T08:00:00",  # type: ignore[arg-type]
        medfee_sumamt=policy_scope + wholly + over + class_b,
        fulamt_ownpay_amt=wholly,
        overlmt_selfpay=over,
        preselfpay_amt=class_b,
        dise_codg=draw(st.sampled_from(DISEASES)),
    )
    hospital = HospitalProfile(
        level=draw(st.integers(1, 3)),
        public=draw(st.booleans()),
        primary_care=draw(st.booleans()),
    )
    return claim, hospital


sequences = st.lists(claims(), min_size=1, max_size=25)
people = st.builds(
    Coverage, identity=st.sampled_from(list(Identity)), medical_assistance=st.booleans()
)


def settle_all(
    policy: Policy, sequence: list[tuple[Claim, HospitalProfile]], coverage: Coverage | None = None
) -> tuple[Accumulator, list[Adjudication]]:
    acc = Accumulator.zero()
    results = []
    for claim, hospital in sequence:
        try:
            result = adjudicate(policy, claim, hospital, acc, coverage)
        except Rejected as refusal:
            assert refusal.code in ("DISEASE_NOT_COVERED", "NOT_PRIMARY_CARE")
            continue
        assert result.accumulator_before == acc
        acc = result.accumulator_after
        results.append(result)
    return acc, results


def check_one(policy: Policy, result: Adjudication) -> None:
    amounts = (
        result.inscp_scp_amt,
        result.act_pay_dedc,
        result.hifp_pay,
        result.hifmi_pay,
        result.maf_pay,
        result.fund_pay_sumamt,
        result.psn_part_amt,
        result.burden_added,
    )
    assert all(amount >= 0 for amount in amounts)
    assert all(amount == amount.quantize(CENT) for amount in amounts)
    assert result.hifp_pay + result.hifmi_pay + result.maf_pay == result.fund_pay_sumamt
    assert result.fund_pay_sumamt + result.psn_part_amt == result.medfee_sumamt
    assert sum(row.fund_payamt for row in result.setldetail) == result.fund_pay_sumamt
    # the patient always pays at least the three self-paid amounts
    assert result.fund_pay_sumamt <= result.inscp_scp_amt
    assert result.act_pay_dedc <= result.inscp_scp_amt
    assert len(result.setl_proc_info) >= 4
    # every amount printed, on the wire and on the receipt, has exactly two decimals
    wire = result.to_wire()
    for name in WIRE_AMOUNTS:
        assert FEN.fullmatch(wire[name]), (name, wire[name])
    for text in wire["accumulators"].values():
        assert isinstance(text, int) or FEN.fullmatch(text)
    for line in result.setl_proc_info:
        for number in re.findall(r"(?<![\w.])\d+\.\d+(?![\d%])", line):
            assert FEN.fullmatch(number), line


def check_caps(policy: Policy, acc: Accumulator) -> None:
    assert 0 <= acc.basic_paid <= policy.basic.annual_cap
    assert 0 <= acc.general_outpatient_paid <= policy.general_outpatient.annual_cap
    assert 0 <= acc.accident_outpatient_paid <= policy.accident_outpatient.annual_cap
    assert 0 <= acc.catastrophic_paid <= policy.catastrophic.annual_cap


@settings(max_examples=200, deadline=None)
@given(sequences)
def test_every_claim_adds_up_and_no_cap_is_exceeded(
    sequence: list[tuple[Claim, HospitalProfile]],
) -> None:
    acc, results = settle_all(LIAOCHENG, sequence)
    for result in results:
        check_one(LIAOCHENG, result)
        check_caps(LIAOCHENG, result.accumulator_after)
    assert acc.inpatient_stays == sum(r.med_type is MedType.INPATIENT for r in results)


@settings(max_examples=200, deadline=None)
@given(sequences)
def test_catastrophic_paid_is_the_rounded_entitlement_of_the_years_burden(
    sequence: list[tuple[Claim, HospitalProfile]],
) -> None:
    acc, results = settle_all(LIAOCHENG, sequence)
    entitled = quantize(
        LIAOCHENG.catastrophic.schedule(Identity.ORDINARY).entitlement(acc.catastrophic_burden)
    )
    cap = LIAOCHENG.catastrophic.annual_cap
    if entitled <= cap:
        assert acc.catastrophic_paid == entitled
    else:
        assert acc.catastrophic_paid == cap
    burden = sum(
        (r.inscp_scp_amt - r.hifp_pay for r in results if r.med_type in SECOND_PASS),
        Decimal(0),
    )
    assert acc.catastrophic_burden == burden


@settings(max_examples=200, deadline=None)
@given(sequences)
def test_reversing_the_last_claim_restores_the_accumulator(
    sequence: list[tuple[Claim, HospitalProfile]],
) -> None:
    acc, results = settle_all(LIAOCHENG, sequence)
    while results:
        last = results.pop()
        acc = acc.reverse(last)
        assert acc == last.accumulator_before
    assert acc == Accumulator.zero()


@settings(max_examples=150, deadline=None)
@given(sequences, people)
def test_special_persons_policy_keeps_every_invariant(
    sequence: list[tuple[Claim, HospitalProfile]], person: Coverage
) -> None:
    acc, results = settle_all(SPECIAL_PERSONS, sequence, person)
    assert SPECIAL_PERSONS.assistance is not None
    rule = SPECIAL_PERSONS.assistance.rule(person.identity, person.medical_assistance)
    for result in results:
        check_one(SPECIAL_PERSONS, result)
        check_caps(SPECIAL_PERSONS, result.accumulator_after)
        if rule is None:
            assert result.maf_pay == 0
        else:
            assert result.accumulator_after.assistance_paid <= rule.annual_cap
    schedule = SPECIAL_PERSONS.catastrophic.schedule(person.identity)
    entitled = quantize(schedule.entitlement(acc.catastrophic_burden))
    assert acc.catastrophic_paid == min(entitled, SPECIAL_PERSONS.catastrophic.annual_cap)
    for result in reversed(results):
        acc = acc.reverse(result)
    assert acc == Accumulator.zero()
