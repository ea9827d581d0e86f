"""Fifty simultaneous settlements for one person from two hospitals, on PostgreSQL row locks."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from services.settlement import migrations
from services.settlement.adapters import coverage_store, hospitals
from services.settlement.adapters.tables import ledger
from services.settlement.bootstrap import bootstrap
from services.settlement.engine import load_policy
from services.settlement.service_layer import verify as verifying
from tests.integration.settlement.conftest import settings
from tests.support.sample_events import Stream, claim

pytestmark = pytest.mark.integration


async def test_fifty_concurrent_settlements_never_exceed_a_cap(pg_url):
    await migrations.upgrade_async(pg_url)
    settlement = bootstrap(settings(pg_url), pool_size=25, max_overflow=30)
    engine, service = settlement.engine, settlement.service
    try:
        async with engine.begin() as conn:
            city, _ = await hospitals.add(conn, code="H3", name="City", level=3, public=True)
            county, _ = await hospitals.add(conn, code="H2", name="County", level=2)
        s = Stream()
        for event in (s.registered(), s.paid()):
            async with engine.begin() as conn:
                await coverage_store.apply(conn, event)

        async def settle(i: int) -> dict:
            hospital = city if i % 2 else county
            body = claim(s.psn_no, total="40000.00", wholly="0", class_b="0")
            answer = await service.settle(hospital, body, f"race-{i}")
            return json.loads(answer.body)

        results = await asyncio.gather(*(settle(i) for i in range(50)))

        async with engine.connect() as conn:
            acc = await settlement.ledger.totals(s.psn_no, 2024)
            differences = await verifying.verify(conn)
            entries = (await conn.execute(select(ledger))).all()
        policy = load_policy("liaocheng-2024")
        assert len(entries) == 50
        assert acc.inpatient_stays == 50
        # no cap exceeded, and the cap is reached exactly: no update was lost
        assert acc.basic_paid == policy.basic.annual_cap
        assert acc.catastrophic_paid <= policy.catastrophic.annual_cap
        assert sum(Decimal(r["hifp_pay"]) for r in results) == acc.basic_paid
        assert sum(Decimal(r["hifmi_pay"]) for r in results) == acc.catastrophic_paid
        burden = sum(Decimal(r["inscp_scp_amt"]) - Decimal(r["hifp_pay"]) for r in results)
        assert burden == acc.catastrophic_burden
        # each answer saw the totals of the ones before it: stays numbered 1..50
        assert sorted(r["accumulators"]["inpatient_stays"] for r in results) == list(range(1, 51))
        assert differences == []
    finally:
        await settlement.aclose()


async def test_concurrent_retries_with_one_key_settle_once(pg_url):
    await migrations.upgrade_async(pg_url)
    settlement = bootstrap(settings(pg_url))
    engine, service = settlement.engine, settlement.service
    try:
        async with engine.begin() as conn:
            city, _ = await hospitals.add(conn, code="H3", name="City", level=3, public=True)
        s = Stream()
        for event in (s.registered(), s.paid()):
            async with engine.begin() as conn:
                await coverage_store.apply(conn, event)
        body = claim(s.psn_no)
        answers = await asyncio.gather(*(service.settle(city, body, "one-key") for _ in range(10)))
        assert len({a.body for a in answers}) == 1
        async with engine.connect() as conn:
            acc = await settlement.ledger.totals(s.psn_no, 2024)
        assert acc.inpatient_stays == 1
    finally:
        await settlement.aclose()
