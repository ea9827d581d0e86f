"""School lists: every encoding schools use, and every way a row can be wrong."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from services.enrollment.domain.school_lists import ListFormatError, RowError, parse_list
from shared.events import Category, Identity

pytestmark = pytest.mark.unit

GOOD_A = "11010519491231002X"
GOOD_B = "440524188001010014"
HEADER = "certno,name,category,organization,region,identity\n"


def _csv(*lines: str) -> str:
    return HEADER + "".join(line + "\n" for line in lines)


def test_a_good_utf8_list_gives_every_row():
    text = _csv(
        f"{GOOD_A},张三,student,第一中学,110105,",
        f"{GOOD_B.lower()},李四,preschool,阳光幼儿园,440524,orphan",
    )
    parsed = parse_list(text.encode("utf-8"))
    assert parsed.errors == []
    assert [r.name for r in parsed.rows] == ["张三", "李四"]
    assert parsed.rows[0].identity is Identity.ORDINARY
    assert parsed.rows[1].identity is Identity.ORPHAN
    assert parsed.rows[1].category is Category.PRESCHOOL
    assert parsed.rows[0].row == 2


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_bom_and_gb18030_decode_to_the_same_names(encoding):
    text = _csv(f"{GOOD_A},欧阳娜娜,university,聊城大学,371502,")
    parsed = parse_list(text.encode(encoding))
    assert parsed.errors == []
    assert parsed.rows[0].name == "欧阳娜娜"
    assert parsed.rows[0].organization == "聊城大学"


def test_chinese_headers_are_understood():
    text = f"身份证号,姓名,类别,学校,行政区划,身份\n{GOOD_A},张三,student,一中,110105,\n"
    parsed = parse_list(text.encode("gb18030"))
    assert parsed.errors == [] and parsed.rows[0].certno == GOOD_A


def test_each_bad_field_is_reported_with_its_row_and_reason():
    text = _csv(
        "110105194912310021,张三,student,一中,110105,",  # bad check character
        f"{GOOD_B},,teacher,,11010,rich",
        f"{GOOD_A},王五,student,一中,110105,",
    )
    parsed = parse_list(text.encode())
    fields = {(e.row, e.field) for e in parsed.errors}
    assert fields == {
        (2, "certno"),
        (3, "name"),
        (3, "category"),
        (3, "organization"),
        (3, "region"),
        (3, "identity"),
    }
    assert [r.row for r in parsed.rows] == [4]
    assert parsed.total == 3
    assert "check character" in next(e.reason for e in parsed.errors if e.row == 2)


def test_a_certno_twice_in_one_list_is_refused_on_its_later_row():
    text = _csv(f"{GOOD_A},张三,student,一中,110105,", f"{GOOD_A},张三,student,一中,110105,")
    parsed = parse_list(text.encode())
    assert len(parsed.rows) == 1
    assert parsed.errors == [RowError(3, "certno", "the same certno is on row 2")]


def test_error_reasons_never_echo_a_whole_certno():
    text = _csv("11010519491231002Y,张三,student,一中,110105,")
    parsed = parse_list(text.encode())
    assert all("11010519491231002" not in e.reason for e in parsed.errors)


def test_blank_rows_are_skipped_and_short_rows_report_missing_fields():
    text = _csv("", ",,,,,", f"{GOOD_A},张三")
    parsed = parse_list(text.encode())
    assert {e.field for e in parsed.errors} == {"category", "organization", "region"}
    assert {e.row for e in parsed.errors} == {4}


def test_a_file_without_the_required_columns_is_refused_whole():
    with pytest.raises(ListFormatError, match="category"):
        parse_list(b"certno,name,organization,region\n")
    with pytest.raises(ListFormatError):
        parse_list(b"")


def test_bytes_that_are_no_text_are_refused():
    with pytest.raises(ListFormatError):
        parse_list(b"\xff\xfe\x00\x81\x30\x81" * 3)


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_list_is_read_from_its_first_sheet():
    data = _xlsx(
        [
            ["certno", "name", "category", "organization", "region", "identity"],
            [GOOD_A, "张三", "student", "第一中学", "110105", None],
            [GOOD_B, "李四", "student", "第一中学", 440524, "subsistence"],
            [440524188001010014, "王五", "student", "第一中学", 440524, None],
        ]
    )
    parsed = parse_list(data, filename="list.xlsx")
    assert [r.name for r in parsed.rows] == ["张三", "李四"]
    assert parsed.rows[1].region == "440524"
    # a certno typed as a number is not the certno any more once Excel rounded it
    assert [(e.row, e.field) for e in parsed.errors] == [(4, "certno")]


def test_a_broken_xlsx_is_refused_whole():
    with pytest.raises(ListFormatError):
        parse_list(b"PK\x03\x04 not really a zip", filename="x.xlsx")


def test_control_characters_are_refused():
    parsed = parse_list(_csv(f"{GOOD_A},张\x00三,student,一\x07中,110105,").encode())
    assert {(e.field, e.reason) for e in parsed.errors} == {
        ("name", "name has control characters"),
        ("organization", "organization has control characters"),
    }
