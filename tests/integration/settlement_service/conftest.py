"""A migrated settlement database with hospitals and paid-up persons, for service tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import pytest

from services.settlement import migrations
from services.settlement.adapters import coverage_store, hospitals
from services.settlement.adapters.hospitals import Hospital
from services.settlement.engine import load_policy
from services.settlement.sample import Stream
from services.settlement.service_layer.settlements import SettlementService
from shared.db import make_engine
from shared.events import Event


@dataclass
class World:
    service: SettlementService
    level3: Hospital  # level 3, public
    level2: Hospital
    clinic: Hospital  # level 1, public, primary care

    async def publish(self, *events: Event) -> list[str]:
        """Fold events into the projection as the consumer would."""
        outcomes = []
        for event in events:
            async with self.service.engine.begin() as conn:
                outcomes.append(str(await coverage_store.apply(conn, event)))
        return outcomes

    async def paid_person(self) -> str:
        s = Stream()
        await self.publish(s.registered(), s.paid())
        return s.psn_no


@pytest.fixture
async def world(db_url) -> AsyncIterator[World]:
    await migrations.upgrade_async(db_url)
    engine = make_engine(db_url)
    async with engine.begin() as conn:
        level3, _ = await hospitals.add(conn, code="H3", name="City", level=3, public=True)
        level2, _ = await hospitals.add(conn, code="H2", name="County", level=2)
        clinic, _ = await hospitals.add(
            conn, code="C1", name="Clinic", level=1, public=True, primary_care=True
        )
    service = SettlementService(engine, load_policy("liaocheng-2024"), today=lambda: TODAY)
    try:
        yield World(service, level3, level2, clinic)
    finally:
        await engine.dispose()


TODAY = date(2024, 6, 1)
