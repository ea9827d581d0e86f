"""The special persons' cycle over HTTP (SPEC §7), each call as the role SPEC §8 names.

Runs on the service's own clock (December 2026 when written): the carry-over list is for next
year, the monthly list for this month.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import Workbook, load_workbook

from services.enrollment import bootstrap
from services.enrollment.domain.school_lists import parse_list
from services.enrollment.service_layer.school_lists import ImportBy, import_rows
from services.enrollment.settings import PREMIUM_RULES_DIR

from .people import unique_certno
from .staff_cast import TOWN_A, TOWN_B

pytestmark = pytest.mark.integration

TODAY = date.today()
NEXT = TODAY.year + 1
REGION = "371502"


def certno(n: int) -> str:
    return unique_certno(n, REGION)


def carry_over_csv(*rows: tuple[int, str, str]) -> bytes:
    lines = ["身份证号,姓名,身份,医疗救助,行政区划,乡镇街道"]
    lines += [
        f"{certno(n)},居民{n},{identity},{flag},{REGION},{TOWN_A}" for n, identity, flag in rows
    ]
    return ("\n".join(lines) + "\n").encode("gb18030")


def titled_xlsx(header: list[str], rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["柳南区残联 特殊人员结转名单"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def register(client, n: int, year: int, headers=None, **extra):
    body = {
        "certno": certno(n),
        "name": f"居民{n}",
        "category": "resident",
        "region": REGION,
        "organization": TOWN_A,
        "insurance_year": year,
        **extra,
    }
    return await client.post("/api/v1/persons", json=body, headers=headers)


async def test_carry_over_from_upload_to_freeze_each_step_by_its_role(client, staff):
    url = f"/api/v1/carry-over/{NEXT}"
    known = (await register(client, 1, TODAY.year)).json()["psn_no"]  # ordinary this year
    civil = await _upload_lists(client, staff, url)
    result = await _merge_submit_freeze(client, staff, url)
    again = await client.post(f"{url}/freeze", headers=staff["city"])
    assert again.json() == result
    for path, body in ((f"{url}/lists/civil_affairs", civil), (f"{url}/submit", None)):
        refused = await client.post(path, content=body, headers=staff["admin"])
        assert (refused.status_code, refused.json()["code"]) == (409, "CARRY_OVER_FROZEN")
    person = (await client.get(f"/api/v1/persons/{known}")).json()
    last = person["identity_timeline"][-1]
    assert (last["effective_from"], last["identity"], last["medical_assistance"]) == (
        f"{NEXT}-01-01",
        "subsistence",
        True,
    )
    await _pay_on_behalf(client, staff)


async def _upload_lists(client, staff, url: str) -> bytes:
    """Civil affairs' list by its department, health's by the admin; each one's rows checked."""
    civil = carry_over_csv((1, "低保", "是"), (2, "特困", "否"))
    answer = await client.post(
        f"{url}/lists/civil_affairs", content=civil, headers=staff["department"]
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["accepted"], answer.json()["rejected"]) == (2, [])
    wrong = await client.post(
        f"{url}/lists/civil_affairs", content=civil, headers=staff["department.health"]
    )
    assert (wrong.status_code, wrong.json()["code"]) == (403, "FORBIDDEN")
    health = titled_xlsx(
        ["身份证号", "姓名", "身份", "医疗救助", "行政区划", "乡镇街道"],
        [
            [certno(2), "居民2", "重度残疾", "否", REGION, TOWN_A],  # resolved by priority
            [certno(3), "居民3", "重度残疾", "否", REGION, TOWN_A],
            ["110105194912310021", "坏行", "孤儿", "否", REGION, TOWN_A],
        ],
    )
    answer = await client.post(
        f"{url}/lists/health", files={"file": ("名单.xlsx", health)}, headers=staff["admin"]
    )
    assert answer.json()["accepted"] == 2
    assert [(e["row"], e["field"]) for e in answer.json()["rejected"]] == [(5, "certno")]
    return civil


async def _merge_submit_freeze(client, staff, url: str) -> dict:
    """The merged list read, submitted by the district, frozen by the city: each by its role."""
    assert (await client.get(url, headers=staff["town"])).status_code == 403
    merged = (await client.get(url, headers=staff["district"])).json()
    assert (merged["status"], merged["persons"], merged["conflicts"]) == ("draft", 3, [])
    assert merged["resolved_by_priority"] == 1
    assert {s: v["rows"] for s, v in merged["sources"].items()} == {"civil_affairs": 2, "health": 2}
    assert (await client.get(url, headers=staff["district.other"])).json()["persons"] == 0
    assert (await client.post(f"{url}/submit", headers=staff["city"])).status_code == 403
    submitted = await client.post(f"{url}/submit", headers=staff["district"])
    assert submitted.json()["status"] == "submitted", submitted.text
    assert (await client.post(f"{url}/freeze", headers=staff["district"])).status_code == 403
    frozen = await client.post(f"{url}/freeze", headers=staff["city"])
    assert frozen.status_code == 200, frozen.text
    result = frozen.json()
    assert (result["status"], result["persons"], result["registered"]) == ("frozen", 3, 3)
    assert result["paid_on_behalf"] == 1  # the severely disabled person owes a premium
    return result


async def _pay_on_behalf(client, staff) -> None:
    """The premium paid on the severely disabled person's behalf: listed, then paid, once."""
    on_behalf = await client.get(
        "/api/v1/subsidies/on-behalf", params={"year": NEXT}, headers=staff["district"]
    )
    [row] = on_behalf.json()
    assert (row["amount"], row["organization"], "*" in row["certno"]) == ("400.00", TOWN_A, True)
    csv_list = await client.get(
        "/api/v1/subsidies/on-behalf", params={"year": NEXT, "format": "csv"}, headers=staff["city"]
    )
    assert csv_list.content.startswith(b"\xef\xbb\xbfsubsidy_id,psn_no,certno")
    paid = await client.post(
        f"/api/v1/subsidies/{row['subsidy_id']}/paid",
        json={"paid_on": TODAY.isoformat(), "reference": "GK-2026-001"},
        headers=staff["district"],
    )
    assert (paid.status_code, paid.json()["status"]) == (200, "paid"), paid.text
    repeat = await client.post(
        f"/api/v1/subsidies/{row['subsidy_id']}/paid",
        json={"paid_on": TODAY.isoformat(), "reference": "GK-2026-001"},
        headers=staff["district"],
    )
    assert repeat.json() == paid.json()
    outside = await client.post(
        f"/api/v1/subsidies/{row['subsidy_id']}/paid",
        json={"paid_on": TODAY.isoformat(), "reference": "X"},
        headers=staff["district.other"],
    )
    assert (outside.status_code, outside.json()["code"]) == (404, "SUBSIDY_NOT_FOUND")


async def test_the_monthly_list_flags_unflags_reports_the_unknown_and_is_idempotent(client, staff):
    for n in (11, 12, 13):
        assert (await register(client, n, TODAY.year)).status_code == 201
    month = TODAY.strftime("%Y-%m")
    first = "姓名,身份证号,行政区划\n" + "".join(
        f"居民{n},{certno(n)},{REGION}\n" for n in (11, 12, 19)
    )
    url = f"/api/v1/medical-assistance/{month}"
    answer = await client.post(url, content=first.encode("gb18030"), headers=staff["department"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["flagged"], body["unflagged"], body["unchanged"]) == (2, 0, 0)
    assert [u["row"] for u in body["unknown"]] == [4]
    assert body["late"] is (TODAY.day > 5)
    again = await client.post(url, content=first.encode("gb18030"), headers=staff["department"])
    assert (again.json()["flagged"], again.json()["unchanged"]) == (0, 2)
    second = "certno,name\n" + f"{certno(12)},居民12\n{certno(13)},居民13\n"
    answer = (await client.post(url, content=second.encode(), headers=staff["department"])).json()
    assert (answer["flagged"], answer["unflagged"], answer["unchanged"]) == (1, 1, 1)
    refused = await client.post(url, content=second.encode(), headers=staff["department.health"])
    assert refused.status_code == 403
    assert (await client.post(url, content=b"\x00\x01binary", headers=staff["admin"])).json()[
        "code"
    ] == "INVALID_LIST_FILE"
    assert (
        await client.post("/api/v1/medical-assistance/2026-13", content=second.encode())
    ).status_code == 422


async def registered_in_october(db_url: str, n: int) -> str:
    """A person a town registered for this year in October (through the list import)."""
    wiring = bootstrap.connect_url(db_url)
    try:
        text = (
            "certno,name,category,organization,region,identity\n"
            f"{certno(n)},居民{n},resident,{TOWN_A},{REGION},orphan\n"
        )
        october = datetime(TODAY.year, 10, 9, 2, tzinfo=UTC)
        await import_rows(
            wiring.uow,
            parse_list(text.encode()),
            TODAY.year,
            PREMIUM_RULES_DIR,
            by=ImportBy.system(),
            now=october,
        )
        async with wiring.uow() as work:
            psn_no = await work.events.find_psn_no(certno(n))
        assert psn_no is not None
        return psn_no
    finally:
        await wiring.dispose()


async def test_identity_changes_take_effect_on_the_1st_and_back_dating_is_the_districts(
    client, staff, db_url
):
    psn_no = await registered_in_october(db_url, 21)
    url = f"/api/v1/persons/{psn_no}/identity"
    month_start = TODAY.replace(day=1)
    last_month = (month_start - timedelta(days=1)).replace(day=15)
    change = {"identity": "subsistence", "medical_assistance": False, "reason": "民政认定"}
    back = {**change, "effective_from": last_month.isoformat()}
    refused = await client.post(url, json=back, headers=staff["town"])
    assert (refused.status_code, refused.json()["code"]) == (403, "FORBIDDEN")
    taken = await client.post(url, json=back, headers=staff["district"])
    assert taken.status_code == 200, taken.text
    first = last_month.replace(day=1).isoformat()
    assert taken.json()["identity_timeline"][-1]["effective_from"] == first
    later = {**change, "identity": "destitute", "effective_from": f"{NEXT}-02-01"}
    future = await client.post(url, json=later, headers=staff["admin"])
    assert (future.status_code, future.json()["code"]) == (422, "INVALID_EFFECTIVE_DATE")
    exit_ = {"identity": "ordinary", "medical_assistance": False, "reason": "退出"}
    answer = await client.post(url, json=exit_, headers=staff["town"])
    assert (answer.status_code, answer.json()["code"]) == (422, "EVIDENCE_REQUIRED")
    answer = await client.post(
        url, json={**exit_, "evidence_ref": "MZ-TC-1"}, headers=staff["town"]
    )
    assert answer.status_code == 200
    assert answer.json()["identity_timeline"][-1]["effective_from"] == month_start.isoformat()


async def test_outside_the_window_only_the_district_registers_and_it_is_flagged(client, staff):
    # December: the window of next year (September-October) has closed
    late = await register(client, 31, NEXT, headers=staff["town"])
    assert (late.status_code, late.json()["code"]) == (403, "FORBIDDEN")
    taken = await register(client, 31, NEXT, headers=staff["district"])
    assert (taken.status_code, taken.json()["out_of_window"]) == (201, True)
    special = await register(client, 32, NEXT, headers=staff["town"], identity="orphan")
    assert (special.status_code, special.json()["out_of_window"]) == (201, False)
    # a registration never resets an identity: a school list's blank identity keeps it (and a
    # special person's registration has no window)
    assert (await register(client, 33, TODAY.year, identity="orphan")).status_code == 201
    listed = (
        "certno,name,category,organization,region,identity\n"
        f"{certno(33)},居民33,resident,{TOWN_A},{REGION},\n"
    )
    imported = await client.post(
        "/api/v1/persons/batch",
        params={"year": NEXT},
        content=listed.encode(),
        headers=staff["town"],
    )
    assert (imported.json()["registered"], imported.json()["out_of_window"]) == (1, 0)
    person = (await client.get("/api/v1/persons", params={"certno": certno(33)})).json()
    assert [(y["insurance_year"], y["identity"]) for y in person["years"]] == [
        (TODAY.year, "orphan"),
        (NEXT, "orphan"),
    ]


async def test_the_monthly_report_in_json_csv_and_xlsx_for_each_scope(client, staff):
    for n, town in ((41, TOWN_A), (42, TOWN_B)):
        await register(client, n, TODAY.year, organization=town, identity="destitute")
    url = "/api/v1/reports/special-persons"
    month = TODAY.strftime("%Y-%m")
    report = (await client.get(url, params={"month": month}, headers=staff["district"])).json()
    assert report["provisional"] is True
    assert report["title"] == f"柳南区 特殊人员医疗保障变动情况月报表 {TODAY.year}年{TODAY.month}月"
    rows = {r["organization"]: r for r in report["rows"]}
    assert {TOWN_A, TOWN_B} <= set(rows)
    for row in report["rows"]:
        exits = row["exited_death"] + row["exited_other"]
        assert row["at_start"] + row["added"] - exits == row["at_end"]
    town = (await client.get(url, params={"month": month}, headers=staff["town"])).json()
    assert {r["organization"] for r in town["rows"]} == {TOWN_A}
    assert all(d["organization"] == TOWN_A for d in town["details"])
    assert (
        await client.get(url, params={"month": month}, headers=staff["department"])
    ).status_code == 403
    csv_file = await client.get(url, params={"month": month, "format": "csv"})
    text = csv_file.content.decode("utf-8-sig").splitlines()
    assert text[0].startswith("柳南区 特殊人员医疗保障变动情况月报表")
    assert text[1].split(",")[:3] == ["乡镇街道", "月初人数", "新增"]
    xlsx = await client.get(url, params={"month": month, "format": "xlsx"})
    book = load_workbook(io.BytesIO(xlsx.content))
    sheet = book["月报表"]
    assert sheet["A1"].value.startswith("柳南区") and "A1:I1" in str(sheet.merged_cells)
    assert [c.value for c in sheet[3]][:2] == ["乡镇街道", "月初人数"]
    assert book["变动明细"]["B1"].value == "身份证号"
    bad = await client.get(url, params={"month": "12-2026"})
    assert (bad.status_code, bad.json()["code"]) == (422, "INVALID_REQUEST")
