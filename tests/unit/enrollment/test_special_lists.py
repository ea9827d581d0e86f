"""Lists as offices save them (title rows, GB18030, 是/否, full-width digits), the calendar of the
cycle, and who the annual rollover registers."""

from __future__ import annotations

from datetime import date

import pytest

from services.enrollment.domain.assistance import parse_assistance
from services.enrollment.domain.calendar import Month, RulesCalendar, parse_calendar
from services.enrollment.domain.carry_over import parse_carry_over
from services.enrollment.domain.list_files import ListFormatError, RowError
from services.enrollment.domain.rollover import due_for_rollover, roll_over
from services.enrollment.domain.school_lists import parse_list
from shared.events import Category, Identity, Registered

from .special_people import certno, happen, paid, registered, rules_for, xlsx

pytestmark = pytest.mark.unit

FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
HEADER = ["身份证号", "姓名", "身份", "医疗救助", "行政区划", "乡镇街道"]


def test_an_xlsx_with_a_merged_title_above_the_header_is_read_with_its_sheet_row_numbers():
    data = xlsx(
        [
            HEADER,
            [certno(1), "居民1", "低保", "是", "450204", "潭西街道"],
            [certno(2), "居民2", "孤儿", "maybe", "450204", "潭西街道"],
        ],
        title="柳南区民政局 2025年度特殊人员结转名单",
    )
    parsed = parse_carry_over(data, "名单.xlsx")
    [row] = parsed.rows
    assert (row.row, row.identity, row.medical_assistance) == (4, Identity.SUBSISTENCE, True)
    assert parsed.errors == [
        RowError(5, "medical_assistance", "medical_assistance must be 是/否, true/false or 1/0")
    ]


@pytest.mark.parametrize(
    ("cell", "flag"), [("是", True), ("否", False), ("TRUE", True), ("0", False), ("", False)]
)
def test_yes_and_no_in_every_spelling_offices_use(cell, flag):
    header = "certno,name,identity,medical_assistance,region,organization\n"
    text = header + f"{certno(3)},居民3,orphan,{cell},450204,潭西街道\n"
    [row] = parse_carry_over(text.encode("gb18030")).rows
    assert row.medical_assistance is flag


def test_full_width_digits_in_id_numbers_and_regions_are_folded():
    wide = certno(4).translate(FULL_WIDTH)
    text = f"姓名,身份证号,行政区划\n居民4,{wide},４５０２０４\n"
    [row] = parse_assistance(text.encode("gb18030")).rows
    assert (row.certno, row.region) == (certno(4), "450204")


def test_a_carry_over_list_holds_special_persons_only():
    text = (
        "certno,name,identity,region,organization\n"
        f"{certno(5)},居民5,ordinary,450204,潭西街道\n"
        f"{certno(6)},居民6,rich,450204,潭西街道\n"
        f"{certno(7)},居民7,,450204,潭西街道\n"
    )
    parsed = parse_carry_over(text.encode())
    assert parsed.rows == []
    assert {(e.row, e.field) for e in parsed.errors} == {
        (2, "identity"),
        (3, "identity"),
        (4, "identity"),
    }


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n not a list at all",
        "会议通知\n请各单位于本周五前报送材料。\n".encode("gb18030"),
        b"",
    ],
)
def test_a_file_that_is_not_a_list_is_refused_whole(data):
    for parse in (parse_carry_over, parse_assistance, parse_list):
        with pytest.raises(ListFormatError) as info:
            parse(data)
        assert info.value.code == "INVALID_LIST_FILE"


def test_a_school_list_may_have_a_title_row_too():
    data = xlsx(
        [
            ["身份证号", "姓名", "类别", "学校", "行政区划", "身份"],
            [certno(8, "20100101"), "学生8", "学生", "柳南一中", "450204", None],
        ],
        title="柳南一中 2025年度学生参保名单",
    )
    [row] = parse_list(data, "list.xlsx").rows
    assert (row.row, row.category, row.identity) == (4, Category.STUDENT, Identity.ORDINARY)


def test_months_and_the_registration_window_are_data():
    assert str(Month.parse("2024-03").previous()) == "2024-02"
    assert Month.parse("2024-12").next() == Month(2025, 1)
    assert Month(2024, 2).last == date(2024, 2, 29)
    for bad in ("2024-13", "24-03", "2024/03"):
        with pytest.raises(ValueError):
            Month.parse(bad)
    calendar = rules_for("450204", 2025).calendar
    assert isinstance(calendar, RulesCalendar)
    assert calendar.in_window(date(2024, 10, 31)) and not calendar.in_window(date(2024, 11, 1))
    assert [str(m) for m in calendar.collection_months] == [
        "2024-09",
        "2024-10",
        "2024-11",
        "2024-12",
    ]
    assert parse_calendar(None, 2025) is None
    with pytest.raises(ValueError):
        parse_calendar({"registration_opens": "10-31", "registration_closes": "09-01"}, 2025)


def test_the_rollover_registers_the_covered_and_living_keeping_identity_and_town():
    autumn = date(2024, 9, 2)
    covered = happen(
        registered(9, on=date(2023, 10, 1), year=2024, identity=Identity.SEVERE_DISABILITY),
        date(2023, 11, 1),
        paid(2024, on=date(2023, 11, 1)),
    )
    [event] = roll_over(covered, 2024, rules_for, autumn)
    assert isinstance(event, Registered)
    assert (event.insurance_year, event.identity, event.organization) == (
        2025,
        Identity.SEVERE_DISABILITY,
        "潭西街道",
    )
    unpaid = registered(10, on=date(2023, 10, 1), year=2024)
    assert not due_for_rollover(unpaid, 2024)
    assert roll_over(happen(covered, autumn, event), 2024, rules_for, autumn) == []
