"""A migrated settlement database with hospitals and paid-up persons, for service tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy.ext.asyncio import AsyncEngine

from services.settlement import migrations
from services.settlement.adapters import coverage_store, hospitals
from services.settlement.adapters.hospitals import Hospital
from services.settlement.adapters.ledger import Ledger
from services.settlement.bootstrap import Settlement, bootstrap
from services.settlement.service_layer.settlements import SettlementService
from services.settlement.settings import Settings
from shared.events import Event, dlq
from tests.support.sample_events import Stream


@dataclass
class World:
    settlement: Settlement  # wired by bootstrap, as the service runs
    level3: Hospital  # level 3, public
    level2: Hospital
    clinic: Hospital  # level 1, public, primary care

    @property
    def service(self) -> SettlementService:
        return self.settlement.service

    @property
    def engine(self) -> AsyncEngine:
        return self.settlement.engine

    @property
    def ledger(self) -> Ledger:
        return self.settlement.ledger

    async def publish(self, *events: Event) -> list[str]:
        """Fold events into the projection as the consumer would."""
        outcomes = []
        for event in events:
            async with self.engine.begin() as conn:
                outcomes.append(str(await coverage_store.apply(conn, event)))
        return outcomes

    async def paid_person(self) -> str:
        s = Stream()
        await self.publish(s.registered(), s.paid())
        return s.psn_no


def settings(url: str) -> Settings:
    return Settings(SETTLEMENT_DATABASE_URL=url, SETTLEMENT_POLICY="liaocheng-2024")


@pytest.fixture
async def world(db_url) -> AsyncIterator[World]:
    await migrations.upgrade_async(db_url)
    settlement = bootstrap(settings(db_url), today=lambda: TODAY)
    async with settlement.engine.begin() as conn:
        level3, _ = await hospitals.add(conn, code="H3", name="City", level=3, public=True)
        level2, _ = await hospitals.add(conn, code="H2", name="County", level=2)
        clinic, _ = await hospitals.add(
            conn, code="C1", name="Clinic", level=1, public=True, primary_care=True
        )
    try:
        yield World(settlement, level3, level2, clinic)
    finally:
        await settlement.aclose()


TODAY = date(2024, 6, 1)


async def dlq_records(bootstrap: str, topic: str, want: int, timeout: float = 30.0) -> list:
    """The records of ``topic``'s DLQ, read until ``want`` came (the relay publishes them), and
    a little longer, so that a duplicate on its way is seen too."""
    reader = AIOKafkaConsumer(
        dlq(topic), bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await reader.start()
    records: list = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < want and asyncio.get_running_loop().time() < deadline:
            batches = await reader.getmany(timeout_ms=500)
            records.extend(m for msgs in batches.values() for m in msgs)
        batches = await reader.getmany(timeout_ms=1000)
        records.extend(m for msgs in batches.values() for m in msgs)
    finally:
        await reader.stop()
    return records
