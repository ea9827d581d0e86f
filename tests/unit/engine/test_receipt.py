"""``setl_proc_info`` and ``to_wire``: what the cashier prints and what the HIS reads."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from services.settlement.engine import Accumulator, adjudicate
from shared.money import fen_text

from .builders import CLINIC, LEVEL_3, LIAOCHENG, accident, inpatient

pytestmark = pytest.mark.unit


def test_one_line_per_step_of_the_waterfall() -> None:
    result = adjudicate(
        LIAOCHENG, inpatient("20000", "1000", class_b="500"), LEVEL_3, Accumulator.zero()
    )
    assert result.setl_proc_info == (
        "Policy-scope amount: total 20000.00 − wholly self-paid 1000.00 − above price limits "
        "0.00 − class-B self-paid 500.00 = 18500.00",
        "Inpatient stay 1 of 2024 at a level-3 hospital: deductible 900.00 (100% of 900.00), "
        "applied 900.00",
        "Basic fund 390100: (18500.00 − 900.00) × 60% = 10560.00; shared annual cap 120000.00, "
        "120000.00 left; pays 10560.00",
        "Catastrophic insurance 390200: burden 7940.00, year's burden 0.00 → 7940.00; "
        "entitlement on the standard bands 0.00, already paid 0.00, 400000.00 of the annual "
        "cap left; pays 0.00",
        "Funds pay 10560.00 in all; the patient pays 20000.00 − 10560.00 = 9440.00",
    )


def test_the_cap_shows_on_the_receipt() -> None:
    result = adjudicate(LIAOCHENG, accident("1500"), CLINIC, Accumulator.zero())
    assert (
        "(1500.00 − 100.00) × 90% = 1260.00; accident outpatient annual cap 1000.00, "
        "1000.00 left; pays 1000.00" in result.setl_proc_info[2]
    )


def test_to_wire_uses_the_national_names_and_two_decimal_strings() -> None:
    result = adjudicate(LIAOCHENG, inpatient("250000", "10000"), LEVEL_3, Accumulator.zero())
    wire = json.loads(json.dumps(result.to_wire(setl_id="S1")))
    assert wire["setl_id"] == "S1"
    assert wire["insurance_year"] == 2024
    assert wire["medfee_sumamt"] == "250000.00"
    assert wire["inscp_scp_amt"] == "240000.00"
    assert wire["act_pay_dedc"] == "900.00"
    assert wire["hifp_pay"] == "120000.00"
    assert wire["hifmi_pay"] == "66400.00"
    assert wire["maf_pay"] == "0.00"
    assert wire["fund_pay_sumamt"] == "186400.00"
    assert wire["psn_part_amt"] == "63600.00"
    assert wire["setldetail"] == [
        {"fund_pay_type": "390100", "fund_payamt": "120000.00"},
        {"fund_pay_type": "390200", "fund_payamt": "66400.00"},
    ]
    assert wire["accumulators"]["basic_paid"] == "120000.00"
    assert wire["accumulators"]["catastrophic_paid"] == "66400.00"
    assert len(wire["setl_proc_info"]) == 5


def test_preview_has_no_settlement_id() -> None:
    result = adjudicate(LIAOCHENG, inpatient("100"), LEVEL_3, Accumulator.zero())
    assert result.to_wire()["setl_id"] is None


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("0.00", "0.00"),
        ("12.30", "12.30"),
        ("400000.00", "400000.00"),
        ("5", "5.00"),
        ("12.3", "12.30"),
        ("1E+3", "1000.00"),
        ("0.0000", "0.00"),
        ("-7.50", "-7.50"),
    ],
)
def test_amounts_always_print_with_two_decimals(amount: str, text: str) -> None:
    assert fen_text(Decimal(amount)) == text
