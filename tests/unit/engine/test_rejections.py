"""The refusals of SPEC §5 with their codes, and the order in which they are checked."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.settlement.engine import (
    Accumulator,
    Coverage,
    Rejected,
    adjudicate,
    parse_claim,
)

from .builders import CLINIC, LEVEL_2, LEVEL_3, LIAOCHENG, chronic, general, inpatient

pytestmark = pytest.mark.unit

PAID_UP = Coverage(premium_due=Decimal("360"), premium_paid=Decimal("360"))


def code_of(claim: object, hospital: object = LEVEL_3, **kw: object) -> str:
    with pytest.raises(Rejected) as refused:
        adjudicate(LIAOCHENG, claim, hospital, Accumulator.zero(), **kw)  # type: ignore[arg-type]
    return refused.value.code


@pytest.mark.parametrize(
    "amounts",
    [
        ("-1", "0", "0", "0"),
        ("100", "-0.01", "0", "0"),
        ("100", "0", "-5", "0"),
        ("100", "0", "0", "-5"),
        ("100", "60", "30", "10.01"),  # the self-paid parts exceed the total: P < 0
    ],
)
def test_invalid_amounts(amounts: tuple[str, str, str, str]) -> None:
    assert code_of(
        inpatient(amounts[0], amounts[1], over_limit=amounts[2], class_b=amounts[3])
    ) == ("INVALID_AMOUNTS")


def test_policy_scope_of_exactly_zero_is_fine() -> None:
    result = adjudicate(
        LIAOCHENG,
        inpatient("100", "60", over_limit="30", class_b="10"),
        LEVEL_3,
        Accumulator.zero(),
    )
    assert result.inscp_scp_amt == 0


def test_discharge_before_admission() -> None:
    claim = inpatient("100", begntime="2024-03-02T08:00:00", endtime="2024-03-01T08:00:00")
    assert code_of(claim) == "INVALID_DATES"


def test_same_moment_admission_and_discharge_is_fine() -> None:
    claim = inpatient("100", begntime="2024-03-02", endtime="2024-03-02T00:00:00")
    assert adjudicate(LIAOCHENG, claim, LEVEL_3, Accumulator.zero()).insurance_year == 2024


def test_a_discharge_date_covers_its_whole_day() -> None:
    same_day = inpatient("100", begntime="2024-03-02T08:00:00", endtime="2024-03-02")
    assert adjudicate(LIAOCHENG, same_day, LEVEL_3, Accumulator.zero()).insurance_year == 2024
    day_before = inpatient("100", begntime="2024-03-02T08:00:00", endtime="2024-03-01")
    assert code_of(day_before) == "INVALID_DATES"


def test_amounts_are_checked_before_dates() -> None:
    claim = inpatient("-1", begntime="2024-03-02", endtime="2024-03-01")
    assert code_of(claim) == "INVALID_AMOUNTS"


@pytest.mark.parametrize(
    ("coverage", "code"),
    [
        (Coverage(known=False), "UNKNOWN_PERSON"),
        (Coverage(registered=False), "NOT_ENROLLED"),
        (Coverage(premium_due=Decimal("360"), premium_paid=Decimal("359.99")), "PREMIUM_UNPAID"),
        (Coverage(date_of_death=date(2024, 2, 29)), "ADMITTED_AFTER_DEATH"),
    ],
)
def test_eligibility(coverage: Coverage, code: str) -> None:
    assert code_of(inpatient("1000"), coverage=coverage) == code


def test_nothing_due_is_paid_up() -> None:
    result = adjudicate(LIAOCHENG, inpatient("1000"), LEVEL_3, Accumulator.zero(), Coverage())
    assert result.hifp_pay == Decimal("60.00")


def test_admitted_on_the_day_of_death_is_covered() -> None:
    coverage = Coverage(date_of_death=date(2024, 3, 1), settlement_deadline=date(2024, 4, 1))
    result = adjudicate(
        LIAOCHENG, inpatient("1000"), LEVEL_3, Accumulator.zero(), coverage, date(2024, 4, 1)
    )
    assert result.hifp_pay == Decimal("60.00")


def test_settled_after_the_deadline() -> None:
    coverage = Coverage(date_of_death=date(2024, 3, 1), settlement_deadline=date(2024, 4, 1))
    assert code_of(inpatient("1000"), coverage=coverage, settled_on=date(2024, 4, 2)) == (
        "SETTLEMENT_DEADLINE_PASSED"
    )


def test_eligibility_comes_before_the_claim_type_and_after_dates() -> None:
    unknown = Coverage(known=False)
    assert code_of(general("100"), LEVEL_2, coverage=unknown) == "UNKNOWN_PERSON"
    assert code_of(chronic("100", dise_codg="J18"), coverage=unknown) == "UNKNOWN_PERSON"
    backwards = inpatient("100", begntime="2024-03-02", endtime="2024-03-01")
    assert code_of(backwards, coverage=unknown) == "INVALID_DATES"
    # the first eligibility failure wins
    assert code_of(inpatient("1"), coverage=Coverage(known=False, registered=False)) == (
        "UNKNOWN_PERSON"
    )
    assert code_of(
        inpatient("1"), coverage=Coverage(registered=False, premium_due=Decimal("1"))
    ) == ("NOT_ENROLLED")


@pytest.mark.parametrize(
    "code", ["C00", "C34.901", "c50.9", "C97", "C91.0", "N18.5", "Z94.0", "D66", "D67", "D68.1"]
)
def test_listed_chronic_diseases(code: str) -> None:
    result = adjudicate(LIAOCHENG, chronic("1000", dise_codg=code), CLINIC, Accumulator.zero())
    assert result.hifp_pay == Decimal("650.00")


@pytest.mark.parametrize("code", ["C98", "C9", "D68.2", "D68", "J18.9", "I10", "", None, "CA1"])
def test_unlisted_diagnoses(code: str | None) -> None:
    assert code_of(chronic("1000", dise_codg=code), CLINIC) == "DISEASE_NOT_COVERED"  # type: ignore[arg-type]


def test_general_outpatient_only_at_primary_care() -> None:
    assert code_of(general("100"), LEVEL_2) == "NOT_PRIMARY_CARE"


def test_inpatient_and_accident_do_not_need_primary_care() -> None:
    assert adjudicate(LIAOCHENG, inpatient("100"), LEVEL_2, Accumulator.zero()).hifp_pay == 0


# --- parsing at the boundary -----------------------------------------------------------------

BODY = {
    "psn_no": "P1",
    "mdtrt_id": "M1",
    "med_type": "inpatient",
    "begntime": "2024-03-01 08:00:00",
    "endtime": "2024-03-05",
    "medfee_sumamt": "100.00",
    "fulamt_ownpay_amt": "0",
    "overlmt_selfpay": 0,
    "preselfpay_amt": "0.00",
}


def parse_code(**changes: object) -> str:
    body = {**BODY, **changes}
    for name, value in changes.items():
        if value is None:
            del body[name]
    with pytest.raises(Rejected) as refused:
        parse_claim(body)
    return refused.value.code


def test_a_good_body_parses_with_either_iso_form() -> None:
    claim = parse_claim(BODY)
    assert claim.begntime.hour == 8
    assert claim.endtime.day == 5
    assert claim.medfee_sumamt == Decimal("100.00")
    assert claim.dise_codg is None


def test_an_aware_time_is_read_in_china_standard_time() -> None:
    claim = parse_claim({**BODY, "begntime": "2023-12-31T17:30:00Z", "endtime": "2024-01-02"})
    assert claim.insurance_year == 2024  # 01:30 on 1 January in the city


@pytest.mark.parametrize("field", ["psn_no", "mdtrt_id", "med_type", "medfee_sumamt", "begntime"])
def test_a_missing_field_is_an_invalid_request_naming_it(field: str) -> None:
    body = {k: v for k, v in BODY.items() if k != field}
    with pytest.raises(Rejected) as refused:
        parse_claim(body)
    assert refused.value.code == "INVALID_REQUEST"
    assert field in refused.value.message


@pytest.mark.parametrize("field", ["medfee_sumamt", "begntime", "psn_no"])
def test_a_null_is_a_missing_field(field: str) -> None:
    with pytest.raises(Rejected) as refused:
        parse_claim({**BODY, field: None})
    assert refused.value.code == "INVALID_REQUEST"
    assert f"{field}: field required" in refused.value.message


def test_negative_zero_is_zero() -> None:
    claim = parse_claim({**BODY, "medfee_sumamt": "-0.00", "fulamt_ownpay_amt": "-0"})
    assert str(claim.medfee_sumamt) == "0.00"
    assert str(claim.fulamt_ownpay_amt) == "0.00"


def test_unknown_med_type() -> None:
    assert parse_code(med_type="dental") == "INVALID_REQUEST"


@pytest.mark.parametrize("value", [100.5, "abc", "NaN", "Infinity", True, [1], "100.001", "1E-3"])
def test_amounts_that_are_not_exact_numbers_in_fen(value: object) -> None:
    assert parse_code(medfee_sumamt=value) == "INVALID_AMOUNTS"
    assert parse_code(preselfpay_amt=value) == "INVALID_AMOUNTS"


def test_amounts_are_held_in_fen() -> None:
    claim = parse_claim({**BODY, "medfee_sumamt": 100, "fulamt_ownpay_amt": "1E+1"})
    assert str(claim.medfee_sumamt) == "100.00"
    assert str(claim.fulamt_ownpay_amt) == "10.00"


def test_unparseable_dates() -> None:
    assert parse_code(begntime="yesterday") == "INVALID_DATES"


def test_bad_amounts_win_over_unparseable_dates() -> None:
    assert parse_code(begntime="yesterday", medfee_sumamt="-1") == "INVALID_AMOUNTS"
    assert parse_code(begntime="yesterday", medfee_sumamt="x") == "INVALID_AMOUNTS"
