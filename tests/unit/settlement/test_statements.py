"""The statement's arithmetic and its China-time days, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.settlement.adapters.statement_lines import AMOUNTS, LedgerLine
from services.settlement.service_layer.statements import month_period, period, summarize

pytestmark = pytest.mark.unit


def _raw(setl_id: str, entry_type: str, at: datetime, total: str, fund: str) -> LedgerLine:
    amounts = dict.fromkeys(AMOUNTS, Decimal("0.00"))
    amounts.update(medfee_sumamt=Decimal(total), hifp_pay=Decimal(fund))
    amounts["fund_pay_sumamt"] = Decimal(fund)
    amounts["psn_part_amt"] = Decimal(total) - Decimal(fund)
    return LedgerLine(setl_id, 1, "V" + setl_id, "P1", "inpatient", entry_type, at, amounts)


def test_a_china_day_starts_at_16_utc_the_day_before() -> None:
    since, until = period(date(2024, 3, 1), date(2024, 3, 31))
    assert since == datetime(2024, 2, 29, 16, tzinfo=UTC)
    assert until == datetime(2024, 3, 31, 16, tzinfo=UTC)
    assert month_period(2024, 12) == (date(2024, 12, 1), date(2024, 12, 31))
    with pytest.raises(ValueError, match="ends"):
        period(date(2024, 3, 2), date(2024, 3, 1))


def test_reversals_take_their_settlements_amounts_away_exactly() -> None:
    at = datetime(2024, 3, 1, 2, tzinfo=UTC)
    result = summarize(
        [
            _raw("S1", "settlement", at, "100.10", "50.05"),
            _raw("S2", "settlement", at, "0.20", "0.10"),
            _raw("S1", "reversal", at, "100.10", "50.05"),
        ],
        1,
        date(2024, 3, 1),
        date(2024, 3, 1),
    )
    assert (result.settlements, result.reversals, result.totals.count) == (2, 1, 1)
    assert result.totals.medfee_sumamt == Decimal("0.20")
    assert result.totals.psn_part_amt == Decimal("0.10")
    assert result.settled.fund_pay_sumamt == Decimal("50.15")
    assert result.reversed.fund_pay_sumamt == Decimal("50.05")
    assert result.lines[0].setl_time == datetime(2024, 3, 1, 10)
    assert result.totals.as_text()["medfee_sumamt"] == "0.20"
