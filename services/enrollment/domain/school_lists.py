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

CSV may be UTF-8 (with or without BOM) or GB18030 (what Chinese Excel saves as "CSV"). Row
numbers in error reports are spreadsheet row numbers: the header is row 1, the first person row 2.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from shared import certno as certnos
from shared.errors import CodedError
from shared.events import Category, Identity

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
_REGION = re.compile(r"^\d{6}$")
_XLSX_MAGIC = b"PK\x03\x04"


class ListFormatError(CodedError, ValueError):
    """The file as a whole cannot be read (not CSV/XLSX, undecodable, no or bad header)."""

    def __init__(self, message: str) -> None:
        super().__init__("INVALID_LIST_FILE", message)


@dataclass(frozen=True, slots=True)
class ListRow:
    """A valid row: a person to register for the year of the import."""

    row: int
    certno: str
    name: str
    category: Category
    organization: str
    region: str
    identity: Identity


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one row was refused."""

    row: int
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedList:
    rows: list[ListRow]
    errors: list[RowError]

    @property
    def total(self) -> int:
        return len(self.rows) + len({e.row for e in self.errors})


def decode_csv(data: bytes) -> str:
    """UTF-8 with BOM, UTF-8, then GB18030 (a superset of GBK/GB2312), in that order."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise ListFormatError("the file is neither UTF-8 nor GB18030 text") from exc


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        # Excel keeps long digit strings typed as numbers only to 15 digits; the certno check
        # character then fails, which is the honest answer for such a cell.
        return str(int(value))
    return str(value).strip()


def _csv_records(data: bytes) -> Iterator[list[str]]:
    text = decode_csv(data)
    yield from csv.reader(io.StringIO(text, newline=""))


def _xlsx_records(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a bad archive
        raise ListFormatError("the file is not a readable XLSX workbook") from exc
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_cell(v) for v in values]
    finally:
        book.close()


def records(data: bytes, filename: str = "", content_type: str = "") -> Iterator[list[str]]:
    """Raw records (header first) of a CSV or XLSX file; XLSX is recognised by its content."""
    is_xlsx = (
        data.startswith(_XLSX_MAGIC)
        or filename.lower().endswith(".xlsx")
        or "spreadsheetml" in content_type
    )
    return _xlsx_records(data) if is_xlsx else _csv_records(data)


def _header(record: list[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for position, raw in enumerate(record):
        name = raw.strip().lstrip("\ufeff").strip()
        column = _HEADER_ALIASES.get(name, name.lower())
        if column in COLUMNS and column not in index:
            index[column] = position
    missing = [c for c in REQUIRED if c not in index]
    if missing:
        raise ListFormatError(f"header row lacks column(s): {', '.join(missing)}")
    return index


def validate_row(row: int, values: dict[str, str]) -> ListRow | list[RowError]:
    """One row's person, or every reason it is refused (certno is never echoed whole)."""
    errors: list[RowError] = []
    certno = ""
    try:
        certno = certnos.parse(values.get("certno", "")).value
    except certnos.InvalidCertno as exc:
        errors.append(RowError(row, "certno", str(exc)))
    name = values.get("name", "").strip()
    if not name:
        errors.append(RowError(row, "name", "name is empty"))
    elif len(name) > 50:
        errors.append(RowError(row, "name", "name is longer than 50 characters"))
    elif not name.isprintable():
        errors.append(RowError(row, "name", "name has control characters"))
    category: Category | None = None
    try:
        category = Category(values.get("category", "").strip().lower())
    except ValueError:
        allowed = ", ".join(c.value for c in Category)
        errors.append(RowError(row, "category", f"category must be one of {allowed}"))
    organization = values.get("organization", "").strip()
    if not organization:
        errors.append(RowError(row, "organization", "organization is empty"))
    elif len(organization) > 100:
        errors.append(RowError(row, "organization", "organization is longer than 100 characters"))
    elif not organization.isprintable():
        errors.append(RowError(row, "organization", "organization has control characters"))
    region = values.get("region", "").strip()
    if not _REGION.match(region):
        errors.append(RowError(row, "region", "region must be a 6-digit division code"))
    identity: Identity | None = None
    try:
        identity = Identity(values.get("identity", "").strip().lower() or Identity.ORDINARY)
    except ValueError:
        allowed = ", ".join(i.value for i in Identity)
        errors.append(RowError(row, "identity", f"identity must be empty or one of {allowed}"))
    if errors or category is None or identity is None:
        return errors
    return ListRow(row, certno, name, category, organization, region, identity)


def parse_list(data: bytes, filename: str = "", content_type: str = "") -> ParsedList:
    """Every row of a school list: the valid ones, and each bad one with its field and reason.

    A certno listed twice in one file is refused on its later rows (the first one counts).
    Blank rows are skipped.
    """
    rows: list[ListRow] = []
    errors: list[RowError] = []
    it = records(data, filename, content_type)
    try:
        header = next(it)
        while not any(cell.strip() for cell in header):
            header = next(it)
    except StopIteration:
        raise ListFormatError("the file is empty") from None
    except csv.Error as exc:
        raise ListFormatError(f"not a CSV file: {exc}") from exc
    index = _header(header)
    seen: dict[str, int] = {}
    try:
        for number, record in enumerate(it, start=2):
            if not any(cell.strip() for cell in record):
                continue
            values = {c: record[i] if i < len(record) else "" for c, i in index.items()}
            result = validate_row(number, values)
            if isinstance(result, list):
                errors.extend(result)
                continue
            first = seen.setdefault(result.certno, number)
            if first != number:
                errors.append(RowError(number, "certno", f"the same certno is on row {first}"))
                continue
            rows.append(result)
    except csv.Error as exc:
        raise ListFormatError(f"not a CSV file: {exc}") from exc
    return ParsedList(rows, errors)
