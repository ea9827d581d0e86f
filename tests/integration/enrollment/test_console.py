"""The enrollment console over real HTTP, on both databases: the login (name and password, the
session cookie both consoles share), the pages with real registrations and payments inside each
viewer's scope, the retry button and its CSRF guard, and odd parameters."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from services.enrollment import bootstrap
from services.enrollment.domain.staff import Actor, new_staff
from services.enrollment.domain.tax_messages import Incoming
from services.enrollment.service_layer.payments import apply_messages
from services.enrollment.service_layer.staff import add_staff
from shared.db import make_engine, make_sessionmaker

from .people import unique_certno
from .staff_cast import REGION, TOWN_A, TOWN_B, YEAR

pytestmark = pytest.mark.integration

PASSWORD = "a long enough password"
LOGINS = {
    "ann": new_staff("ann", "admin"),
    "town.a.clerk": new_staff("town.a.clerk", "town", organization=TOWN_A),
    "tax.clerk": new_staff("tax.clerk", "tax"),
    "dept.clerk": new_staff("dept.clerk", "department", source="health"),
}


@pytest.fixture
async def logins(base_url, db_url) -> None:
    """Staff who can log in with a password, in the served app's database."""
    engine = make_engine(db_url)
    try:
        sessionmaker = make_sessionmaker(engine)
        for member in LOGINS.values():
            await add_staff(
                sessionmaker, member, actor=Actor("cli:tests", "system"), password=PASSWORD
            )
    finally:
        await engine.dispose()


async def log_in(http: httpx.AsyncClient, name: str, next: str = "/console") -> httpx.Response:
    form = await http.get("/console/login", params={"next": next})
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]
    return await http.post(
        "/console/login",
        data={"username": name, "password": PASSWORD, "csrf": csrf, "next": next},
    )


@pytest.fixture
async def browser(base_url, logins) -> AsyncIterator[httpx.AsyncClient]:
    """A client without an Authorization header: cookies only, as a browser."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        yield http


async def register(client, n: int, region: str, organization: str, category: str, **extra):
    answer = await client.post(
        "/api/v1/persons",
        json={
            "certno": unique_certno(n, region),
            "name": f"Person {n}",
            "category": category,
            "region": region,
            "organization": organization,
            "insurance_year": YEAR,
            **extra,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def payment(serial: str, certno: str, amount: str = "400.00") -> Incoming:
    return Incoming(
        json.dumps(
            {
                "tax_serial": serial,
                "certno": certno,
                "insurance_year": YEAR,
                "amount": amount,
                "payer": "individual",
                "channel": "wechat",
                "paid_at": "2025-10-08T09:30:00+08:00",
            }
        ).encode()
    )


@pytest.fixture
async def year_of_data(client, db_url):
    """Three residents and a student in town A, one resident in town B; payments for three of
    them, one payment for a certno nobody holds yet (unmatched) and a malformed message."""
    for n, category in enumerate(["resident", "resident", "student", "resident"]):
        await register(client, 700 + n, REGION, TOWN_A, category)
    await register(client, 710, "110105", TOWN_B, "resident", identity="subsistence")
    wiring = bootstrap.connect_url(db_url)
    try:
        outcome = await apply_messages(
            wiring.uow,
            [
                payment("T1", unique_certno(700, REGION)),
                payment("T2", unique_certno(701, REGION), "100.00"),
                payment("T3", unique_certno(702, REGION), "360.00"),
                payment("T9", unique_certno(720, REGION)),  # not registered yet
                Incoming(b"{not json"),
            ],
        )
    finally:
        await wiring.dispose()
    assert (outcome.applied, outcome.unmatched) == (3, 2)


async def test_logging_in_keeps_a_strict_http_only_session_and_goes_where_asked(browser, base_url):
    anonymous = await browser.get("/console/collection")
    assert anonymous.status_code == 401
    assert "/console/login?next=%2Fconsole%2Fcollection" in anonymous.text
    wrong = await browser.post(
        "/console/login", data={"username": "ann", "password": "nope", "csrf": "x"}
    )
    assert wrong.status_code == 403  # the form's CSRF value is not this browser's
    form = await browser.get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]
    refused = await browser.post(
        "/console/login", data={"username": "ann", "password": "wrong!", "csrf": csrf}
    )
    assert refused.status_code == 401 and "Wrong name or password" in refused.text
    answer = await log_in(browser, "ann", "/console/collection")
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/collection")
    cookie = answer.headers["set-cookie"]
    assert "console_session=" in cookie and "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert (await browser.get("/console/collection")).status_code == 200
    peer = "http://127.0.0.1:8002/console/funds?month=2026-01"
    assert (await log_in(browser, "ann", peer)).headers["location"] == peer
    for evil in ("https://evil.example/console", "//evil.example/console", "javascript:alert(1)"):
        assert (await log_in(browser, "ann", evil)).headers["location"] == "/console"


async def test_the_pages_show_the_year_inside_the_viewers_scope(browser, year_of_data):
    await log_in(browser, "ann")
    registrations = await browser.get("/console/registrations", params={"lang": "en"})
    assert registrations.status_code == 200
    row = re.search(rf"<td>{YEAR}</td>(.*?)</tr>", registrations.text, re.S)[1]
    figures = re.findall(r'class="figure">([\d,]+)<', row)
    assert figures == ["0", "1", "0", "4", "5"]  # preschool, student, university, resident, all
    collection = await browser.get("/console/collection", params={"year": str(YEAR)})
    town_a = re.search(rf"<td>{TOWN_A}</td>(.*?)</tr>", collection.text, re.S)[1]
    people, _, paid, _, covered, _ = re.findall(r'class="figure">([^<]*)<', town_a)
    assert (people, paid, covered) == ("4", "860.00", "2")  # 400 + 100 + 360; two paid in full
    assert "<polyline" in collection.text and TOWN_B in collection.text
    special = await browser.get("/console/special")
    assert "subsistence allowance" in special.text
    unmatched = await browser.get("/console/unmatched")
    assert "UNKNOWN_CERTNO" in unmatched.text and "MALFORMED_JSON" in unmatched.text
    assert unique_certno(720, REGION) not in unmatched.text  # ID numbers masked
    relay = await browser.get("/console/relay")
    assert relay.status_code == 200 and "enrollment.events" in relay.text
    chinese = await browser.get("/console/collection", params={"lang": "zh"})
    assert "保费征收" in chinese.text and "参保登记控制台" in chinese.text

    browser.cookies.clear()
    await log_in(browser, "town.a.clerk")
    mine = await browser.get("/console/collection")
    assert TOWN_A in mine.text and TOWN_B not in mine.text
    assert (await browser.get("/console/unmatched")).status_code == 403  # not a town's list


async def test_each_role_sees_its_own_pages(browser, year_of_data):
    await log_in(browser, "tax.clerk")
    assert (await browser.get("/console/unmatched")).status_code == 200
    assert (await browser.get("/console/registrations")).status_code == 403
    home = await browser.get("/console")
    assert home.status_code == 200 and "/console/registrations" not in home.text
    assert 'action="/console/unmatched/retry"' not in (await browser.get("/console/unmatched")).text
    browser.cookies.clear()
    await log_in(browser, "dept.clerk")
    assert (await browser.get("/console")).status_code == 403


async def test_the_retry_button_replays_and_refuses_a_forged_form(browser, client, year_of_data):
    await log_in(browser, "ann")
    forged = await browser.post("/console/unmatched/retry", data={"csrf": "guess"})
    assert forged.status_code == 403
    await register(client, 720, REGION, TOWN_A, "resident")  # the late registration
    page = await browser.get("/console/unmatched")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
    retried = await browser.post("/console/unmatched/retry", data={"csrf": csrf})
    assert retried.status_code == 303
    done = await browser.get(retried.headers["location"] + "&lang=en")
    assert "Retried: 1 applied" in done.text
    still = await browser.get("/console/unmatched")
    assert "UNKNOWN_CERTNO" not in still.text and "MALFORMED_JSON" in still.text
    resolved = await browser.get("/console/unmatched", params={"status": "resolved"})
    assert "T9" in resolved.text


@pytest.mark.parametrize(
    "path",
    [
        "/console/registrations?page=-1&sort=zzz&dir=sideways",
        "/console/collection?year=20x6&organization=nowhere&size=3",
        "/console/collection?year=1800",
        "/console/unmatched?status=lost&page=999&sort=raw",
        "/console/special?lang=xx&page=abc",
        "/console/relay?month=2026-13",
    ],
)
async def test_odd_parameters_answer_a_page_with_a_message(browser, year_of_data, path):
    await log_in(browser, "ann")
    answer = await browser.get(path)
    assert answer.status_code == 200, answer.text[:300]
    if "?" in path and not path.startswith(("/console/special", "/console/relay")):
        assert 'class="note"' in answer.text
