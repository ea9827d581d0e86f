"""PostgreSQL settles optimistically (read, then compare-and-set); when another settlement moves
the person's totals in between, the claim must be settled again under the row lock, on the new
totals — never posted on the stale ones."""

from __future__ import annotations

import json

import pytest

from services.settlement.adapters.postgres_ledger import PostgresLedger
from services.settlement.service_layer import verify as verifying
from tests.integration.settlement.conftest import World
from tests.support.sample_events import Stream, claim

pytestmark = pytest.mark.integration


@pytest.fixture
def db_url(pg_url: str) -> str:  # the optimistic path exists on PostgreSQL only
    return pg_url


async def test_totals_moved_between_read_and_write_are_settled_again_under_the_lock(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = Stream()
    await world.publish(s.registered(), s.paid())
    assert isinstance(world.ledger, PostgresLedger)
    real_read = world.ledger._read_unlocked
    interleaved: list[dict] = []

    async def read_then_let_another_hospital_settle(conn, psn_no, year):
        before = await real_read(conn, psn_no, year)
        if not interleaved:  # once: a second hospital settles a stay in between
            interleaved.append({})
            other = await world.service.settle(world.level2, claim(psn_no), "other")
            interleaved[0] = json.loads(other.body)
        return before

    monkeypatch.setattr(world.ledger, "_read_unlocked", read_then_let_another_hospital_settle)
    mine = json.loads((await world.service.settle(world.level3, claim(s.psn_no), "mine")).body)

    first = interleaved[0]
    assert first["act_pay_dedc"] == "500.00"  # level 2, 1st stay
    # Mine was adjudicated again on the moved totals: the 2nd stay, half the level-3 deductible.
    assert mine["act_pay_dedc"] == "450.00"
    assert mine["hifp_pay"] == "10830.00"  # (18,500 − 450) × 60 %
    assert mine["accumulators"]["inpatient_stays"] == 2
    assert mine["accumulators"]["basic_paid"] == f"{12600 + 10830}.00"
    async with world.engine.connect() as conn:
        assert await verifying.verify(conn) == []
