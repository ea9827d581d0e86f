"""School lists: read a CSV or XLSX file and validate it row by row (pure, no I/O but bytes in).

Columns (header row required, any order, English or the usual Chinese header names):

| column | rule |
|---|---|
| ``certno`` 身份证号 | 18-character resident ID (SPEC §2) |
| ``name`` 姓名 | 1–50 characters |
| ``category`` 类别 | ``preschool``, ``student``, ``university``, ``resident`` |
| ``organization`` 学校 | the school (or street/town), 1–100 characters |
| ``region`` 行政区划 | 6-digit administrative division code |
| ``identity`` 身份 | empty (= ``ordinary``) or a special-person class of SPEC §2 |

Files are read by ``list_files`` (UTF-8 or GB18030 CSV, XLSX, title rows above the header,
full-width digits). Row numbers in error reports are spreadsheet row numbers: with the header on
row 1, the first person is row 2.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.enrollment.domain.list_fields import ListedPerson, RowCheck
from services.enrollment.domain.list_files import (
    ListFormatError,
    ListSchema,
    Parsed,
    RowError,
    decode_csv,
    parse_rows,
    records,
)
from shared.events import Category, Identity

__all__ = [
    "ListFormatError",
    "ListRow",
    "ParsedList",
    "RowError",
    "decode_csv",
    "parse_list",
    "records",
    "validate_row",
]

COLUMNS = ("certno", "name", "category", "organization", "region", "identity")
REQUIRED = ("certno", "name", "category", "organization", "region")

_HEADER_ALIASES = {
    "身份证号": "certno",
    "身份证号码": "certno",
    "公民身份号码": "certno",
    "姓名": "name",
    "类别": "category",
    "人员类别": "category",
    "学校": "organization",
    "单位": "organization",
    "学校/单位": "organization",
    "行政区划": "region",
    "区划": "region",
    "身份": "identity",
    "特殊身份": "identity",
}
SCHEMA = ListSchema(COLUMNS, REQUIRED, _HEADER_ALIASES)


@dataclass(frozen=True, slots=True)
class ListRow(ListedPerson):
    """A valid row: a person to register for the year of the import."""

    category: Category
    organization: str
    region: str
    identity: Identity


ParsedList = Parsed[ListRow]


def validate_row(row: int, values: dict[str, str]) -> ListRow | list[RowError]:
    """One row's person, or every reason it is refused (certno is never echoed whole)."""
    check = RowCheck(row, values)
    certno, name = check.person()
    category = check.category()
    organization = check.text("organization", 100)
    region = check.region()
    identity = check.identity()
    if check.errors or category is None or identity is None:
        return check.errors
    return ListRow(row, certno, name, category, organization, region, identity)


def parse_list(data: bytes, filename: str = "", content_type: str = "") -> ParsedList:
    """Every row of a school list: the valid ones, and each bad one with its field and reason.

    A certno listed twice in one file is refused on its later rows (the first one counts).
    Blank rows are skipped.
    """
    return parse_rows(data, SCHEMA, validate_row, filename, content_type)
