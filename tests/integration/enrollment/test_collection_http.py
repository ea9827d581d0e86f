"""School-list upload and basic data over real HTTP (uvicorn on a free port)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from openpyxl import Workbook

from .people import unique_certno

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "school-list.csv"


async def test_upload_the_sample_then_download_the_basic_data_as_excel_csv(client, staff):
    files = {"file": ("school-list.csv", SAMPLE.read_bytes(), "text/csv")}
    first = await client.post("/api/v1/persons/batch", params={"year": 2027}, files=files)
    assert first.status_code == 200, first.text
    assert first.json()["registered"] == 6 and first.json()["errors"] == []
    again = await client.post("/api/v1/persons/batch", params={"year": 2027}, files=files)
    assert (again.json()["registered"], again.json()["already_registered"]) == (0, 6)

    tax = staff["tax"]  # the role the basic data is for: whole ID numbers (SPEC §8)
    got = await client.get("/api/v1/basic-data", params={"year": 2027}, headers=tax)
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/csv")
    assert got.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for Chinese
    records = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert len(records) == 6
    by_name = {r["name"]: r for r in records}
    assert by_name["张伟"]["premium_due"] == "360.00"
    assert by_name["王芳"]["premium_due"] == "0.00"  # an orphan owes nothing personally
    # registered now for 2027, i.e. before 30 June 2027: the government pays on their behalf
    assert by_name["杨磊"]["payer"] == "government"
    as_json = await client.get(
        "/api/v1/basic-data", params={"year": 2027, "format": "json"}, headers=tax
    )
    assert {r["certno"] for r in as_json.json()} == {r["certno"] for r in records}
    assert all(len(r["certno"]) == 18 and "*" not in r["certno"] for r in records)


async def test_a_mixed_gb18030_body_and_an_xlsx_upload(client):
    text = "身份证号,姓名,类别,学校,行政区划,身份\n"
    text += f"{unique_certno(1)},张三,student,一中,110105,\n"
    text += "110105201201010011,坏号,student,一中,110105,\n"
    text += f"{unique_certno(2)},李四,teacher,一中,110105,\n"
    answer = await client.post(
        "/api/v1/persons/batch",
        params={"year": 2025},
        content=text.encode("gb18030"),
        headers={"content-type": "text/csv"},
    )
    report = answer.json()
    assert (report["registered"], report["rejected"]) == (1, 2)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(3, "certno"), (4, "category")]
    assert all("110105201201010011" not in e["reason"] for e in report["errors"])

    book = Workbook()
    book.active.append(["certno", "name", "category", "organization", "region", "identity"])
    book.active.append([unique_certno(3), "王五", "university", "聊城大学", "371502", None])
    out = io.BytesIO()
    book.save(out)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    answer = await client.post(
        "/api/v1/persons/batch",
        params={"year": 2025},
        files={"file": ("list.xlsx", out.getvalue(), xlsx)},
    )
    assert answer.json()["registered"] == 1


async def test_a_file_that_is_no_list_is_refused_with_a_code(client):
    answer = await client.post(
        "/api/v1/persons/batch", params={"year": 2025}, content=b"name,age\nx,1\n"
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "INVALID_LIST_FILE"
    assert (await client.get("/api/v1/payments/unmatched")).json() == []
    subsidies = await client.get("/api/v1/subsidies", params={"year": 2025, "format": "csv"})
    assert subsidies.content.startswith(b"\xef\xbb\xbfpsn_no,certno")


async def test_publishing_the_basic_data_queues_one_message_a_person(client, db_url):
    import json

    from sqlalchemy import select

    from services.enrollment.adapters.tables import outbox
    from shared.db import make_engine

    files = {"file": ("school-list.csv", SAMPLE.read_bytes(), "text/csv")}
    await client.post("/api/v1/persons/batch", params={"year": 2026}, files=files)
    answer = await client.post("/api/v1/basic-data/publish", params={"year": 2026})
    assert answer.json() == {"insurance_year": 2026, "queued": 6}
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(outbox.c.key, outbox.c.value).where(
                        outbox.c.topic == "enrollment.basic-data"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert len(rows) == 6
    assert all(json.loads(value)["psn_no"] == key for key, value in rows)
    assert {json.loads(value)["premium_due"] for _, value in rows} == {"0.00", "360.00"}
