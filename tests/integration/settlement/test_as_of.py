"""Coverage as of an instant (SPEC §10): what the service answered then, from the events applied
and the settlements and reversals recorded up to it. The property: for random sequences of
events, settlements and reversals, the as-of answer at every step is the live answer given at
that step."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from services.settlement import migrations
from services.settlement.adapters import hospitals
from services.settlement.adapters.tables import coverage_history
from services.settlement.bootstrap import bootstrap
from services.settlement.entrypoints.api.app import create_app
from services.settlement.errors import InvalidRequest, NotFound
from services.settlement.service_layer.as_of import coverage_as_of
from shared.events import Identity
from tests.support.sample_events import Stream, claim

from .conftest import World
from .conftest import settings as world_settings

pytestmark = pytest.mark.integration

ON = date(2024, 3, 1)


@pytest.fixture
async def live(db_url) -> AsyncIterator[World]:
    """A world on the real clock: an as-of answer's "today" is the date of its instant."""
    await migrations.upgrade_async(db_url)
    settlement = bootstrap(world_settings(db_url))
    async with settlement.engine.begin() as conn:
        level3, _ = await hospitals.add(conn, code="H3", name="City", level=3, public=True)
        clinic, _ = await hospitals.add(
            conn, code="C1", name="Clinic", level=1, public=True, primary_care=True
        )
    try:
        yield World(settlement, level3, level3, clinic)
    finally:
        await settlement.aclose()


async def answer(world: World, psn_no: str, at: datetime | None = None) -> dict:
    """The coverage answer, live or as of ``at``; a refusal as its code."""
    try:
        if at is None:
            return await world.service.coverage(psn_no=psn_no, on=ON)
        found = await coverage_as_of(world.service, psn_no, ON, at)
    except NotFound as refusal:
        return {"refused": refusal.code}
    assert found.pop("as_of") == at.astimezone(UTC).isoformat()
    return found


EVENTS = st.sampled_from(["registered", "free", "paid", "identity", "died"])
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("event"), EVENTS, st.integers(0, 7)),
        st.tuples(st.just("settle"), st.sampled_from(["inpatient", "general_outpatient",
                                                       "accident_outpatient"]),
                  st.integers(1, 400_000)),
        st.tuples(st.just("reverse"), st.integers(0, 9), st.integers(0, 0)),
    ),
    min_size=1,
    max_size=12,
)  # fmt: skip


def event(stream: Stream, kind: str, n: int):
    if kind in ("registered", "free"):
        return stream.registered(premium_due="0.00" if kind == "free" else "360.00")
    if kind == "paid":
        return stream.paid()
    if kind == "identity":
        identity = list(Identity)[n % len(Identity)]
        return stream.identity(identity, date(2024, 1 + n, 1), assistance=n % 2 == 0)
    return stream.died(date(2024, 2 + n, 10), date(2024, 3 + n, 10))


async def step(world: World, stream: Stream, move: tuple, standing: list) -> None:
    kind, what, n = move
    if kind == "event":
        await world.publish(event(stream, what, n))
    elif kind == "settle":
        total = f"{n / 100:.2f}"
        body = claim(stream.psn_no, med_type=what, total=total, wholly="0.00", class_b="0.00")
        hospital = world.clinic if what == "general_outpatient" else world.level3
        try:
            settled = await world.service.settle(hospital, body, body["mdtrt_id"])
        except Exception as refusal:  # a refused claim is a step that changes nothing
            assert getattr(refusal, "code", None), refusal
            return
        standing.append((hospital, json.loads(settled.body)["setl_id"]))
    elif standing:
        hospital, setl_id = standing.pop(what % len(standing))
        await world.service.reverse(hospital, setl_id)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(moves=STEPS)
async def test_the_as_of_answer_at_every_step_is_the_live_answer_then(live, moves):
    stream = Stream()  # a new person each example: the database is shared
    seen = [(datetime.now(UTC), await answer(live, stream.psn_no))]
    standing: list = []
    for move in moves:
        await step(live, stream, move, standing)
        live_answer = await answer(live, stream.psn_no)
        seen.append((datetime.now(UTC), live_answer))
    for at, then in seen:
        assert await answer(live, stream.psn_no, at) == then, (at, then)


async def test_a_settlement_and_its_reversal_as_seen_before_between_and_after(live):
    psn = await live.paid_person()
    before = datetime.now(UTC)
    settled = json.loads((await live.service.settle(live.level3, claim(psn), "k")).body)
    between = datetime.now(UTC)
    await live.service.reverse(live.level3, settled["setl_id"])
    after = datetime.now(UTC)
    basic = [(await answer(live, psn, t))["accumulators"]["basic_paid"] for t in (before, between,
                                                                                after)]  # fmt: skip
    assert basic == ["0.00", "10560.00", "0.00"]
    assert (await answer(live, psn, between))["policy"] == "liaocheng-2024"


async def test_refusals_name_the_problem(live):
    now = datetime.now(UTC)
    psn = await live.paid_person()
    with pytest.raises(InvalidRequest) as future:
        await coverage_as_of(live.service, psn, ON, now + timedelta(hours=1))
    assert future.value.code == "AS_OF_IN_FUTURE" and "future" in future.value.message
    with pytest.raises(NotFound) as unborn:
        await coverage_as_of(live.service, psn, ON, now - timedelta(seconds=1))
    assert unborn.value.code == "UNKNOWN_PERSON" and "first heard of" in unborn.value.message
    async with live.engine.begin() as conn:  # a person known before history was kept
        await conn.execute(update(coverage_history).values(baseline=True))
    with pytest.raises(InvalidRequest) as unkept:
        await coverage_as_of(live.service, psn, ON, now - timedelta(seconds=1))
    assert unkept.value.code == "AS_OF_UNAVAILABLE" and psn in unkept.value.message
    with pytest.raises(NotFound):
        await coverage_as_of(live.service, "P-nobody", ON, now)


async def test_over_http_a_time_without_a_zone_is_china_time(live):
    psn = await live.paid_person()
    async with live.engine.begin() as conn:
        key = await hospitals.rotate_key(conn, "H3")
    app = create_app(live.settlement.settings)
    app.state.service, app.state.engine = live.service, live.engine

    async def ask(**params) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://s") as h:
            return await h.get(f"/api/v1/persons/{psn}/coverage", params=params,
                               headers={"Authorization": f"Bearer {key}"})  # fmt: skip

    await asyncio.sleep(1.01)  # whole seconds below: the person exists at the second truncated
    naive = (datetime.now(UTC) + timedelta(hours=8)).replace(tzinfo=None, microsecond=0)
    found = await ask(date="2024-03-01", as_of=naive.isoformat())
    assert found.status_code == 200, found.text
    assert found.json()["as_of"] == (naive - timedelta(hours=8)).replace(tzinfo=UTC).isoformat()
    later = await ask(as_of=(datetime.now(UTC) + timedelta(days=1)).isoformat())
    assert later.status_code == 422 and later.json()["code"] == "AS_OF_IN_FUTURE"
    for wrong in ("yesterday", "0001-01-01T00:00:00"):  # the second: before UTC's first instant
        garbled = await ask(as_of=wrong)
        assert garbled.status_code == 422 and garbled.json()["code"] == "INVALID_REQUEST"
