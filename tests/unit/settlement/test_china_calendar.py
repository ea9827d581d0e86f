"""The service's clock is China's date: at 2024-03-31T20:00Z it is already 1 April in the city.

A death's settlement deadline and the default date of a coverage question (hence its insurance
year) are judged on the same calendar as a claim's admission time: UTC+8, not the server's UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from services.settlement.domain import projection
from services.settlement.engine import Rejected, load_policy
from services.settlement.service_layer.settlements import SettlementService
from shared import china_time
from tests.support.sample_events import Stream, claim
from tests.unit.settlement.test_settlements import CITY, MemoryLedger

pytestmark = pytest.mark.unit


class OneCoverage:
    """The coverage store, holding one person."""

    def __init__(self, state: projection.CoverageState) -> None:
        self.state = state

    async def load(self, psn_no: str) -> projection.CoverageState | None:
        return self.state if psn_no == self.state.psn_no else None


def at(monkeypatch: pytest.MonkeyPatch, instant: datetime) -> None:
    monkeypatch.setattr(china_time, "utc_now", lambda: instant)


def service_for(*events) -> tuple[SettlementService, MemoryLedger, str]:
    """The service on its default clock, knowing one person through ``events``."""
    state = projection.fold_all(list(events))
    assert state is not None
    ledger = MemoryLedger()
    ledger.coverage[state.psn_no] = projection.to_json(state)
    policy = load_policy("liaocheng-2024")
    service = SettlementService(ledger, OneCoverage(state), None, policy)  # type: ignore[arg-type]
    return service, ledger, state.psn_no


async def test_the_deadline_passes_at_midnight_in_china_not_in_utc(monkeypatch):
    s = Stream()
    service, ledger, psn = service_for(
        s.registered(), s.paid(), s.died(date(2024, 3, 10), deadline=date(2024, 3, 31))
    )
    at(monkeypatch, datetime(2024, 3, 31, 15, 59, tzinfo=UTC))  # 23:59 on 31 March in China
    settled = await service.settle(CITY, claim(psn, endtime="2024-03-09T10:00:00"), "k1")
    assert settled.status == 201
    at(monkeypatch, datetime(2024, 3, 31, 20, 0, tzinfo=UTC))  # 04:00 on 1 April in China
    with pytest.raises(Rejected) as refused:
        await service.settle(CITY, claim(psn, endtime="2024-03-09T10:00:00"), "k2")
    assert refused.value.code == "SETTLEMENT_DEADLINE_PASSED"
    assert len(ledger.entries) == 1


async def test_coverage_without_a_date_asks_about_chinas_today_and_its_year(monkeypatch):
    s = Stream()
    service, _, psn = service_for(s.registered(year=2024), s.paid(year=2024))
    at(monkeypatch, datetime(2024, 12, 31, 17, 0, tzinfo=UTC))  # 01:00 on 1 January 2025
    answer = await service.coverage(psn_no=psn)
    assert (answer["date"], answer["insurance_year"]) == ("2025-01-01", 2025)
    assert answer["eligible"] is False and answer["code"] == "NOT_ENROLLED"
    json.dumps(answer)  # an answer the API can send as it is
