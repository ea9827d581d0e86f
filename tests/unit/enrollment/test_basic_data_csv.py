"""Basic data CSV: a BOM so Excel reads Chinese, exact amounts, no formula injection."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from decimal import Decimal

import pytest

from services.enrollment.domain.basic_data import (
    BasicDataRow,
    csv_chunks,
    json_chunks,
    message,
    render_csv,
    render_json,
)
from shared.events import Category, Identity, Payer

pytestmark = pytest.mark.unit

ROW = BasicDataRow(
    psn_no="P1",
    certno="11010519491231002X",
    name="张三",
    insurance_year=2024,
    category=Category.STUDENT,
    identity=Identity.ORDINARY,
    region="110105",
    organization="=第一中学",
    premium_due=Decimal("360"),
    payer=Payer.INDIVIDUAL,
)


def test_csv_has_a_bom_a_header_and_exact_fields():
    text = render_csv([ROW])
    assert text.startswith("\ufeffpsn_no,certno,name")
    assert "\r\n" in text
    records = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert records[0]["certno"] == "11010519491231002X"
    assert records[0]["name"] == "张三"
    assert records[0]["premium_due"] == "360.00"
    assert records[0]["organization"] == "'=第一中学"
    assert records[0]["payer"] == "individual"


def test_json_and_kafka_message_carry_the_same_row():
    assert render_json([ROW])[0]["premium_due"] == "360.00"
    assert json.loads(message(ROW))["name"] == "张三"


async def _pages(*pages):
    for page in pages:
        yield page


async def test_streamed_pages_make_one_csv_and_one_json_array():
    rows = [replace(ROW, psn_no=f"P{i}") for i in range(5)]
    text = b"".join([c async for c in csv_chunks(_pages(rows[:2], rows[2:4], rows[4:]))])
    assert text.decode("utf-8") == render_csv(rows)
    empty = b"".join([c async for c in csv_chunks(_pages())])
    assert empty.decode("utf-8") == render_csv([])
    data = b"".join([c async for c in json_chunks(_pages(rows[:2], [], rows[2:]))])
    assert json.loads(data) == render_json(rows)
    assert json.loads(b"".join([c async for c in json_chunks(_pages())])) == []
