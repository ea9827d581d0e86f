"""Importing school lists into the event store, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from services.enrollment.adapters.tables import events, outbox, registrations
from services.enrollment.bootstrap import unit_of_work_factory as uow_for
from services.enrollment.domain.school_lists import parse_list
from services.enrollment.service_layer.school_lists import ImportBy, import_rows
from services.enrollment.settings import PREMIUM_RULES_DIR

from .people import unique_certno

pytestmark = pytest.mark.integration

HEADER = "certno,name,category,organization,region,identity\n"
TODAY = datetime(2024, 3, 1, 2, tzinfo=UTC)


def _list(n: int, start: int = 0, identity: str = "") -> str:
    return HEADER + "".join(
        f"{unique_certno(i)},学生{i},student,第一中学,110105,{identity}\n"
        for i in range(start, start + n)
    )


async def _import(sessionmaker, data: bytes, year: int = 2024, **kw):
    return await import_rows(
        uow_for(sessionmaker),
        parse_list(data, **kw),
        year,
        PREMIUM_RULES_DIR,
        by=ImportBy.system(),
        now=TODAY,
        chunk_rows=7,
    )


async def _count(sessionmaker, table) -> int:
    async with sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(table))).scalar_one()


async def test_a_good_list_registers_everyone_once_with_their_premium(sessionmaker):
    progress: list[int] = []
    report = await import_rows(
        uow_for(sessionmaker),
        parse_list(_list(20).encode()),
        2024,
        PREMIUM_RULES_DIR,
        by=ImportBy.system(),
        now=TODAY,
        chunk_rows=7,
        progress=progress.append,
    )
    assert (report.registered, report.already_registered, report.errors) == (20, 0, [])
    assert progress == [7, 7, 6]
    assert await _count(sessionmaker, registrations) == 20
    assert await _count(sessionmaker, outbox) == 20
    async with sessionmaker() as session:
        payload = json.loads((await session.execute(select(events.c.payload).limit(1))).scalar())
    assert payload["premium_due"] == "360.00" and payload["insurance_year"] == 2024


async def test_importing_the_same_file_again_changes_nothing(sessionmaker):
    data = _list(15).encode("utf-8-sig")
    await _import(sessionmaker, data)
    again = await _import(sessionmaker, data)
    assert (again.registered, again.already_registered) == (0, 15)
    assert await _count(sessionmaker, events) == 15
    assert await _count(sessionmaker, outbox) == 15


async def test_a_mixed_list_registers_the_good_rows_and_reports_the_bad(sessionmaker):
    text = (
        _list(3)
        + "110105201201010011,坏号,student,一中,110105,\n"
        + (f"{unique_certno(50)},,student,一中,110105,\n")
    )
    report = await _import(sessionmaker, text.encode("gb18030"))
    assert report.registered == 3
    assert [(e.row, e.field) for e in report.errors] == [(5, "certno"), (6, "name")]
    assert report.as_dict()["rejected"] == 2
    assert await _count(sessionmaker, registrations) == 3


async def test_the_next_year_appends_to_the_same_people(sessionmaker):
    await _import(sessionmaker, _list(5).encode())
    report = await _import(sessionmaker, _list(5).encode(), year=2025)
    assert report.registered == 5
    async with sessionmaker() as session:
        versions = (await session.execute(select(func.max(events.c.stream_version)))).scalar_one()
        people = (
            await session.execute(select(func.count(func.distinct(events.c.psn_no))))
        ).scalar_one()
    assert (versions, people) == (2, 5)


async def test_special_persons_owe_what_the_rules_say(sessionmaker):
    await _import(sessionmaker, _list(2, identity="destitute").encode())
    async with sessionmaker() as session:
        dues = {
            json.loads(p)["premium_due"]
            for p in (await session.execute(select(events.c.payload))).scalars()
        }
    assert dues == {"0.00"}


async def test_an_xlsx_list_imports_like_a_csv(sessionmaker):
    book = Workbook()
    sheet = book.active
    sheet.append(["certno", "name", "category", "organization", "region", "identity"])
    for i in range(4):
        sheet.append([unique_certno(i), f"学生{i}", "university", "聊城大学", "371502", None])
    out = io.BytesIO()
    book.save(out)
    report = await _import(sessionmaker, out.getvalue(), filename="list.xlsx")
    assert (report.registered, report.errors) == (4, [])


async def test_two_imports_of_one_list_at_once_register_everyone_once(sessionmaker):
    import asyncio

    data = _list(30).encode()
    first, second = await asyncio.gather(_import(sessionmaker, data), _import(sessionmaker, data))
    assert first.registered + second.registered == 30
    assert first.already_registered + second.already_registered == 30
    assert await _count(sessionmaker, registrations) == 30
    assert await _count(sessionmaker, events) == 30
