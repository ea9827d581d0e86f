"""Whatever the order and however often events arrive, the projection ends as the stream says."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from services.settlement import migrations
from services.settlement.adapters import coverage_store
from services.settlement.adapters.tables import pending_events, processed_events
from services.settlement.domain import projection
from shared.db import make_engine
from shared.events import Identity
from tests.support.sample_events import Stream

pytestmark = pytest.mark.integration


def _stream() -> tuple[str, list]:
    s = Stream()
    events = [
        s.registered(),
        s.paid(amount="200.00"),
        s.identity(Identity.SUBSISTENCE, date(2024, 4, 1), assistance=True),
        s.paid(amount="160.00"),
        s.died(date(2024, 9, 1), date(2024, 10, 1)),
    ]
    return s.psn_no, events


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('order') / 'settlement.db'}"
    migrations.upgrade(url)
    return url


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=st.permutations(range(5)), again=st.lists(st.integers(0, 4), max_size=4))
def test_any_delivery_order_with_duplicates_folds_the_stream_once(database, order, again):
    psn_no, events = _stream()
    deliveries = [events[i] for i in order] + [events[i] for i in again]

    async def deliver() -> tuple[object, int, int]:
        engine = make_engine(database)
        try:
            for event in deliveries:
                async with engine.begin() as conn:
                    await coverage_store.apply(conn, event)
            async with engine.connect() as conn:
                state = await coverage_store.load(conn, psn_no)
                tracked = (
                    await conn.execute(
                        select(func.count())
                        .select_from(processed_events)
                        .where(processed_events.c.psn_no == psn_no)
                    )
                ).scalar_one()
                parked = (
                    await conn.execute(
                        select(func.count())
                        .select_from(pending_events)
                        .where(pending_events.c.psn_no == psn_no)
                    )
                ).scalar_one()
            return state, tracked, parked
        finally:
            await engine.dispose()

    state, tracked, parked = asyncio.run(deliver())
    assert state == projection.fold_all(events)
    assert (tracked, parked) == (5, 0)
