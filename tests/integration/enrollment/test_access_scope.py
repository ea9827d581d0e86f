"""Scope in the handlers' queries, the actor on events, the audit log, masking and tokens — on
the served app, SQLite and PostgreSQL (SPEC §8). The generated matrix is test_access_matrix.py."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.enrollment.bootstrap import unit_of_work_factory
from services.enrollment.domain.access import Caller
from services.enrollment.domain.staff import Actor
from services.enrollment.domain.tax_messages import Incoming
from services.enrollment.service_layer import basic_data
from services.enrollment.service_layer import staff as staff_service
from services.enrollment.service_layer.payments import apply_messages
from services.enrollment.service_layer.unmatched import unmatched_rows
from shared import staff_tokens
from shared.db import make_engine, make_sessionmaker
from shared.events import import_actor

from .people import unique_certno
from .staff_cast import CAST, REGION, TOWN_A, TOWN_B, YEAR

pytestmark = pytest.mark.integration


@pytest.fixture
async def uow(db_url):
    engine = make_engine(db_url)
    try:
        yield unit_of_work_factory(make_sessionmaker(engine))
    finally:
        await engine.dispose()


def refused(answer, status: int, code: str) -> bool:
    return answer.status_code == status and answer.json()["code"] == code


async def test_a_town_reads_and_changes_only_its_own_people(client, staff, people):
    a, b = people
    town = staff["town"]
    for path in (f"/api/v1/persons/{b.psn_no}", f"/api/v1/persons/{b.psn_no}/events"):
        assert refused(await client.get(path, headers=town), 404, "PERSON_NOT_FOUND")
    by_certno = await client.get("/api/v1/persons", params={"certno": b.certno}, headers=town)
    assert refused(by_certno, 404, "PERSON_NOT_FOUND") and b.certno not in by_certno.text
    change = {"identity": "orphan", "medical_assistance": False, "reason": "list"}
    for path, body in (("identity", change), ("death", {"date_of_death": "2026-01-05"})):
        answer = await client.post(f"/api/v1/persons/{b.psn_no}/{path}", json=body, headers=town)
        assert refused(answer, 404, "PERSON_NOT_FOUND")
    own = await client.post(f"/api/v1/persons/{a.psn_no}/identity", json=change, headers=town)
    assert own.status_code == 200, own.text
    events = (await client.get(f"/api/v1/persons/{a.psn_no}/events", headers=town)).json()
    assert [e["actor"] for e in events][-1] == "town.a (town)"
    assert events[0]["actor"] == "admin (admin)"
    nothing_of_b = (await client.get(f"/api/v1/persons/{b.psn_no}/events")).json()
    assert len(nothing_of_b) == 1  # town A's attempts wrote nothing


async def test_back_dating_is_the_districts_within_its_region(client, staff, people):
    a, _ = people
    earlier = (date.today().replace(day=1) - timedelta(days=40)).replace(day=1).isoformat()
    change = {
        "identity": "subsistence",
        "medical_assistance": False,
        "reason": "civil affairs list of last month",
        "effective_from": earlier,
    }
    path = f"/api/v1/persons/{a.psn_no}/identity"
    assert refused(await client.post(path, json=change, headers=staff["town"]), 403, "FORBIDDEN")
    other = await client.post(path, json=change, headers=staff["district.other"])
    assert refused(other, 404, "PERSON_NOT_FOUND")
    # The district passes the door and the scope; the rules of 004 then judge the date itself
    # (a person registered this month has no earlier month to change).
    judged = await client.post(path, json=change, headers=staff["district"])
    assert judged.status_code in (200, 422), judged.text
    assert judged.json().get("code") not in {"FORBIDDEN", "PERSON_NOT_FOUND"}


async def test_a_town_registers_only_in_its_organization(client, staff, people):
    _, b = people
    town = staff["town"]
    body = {
        "certno": unique_certno(601, REGION),
        "name": "丙某人",
        "category": "student",
        "region": REGION,
        "organization": TOWN_B,
        "insurance_year": YEAR,
        "identity": "destitute",  # a special person: no registration window (issue 11)
    }
    assert refused(await client.post("/api/v1/persons", json=body, headers=town), 403, "FORBIDDEN")
    for year in (YEAR, YEAR - 1):  # B is town B's for YEAR: this year and earlier ones too
        taken = {**body, "certno": b.certno, "organization": TOWN_A, "insurance_year": year}
        answer = await client.post("/api/v1/persons", json=taken, headers=town)
        assert refused(answer, 409, "REGISTERED_ELSEWHERE"), answer.text
        assert b.name not in answer.text and b.psn_no not in answer.text
    assert len((await client.get(f"/api/v1/persons/{b.psn_no}/events")).json()) == 1
    mine = await client.post("/api/v1/persons", json={**body, "organization": TOWN_A}, headers=town)
    assert mine.status_code == 201, mine.text


async def test_a_towns_list_import_takes_only_its_organizations_rows(client, staff, people):
    _, b = people
    text = "certno,name,category,organization,region,identity\n"
    # special persons (no registration window, issue 11): a town takes them in any month
    text += f"{unique_certno(701, REGION)},丁某人,student,{TOWN_A},{REGION},destitute\n"
    text += f"{unique_certno(702, REGION)},戊某人,student,{TOWN_B},{REGION},destitute\n"
    text += f"{b.certno},{b.name},student,{TOWN_A},{REGION},destitute\n"
    data = text.encode()
    answer = await client.post(
        "/api/v1/persons/batch",
        params={"year": YEAR},
        content=data,
        headers={**staff["town"], "content-type": "text/csv"},
    )
    report = answer.json()
    assert (report["registered"], report["rejected"]) == (1, 2), report
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (3, "organization"),
        (4, "certno"),
    ]
    assert "another organization" in report["errors"][1]["reason"]
    found = await client.get(
        "/api/v1/persons", params={"certno": unique_certno(701, REGION)}, headers=staff["town"]
    )
    events = (await client.get(f"/api/v1/persons/{found.json()['psn_no']}/events")).json()
    assert events[0]["actor"] == import_actor(data)
    audit = (await client.get("/api/v1/audit", params={"actor": "town.a"})).json()
    [row] = [r for r in audit if r["action"] == "persons.import_list"]
    assert row["records"] == 1 and row["detail"]["file"] == import_actor(data)[7:]


async def test_exports_hold_the_callers_scope_read_in_the_query(uow, people):
    a, b = people
    by_name = {
        name: [
            r.psn_no
            async for page in basic_data.pages(uow, YEAR, Caller.of(CAST[name]))
            for r in page
        ]
        for name in ("district", "district.other", "town", "town.b", "department", "city")
    }
    assert by_name["district"] == by_name["town"] == [a.psn_no]
    assert by_name["district.other"] == by_name["town.b"] == [b.psn_no]
    assert by_name["department"] == []
    assert sorted(by_name["city"]) == sorted([a.psn_no, b.psn_no])


async def test_whole_id_numbers_only_in_the_basic_data_for_tax(client, staff, people):
    a, b = people
    for name, whole in (("tax", True), ("admin", False), ("city", False), ("auditor", False)):
        for form in ("csv", "json"):
            answer = await client.get(
                "/api/v1/basic-data", params={"year": YEAR, "format": form}, headers=staff[name]
            )
            assert answer.status_code == 200
            assert (a.certno in answer.text and b.certno in answer.text) is whole, (name, form)
            assert "371*************" in answer.text or whole
    subsidies = await client.get("/api/v1/subsidies", params={"year": YEAR, "format": "csv"})
    assert a.certno not in subsidies.text and b.certno not in subsidies.text


async def test_the_unmatched_list_by_region(client, staff, uow, people):
    a, _ = people
    stranger = {"371": unique_certno(801, REGION), "110": unique_certno(802, "110105")}
    messages = [
        {"tax_serial": f"U{k}", "certno": c, "insurance_year": YEAR, "amount": "360.00"}
        for k, c in stranger.items()
    ]
    messages.append({"tax_serial": "UA", "certno": a.certno, "insurance_year": 2020})
    base = {"payer": "individual", "channel": "wechat", "paid_at": "2025-10-01T09:00:00+08:00"}
    await apply_messages(uow, [Incoming(json.dumps({**base, **m}).encode()) for m in messages])
    await apply_messages(uow, [Incoming(b"{not json")])
    serials = {}
    for name in ("district", "district.other", "tax"):
        rows = await unmatched_rows(uow, Caller.of(CAST[name]), None, 100)
        serials[name] = sorted(r["tax_serial"] or "-" for r in rows)
    assert serials == {
        "district": ["U371", "UA"],
        "district.other": ["U110"],
        "tax": ["-", "U110", "U371", "UA"],
    }
    over_http = await client.get("/api/v1/payments/unmatched", headers=staff["district"])
    assert sorted(r["tax_serial"] for r in over_http.json()) == ["U371", "UA"]
    assert a.certno not in over_http.text


async def test_the_audit_log_holds_writes_and_bulk_reads_with_their_actor(client, staff, people):
    a, _ = people
    await client.post(
        f"/api/v1/persons/{a.psn_no}/death",
        json={"date_of_death": "2026-02-01"},
        headers=staff["town"],
    )
    await client.get("/api/v1/basic-data", params={"year": YEAR}, headers=staff["tax"])
    await client.post("/api/v1/basic-data/publish", params={"year": YEAR}, headers=staff["tax"])
    await client.get("/api/v1/subsidies", params={"year": YEAR}, headers=staff["district"])
    await client.get("/api/v1/payments/unmatched", headers=staff["tax"])
    audit = (await client.get("/api/v1/audit", headers=staff["auditor"])).json()
    seen = {(r["actor"], r["role"], r["action"]): r for r in audit}
    registered = [r for r in audit if r["actor"] == "admin" and r["psn_no"] == a.psn_no]
    # persons.register_late when the year's registration window has closed (issue 11)
    assert registered[0]["action"] in {"persons.register", "persons.register_late"}
    assert seen["town.a", "town", "persons.record_death"]["psn_no"] == a.psn_no
    assert seen["tax.1", "tax", "basic_data.read"]["records"] == 2
    assert seen["tax.1", "tax", "basic_data.publish"]["records"] == 2
    assert ("district.1", "district", "subsidies.read") in seen
    assert ("tax.1", "tax", "payments.read_unmatched") in seen
    about_a = await client.get("/api/v1/audit", params={"psn_no": a.psn_no})
    assert {r["action"] for r in about_a.json()} >= {
        registered[0]["action"],
        "persons.record_death",
    }
    assert refused(await client.get("/api/v1/audit", headers=staff["tax"]), 403, "FORBIDDEN")


async def test_disable_forgery_and_expiry_on_the_real_routes(client, staff, db_url, token_keys):
    engine = make_engine(db_url)
    try:
        sessionmaker = make_sessionmaker(engine)
        clerk = CAST["town"].__class__("li.na", CAST["town"].role, organization=TOWN_A)
        await staff_service.add_staff(
            sessionmaker, clerk, actor=Actor("cli:t", "system"), password="a long password"
        )
        login = await client.post(
            "/api/v1/session", data={"username": "li.na", "password": "a long password"}
        )
        signed = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert (await client.get("/api/v1/persons/P1", headers=signed)).status_code == 404
        private = staff_tokens.load_private_key(token_keys[0])
        past = datetime.now(UTC) - timedelta(hours=1)
        head, body, signature = login.json()["access_token"].split(".")
        for forged in (
            staff_tokens.sign(private, "li.na", "town", scope={"organization": TOWN_A}, now=past)[
                0
            ],
            staff_tokens.sign(Ed25519PrivateKey.generate(), "admin", "admin")[0],
            f"{head}.{body[:-3]}abc.{signature}",
        ):
            answer = await client.get(
                "/api/v1/persons/P1", headers={"Authorization": f"Bearer {forged}"}
            )
            assert refused(answer, 401, "UNAUTHENTICATED")
        await staff_service.disable_staff(sessionmaker, "li.na", actor=Actor("cli:t", "system"))
        # At once: on PostgreSQL the app's staff cache is emptied by the disable's NOTIFY, which
        # reaches it within milliseconds of the commit (adapters/staff_cache.py).
        disabled = time.monotonic()
        while (answer := await client.get("/api/v1/persons/P1", headers=signed)).status_code != 401:
            assert time.monotonic() - disabled < 1.0, answer.text
            await asyncio.sleep(0.01)
        assert refused(answer, 401, "UNAUTHENTICATED")
    finally:
        await engine.dispose()


async def test_a_towns_report_holds_only_its_own_people(client, staff):
    month = f"{date.today():%Y-%m}"
    for n, town, name in ((901, TOWN_A, "己某人"), (902, TOWN_B, "庚某人")):
        special = {
            "certno": unique_certno(n, REGION),
            "name": name,
            "category": "resident",
            "region": REGION,
            "organization": town,
            "insurance_year": YEAR,
            "identity": "destitute",
        }
        assert (await client.post("/api/v1/persons", json=special)).status_code == 201
    reports = {}
    for who in ("town", "town.b", "district", "admin"):
        answer = await client.get(
            "/api/v1/reports/special-persons",
            params={"month": month, "format": "json"},
            headers=staff[who],
        )
        assert answer.status_code == 200, answer.text
        reports[who] = answer.text
    # one row per organization, and a detail line per change (name, masked certno)
    assert TOWN_A in reports["town"] and TOWN_B not in reports["town"]
    assert TOWN_B in reports["town.b"] and TOWN_A not in reports["town.b"]
    assert "庚某人" not in reports["town"] and "己某人" not in reports["town.b"]
    assert TOWN_A in reports["district"] and TOWN_B in reports["admin"]
    assert unique_certno(901, REGION) not in reports["admin"]  # masked in reports
