"""The settlement console and the hospital statements, on both databases.

The console's money figures come from the daily summary caught up from the ledger; these tests
hold them to the statements (the figures NHSA 3201 answers) to the fen, check the pages with
real settlements, reversals and refusals, and check who may look and what odd parameters do.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from services.settlement.adapters import console_figures, ledger_summary
from services.settlement.adapters.tables import hospitals
from services.settlement.entrypoints.api.app import create_app
from services.settlement.service_layer.hospital_statements import month_statements
from services.settlement.settings import Settings
from shared import staff_tokens
from shared.china_time import china_today
from shared.console.params import next_month
from tests.support.sample_events import Stream, claim

from .conftest import World

pytestmark = pytest.mark.integration

FUNDS = ("medfee_sumamt", "fund_pay_sumamt", "hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt")


@pytest.fixture
def keys(tmp_path):
    private, public = staff_tokens.ensure_key_pair(tmp_path)
    return staff_tokens.load_private_key(private), public


def token(keys, role: str = "admin") -> str:
    return staff_tokens.sign(keys[0], f"someone.{role}", role)[0]


@pytest.fixture
async def console(world: World, keys, db_url) -> AsyncIterator[httpx.AsyncClient]:
    """The settlement app (its own engine on the world's database), an admin's session."""
    settings = Settings(
        SETTLEMENT_DATABASE_URL=db_url,
        SETTLEMENT_POLICY="liaocheng-2024",
        STAFF_TOKEN_PUBLIC_KEY_FILE=str(keys[1]),
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://127.0.0.1:8002",
            cookies={"console_session": token(keys)},
        ) as client:
            yield client


async def some_ledger(world: World) -> dict[str, str]:
    """Settlements at two hospitals, one of them reversed, a catastrophic one, and a refusal."""
    setl_ids = {}
    for n, (hospital, total) in enumerate(
        [(world.level3, "20000.00"), (world.level3, "150000.00"), (world.level2, "8000.00")]
    ):
        person = await world.paid_person()
        answer = await world.service.settle(hospital, claim(person, total=total), f"k{n}")
        setl_ids[f"s{n}"] = json.loads(answer.body)["setl_id"]
    await world.service.reverse(world.level3, setl_ids["s0"])
    unpaid = Stream()
    await world.publish(unpaid.registered())
    with pytest.raises(Exception, match="PREMIUM_UNPAID"):
        await world.service.settle(world.level2, claim(unpaid.psn_no), "refused")
    return setl_ids


async def test_the_summary_agrees_with_the_statements_to_the_fen(world: World):
    await some_ledger(world)
    first = china_today().replace(day=1)
    assert await ledger_summary.catch_up(world.engine) is not None
    summary = {
        h.code: h
        for h in await console_figures.per_hospital(world.engine, first, next_month(first))
    }
    statements = await month_statements(world.engine, first)
    assert {s.hospital.code for s in statements.hospitals} == set(summary)
    for item in statements.hospitals:
        line = summary[item.hospital.code].totals
        assert (line.settlements, line.reversals) == (
            item.statement.settlements,
            item.statement.reversals,
        )
        for name in FUNDS:
            assert line.amounts[name] == getattr(item.statement.totals, name), name
    h3 = summary["H3"].totals
    assert (h3.settlements, h3.reversals) == (2, 1)
    assert h3.amounts["hifmi_pay"] > 0  # the 150,000 claim reached the catastrophic fund


async def test_catching_up_adds_each_ledger_row_once(world: World):
    await some_ledger(world)
    first = china_today().replace(day=1)
    # several processes catching up at once: each row is summed by exactly one of them
    await asyncio.gather(*(ledger_summary.catch_up(world.engine) for _ in range(4)))
    await ledger_summary.catch_up(world.engine)
    person = await world.paid_person()
    await world.service.settle(world.level2, claim(person), "later")
    await ledger_summary.catch_up(world.engine)
    days = await console_figures.per_day(world.engine, first, next_month(first))
    statements = await month_statements(world.engine, first)
    for name in FUNDS:
        summed = sum(day.amounts[name] for day in days.values())
        assert summed == sum(getattr(s.statement.totals, name) for s in statements.hospitals)
    assert sum(day.settlements for day in days.values()) == 4


async def test_every_page_shows_the_figures_and_says_so_in_both_languages(world, console):
    await some_ledger(world)
    month = china_today().strftime("%Y-%m")
    statements = await month_statements(world.engine, china_today().replace(day=1))
    paid = sum(s.statement.totals.fund_pay_sumamt for s in statements.hospitals)
    pages = {
        "/console": [f"{paid:,.2f}", "Settlements"],
        f"/console/settlements?month={month}": ["H3", "City", "County"],
        f"/console/funds?month={month}": ["Catastrophic insurance", "<polyline"],
        f"/console/refusals?month={month}": ["PREMIUM_UNPAID"],
        "/console/catastrophic?year=2024": ["11,000.00 to 100,000.00"],
        "/console/pipeline": ["Dead letters", "no broker configured"],
        f"/console/statements?month={month}": ["/console/statements/download?month="],
    }
    for path, expected in pages.items():
        console.cookies.delete("console_lang")  # the Chinese page below remembers its choice
        answer = await console.get(path)
        assert answer.status_code == 200, path
        # nothing from elsewhere: the only absolute URLs are the other console and SVG's name
        own = r'href="http://127\.0\.0\.1:8001/console"|xmlns="http://www\.w3\.org/2000/svg"'
        assert "http" not in re.sub(own, "", answer.text)
        for text in expected:
            assert text in answer.text, (path, text)
        chinese = await console.get(path, params={"lang": "zh"})
        assert chinese.status_code == 200 and "结算控制台" in chinese.text
    catastrophic = await console.get("/console/catastrophic?year=2024&lang=en")
    assert re.search(r"11,000\.00 to 100,000\.00</td><td class=\"figure\">1<", catastrophic.text)


@pytest.mark.parametrize(
    "path",
    [
        "/console/settlements?page=-1&sort=zzz&month=2026-13&dir=up",
        "/console/funds?month=abcd",
        "/console/refusals?month=2026-00&size=7",
        "/console/catastrophic?year=-5",
        "/console/pipeline?page=999999&sort=nothing",
        "/console/statements?month=9999-99&page=0",
        "/console/statements/download?month=2026-13&format=pdf",
        "/console/what-if?year=x",
    ],
)
async def test_odd_parameters_answer_a_page_with_a_message(world, console, path):
    answer = await console.get(path)
    assert answer.status_code == 200, answer.text[:300]
    assert 'class="note"' in answer.text


async def test_the_statements_route_in_json_csv_and_xlsx(world, console, keys):
    await some_ledger(world)
    async with world.engine.begin() as conn:  # a name Excel would run as a formula
        await conn.execute(
            update(hospitals).where(hospitals.c.code == "H2").values(name="=HYPERLINK(1)")
        )
    month = china_today().strftime("%Y-%m")
    staff = {"Authorization": f"Bearer {token(keys, 'auditor')}"}
    route = "/api/v1/ops/statements"
    as_json = await console.get(route, params={"month": month}, headers=staff)
    assert as_json.status_code == 200, as_json.text
    document = {h["hospital"]["code"]: h for h in as_json.json()["hospitals"]}
    first = china_today().replace(day=1)
    for item in (await month_statements(world.engine, first)).hospitals:
        assert document[item.hospital.code]["totals"] == item.statement.totals.as_text()
    assert len(document["H3"]["lines"]) == 3  # two settlements and a reversal
    one = await console.get(route, params={"month": month, "hospital": "H3"}, headers=staff)
    assert [h["hospital"]["code"] for h in one.json()["hospitals"]] == ["H3"]

    as_csv = await console.get(route, params={"month": month, "format": "csv"}, headers=staff)
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.content.startswith(b"\xef\xbb\xbf") and b"\r\n" in as_csv.content
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    total = next(r for r in rows if r["hospital_code"] == "H3" and r["med_type"] == "all")
    assert Decimal(total["fund_pay_sumamt"]) == Decimal(document["H3"]["totals"]["fund_pay_sumamt"])
    assert {r["hospital_name"] for r in rows if r["hospital_code"] == "H2"} == {"'=HYPERLINK(1)"}

    as_xlsx = await console.get(route, params={"month": month, "format": "xlsx"}, headers=staff)
    book = load_workbook(io.BytesIO(as_xlsx.content))
    assert book.sheetnames == ["Summary", "Lines"]
    names = [row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True)]
    assert "=HYPERLINK(1)" in names
    assert all(c.data_type == "s" for c in book["Summary"]["B"] if c.value == "=HYPERLINK(1)")


@pytest.mark.parametrize(
    ("params", "role", "status", "code"),
    [
        ({"month": "2026-13"}, "admin", 422, "INVALID_MONTH"),
        ({"month": "2026-01", "format": "pdf"}, "admin", 422, "INVALID_REQUEST"),
        ({"month": "2026-01", "hospital": "NOPE"}, "city", 404, "UNKNOWN_HOSPITAL"),
        ({"month": "2026-01"}, "tax", 403, "FORBIDDEN"),
        ({"month": "2026-01"}, None, 401, "UNAUTHENTICATED"),
    ],
)
async def test_statements_refusals(world, console, keys, params, role, status, code):
    headers = {"Authorization": f"Bearer {token(keys, role)}"} if role else {}
    console.cookies.clear()
    answer = await console.get("/api/v1/ops/statements", params=params, headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (status, code)


async def test_who_may_look(world, console, keys):
    month = china_today().strftime("%Y-%m")
    page = f"/console/settlements?month={month}"
    console.cookies.clear()
    anonymous = await console.get(page)
    assert anonymous.status_code == 401
    assert "/console/login?next=%2Fconsole%2Fsettlements%3Fmonth%3D" in anonymous.text
    browser = await console.get(page, headers={"Accept": "text/html,application/xhtml+xml"})
    assert browser.status_code == 303
    assert browser.headers["location"].startswith("/console/login?next=%2Fconsole%2Fsettlements")
    login = await console.get("/console/login", params={"next": page})
    assert login.status_code == 303
    assert login.headers["location"].startswith("http://127.0.0.1:8001/console/login?next=")
    assert "8002%2Fconsole%2Fsettlements" in login.headers["location"]
    elsewhere = await console.get("/console/login", params={"next": "https://evil.example/"})
    assert "evil" not in elsewhere.headers["location"]
    console.cookies.set("console_session", token(keys, "tax"))
    assert (await console.get(page)).status_code == 403
    console.cookies.set("console_session", token(keys, "auditor"))
    assert (await console.get(page)).status_code == 200
    expired = staff_tokens.sign(keys[0], "old", "admin", now=datetime_hours_ago(2))[0]
    console.cookies.set("console_session", expired)
    assert (await console.get(page)).status_code == 401
    console.cookies.set("console_session", token(keys))
    assert (await console.post("/console/logout", data={"csrf": "forged"})).status_code == 403
    home = await console.get("/console")
    csrf = re.search(r'name="csrf" value="([^"]+)"', home.text)[1]
    out = await console.post("/console/logout", data={"csrf": csrf})
    assert out.status_code == 303 and "console_session=" in out.headers["set-cookie"]
    assert (await console.get("/console/static/console.css")).status_code == 200
    assert (await console.get("/console/static/../settings.py")).status_code == 404


def datetime_hours_ago(hours: int):
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) - timedelta(hours=hours)


async def test_the_what_if_report_through_the_console(world, console):
    await some_ledger(world)
    form = await console.get("/console/what-if", params={"lang": "en"})
    assert form.status_code == 200 and 'name="policy"' in form.text
    report = await console.get(
        "/console/what-if", params={"year": "2024", "policy": "liaocheng-2024"}
    )
    assert report.status_code == 200, report.text[:300]
    assert report.headers["content-type"].startswith("text/html")
    assert "script-src" not in report.headers["content-security-policy"]
    refused = await console.get("/console/what-if", params={"year": "2024", "policy": "nope"})
    assert refused.status_code == 200 and "POLICY_NOT_FOUND" in refused.text


async def test_settlements_posted_while_the_summary_catches_up_are_each_counted_once(world):
    people = [await world.paid_person() for _ in range(12)]

    async def settle(n: int) -> None:
        await world.service.settle(world.level3, claim(people[n], total="3000.00"), f"c{n}")

    async def catch_up_often() -> None:
        for _ in range(6):
            await ledger_summary.catch_up(world.engine)
            await asyncio.sleep(0)

    await asyncio.gather(*(settle(n) for n in range(12)), catch_up_often(), catch_up_often())
    await ledger_summary.catch_up(world.engine)
    first = china_today().replace(day=1)
    summary = await console_figures.per_hospital(world.engine, first, next_month(first))
    h3 = next(h.totals for h in summary if h.code == "H3")
    statement = next(
        s.statement
        for s in (await month_statements(world.engine, first)).hospitals
        if s.hospital.code == "H3"
    )
    assert h3.settlements == statement.settlements == 12
    assert h3.amounts["fund_pay_sumamt"] == statement.totals.fund_pay_sumamt
