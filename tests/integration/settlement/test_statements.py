"""Statements from the ledger (SQLite and PostgreSQL): settlements less reversals of a period,
per fund and per claim type, exact to the fen — the figures 3201/3202 and the ops console use."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from services.settlement.adapters.statement_lines import LedgerLines
from services.settlement.service_layer import statements
from shared.china_time import china_today
from tests.support.sample_events import claim

pytestmark = pytest.mark.integration


async def test_a_day_of_settlements_less_reversals(world):
    psn = await world.paid_person()
    first = json.loads((await world.service.settle(world.level3, claim(psn), "a")).body)
    accident = claim(psn, med_type="accident_outpatient", total="1500.00", wholly="0", class_b="0")
    await world.service.settle(world.level3, accident, "b")
    await world.service.settle(world.level2, claim(psn, total="3000.00"), "c")
    await world.service.reverse(world.level3, first["setl_id"])

    reader = LedgerLines(world.engine)
    today = china_today()
    ours = await statements.statement(reader, world.level3.id, today, today)
    assert (ours.settlements, ours.reversals, ours.totals.count) == (2, 1, 1)
    # Worked example 1 settled and reversed: only the accident visit (worked example 5) stands.
    assert ours.totals.medfee_sumamt == Decimal("1500.00")
    assert ours.totals.hifp_pay == ours.totals.fund_pay_sumamt == Decimal("1000.00")
    assert ours.settled.medfee_sumamt == Decimal("21500.00")
    assert ours.reversed.hifp_pay == Decimal("10560.00")
    assert ours.by_med_type["inpatient"].count == 0
    assert ours.by_med_type["inpatient"].hifp_pay == Decimal("0.00")
    assert ours.of_med_types(["accident_outpatient"]) == ours.totals
    assert [(line.reversal, line.totals.count) for line in ours.lines] == [
        (False, 1),
        (False, 1),
        (True, -1),
    ]
    assert ours.lines[-1].totals.hifp_pay == Decimal("-10560.00")
    assert str(ours.lines[-1].totals.hifmi_pay) == "0.00"  # never "-0.00"

    every = await statements.statements(reader, today, today)
    assert set(every) == {world.level3.id, world.level2.id}
    assert every[world.level3.id].totals == ours.totals
    yesterday = today - timedelta(days=1)
    assert (await statements.statement(reader, world.level3.id, yesterday, yesterday)).lines == ()
