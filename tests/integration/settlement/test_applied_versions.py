"""``GET /api/v1/ops/applied-versions``: the versions the projection applied, paged by psn_no for
staff who may read settlement's figures; a parked event is not applied, a duplicate changes
nothing, and hospitals or roles without the right are refused."""

from __future__ import annotations

import httpx
import pytest

from services.settlement import migrations
from services.settlement.adapters import coverage_store
from services.settlement.entrypoints.api.app import create_app
from services.settlement.settings import Settings
from shared import staff_tokens
from tests.support.sample_events import Stream

pytestmark = pytest.mark.integration

ROUTE = "/api/v1/ops/applied-versions"


@pytest.fixture
async def served(db_url, tmp_path):
    """The app (lifespan running) on a migrated database, and a key to sign staff tokens."""
    await migrations.upgrade_async(db_url)
    private, public = staff_tokens.ensure_key_pair(tmp_path)
    app = create_app(
        Settings(SETTLEMENT_DATABASE_URL=db_url, STAFF_TOKEN_PUBLIC_KEY_FILE=str(public))
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as http:
            yield app, http, staff_tokens.load_private_key(private)


async def apply(app, *events) -> None:
    for event in events:
        async with app.state.engine.begin() as conn:
            await coverage_store.apply(conn, event)


def bearer(key, role: str = "auditor") -> dict[str, str]:
    return {"Authorization": f"Bearer {staff_tokens.sign(key, 'ops.reader', role)[0]}"}


async def test_pages_by_psn_no_with_each_persons_last_applied_version(served):
    app, http, key = served
    firsts = []
    for n in range(5):
        s = Stream(f"P{n:02d}")
        firsts.append(s.registered())
        await apply(app, firsts[-1], *(s.paid() for _ in range(n % 3)))
    gap = Stream("P99")
    first = gap.registered()
    gap.paid()
    await apply(app, gap.next(first.payload))  # v3 parked behind a gap: nothing applied

    answer = await http.get(ROUTE, params={"limit": 2}, headers=bearer(key))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "items": [{"psn_no": "P00", "version": 1}, {"psn_no": "P01", "version": 2}],
        "next_after": "P01",
    }
    rest = (await http.get(ROUTE, params={"after": "P01"}, headers=bearer(key, "city"))).json()
    assert rest == {
        "items": [
            {"psn_no": "P02", "version": 3},
            {"psn_no": "P03", "version": 1},
            {"psn_no": "P04", "version": 2},
        ],
        "next_after": None,
    }
    ranged = await http.get(ROUTE, params={"after": "P00", "through": "P02"}, headers=bearer(key))
    assert [i["psn_no"] for i in ranged.json()["items"]] == ["P01", "P02"]

    await apply(app, firsts[0])  # P00's v1 delivered again: a duplicate
    again = await http.get(ROUTE, params={"through": "P00"}, headers=bearer(key, "admin"))
    assert again.json()["items"] == [{"psn_no": "P00", "version": 1}]


async def test_refuses_callers_who_may_not_read_settlements_figures(served):
    _, http, key = served
    nobody = await http.get(ROUTE)
    assert nobody.status_code == 401
    assert nobody.json()["code"] == "UNAUTHENTICATED"
    town = await http.get(ROUTE, headers=bearer(key, "town"))
    assert town.status_code == 403
    assert town.json()["code"] == "FORBIDDEN"
    hospital_key = await http.get(ROUTE, headers={"Authorization": "Bearer not-a-signed-token"})
    assert hospital_key.status_code == 401
    too_many = await http.get(ROUTE, params={"limit": 10_001}, headers=bearer(key))
    assert too_many.status_code == 422
