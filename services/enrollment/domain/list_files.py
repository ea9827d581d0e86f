"""Lists as offices save them: the one reader of CSV and XLSX files (pure: bytes in, rows out).

Every list the service takes — a school's registrations, a department's carry-over list, civil
affairs' monthly medical-assistance list — is read here; each kind names its columns in a
``ListSchema`` and validates its own rows. What offices do to files, and what this accepts:

* CSV in UTF-8 (with or without BOM) or GB18030 (what Chinese Excel saves as "CSV"); XLSX (first
  sheet), recognised by its content;
* title rows above the header — an XLSX title merged across the columns, a "填报单位" line —
  are skipped: the header is the first row (of the first ``TITLE_ROWS``) naming every required
  column, in English or Chinese;
* full-width digits and letters (``１１０１０５…``, ``Ｘ``) are folded to ASCII (NFKC), and a
  boolean cell may say 是/否, true/false, 1/0, y/n, yes/no, 有/无, √/×.

A file in which no such header row is found is not a list and is refused whole
(``INVALID_LIST_FILE``). Row numbers are the spreadsheet's (the first row of the file is 1), so a
clerk finds a refused row where the report says it is.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from shared.errors import CodedError

TITLE_ROWS = 10
"""How many rows above the header a file may have (titles, the office's name, a date)."""

_XLSX_MAGIC = b"PK\x03\x04"
_TRUE = frozenset({"是", "true", "1", "y", "yes", "有", "√", "t"})
_FALSE = frozenset({"否", "false", "0", "n", "no", "无", "×", "f", ""})


class ListFormatError(CodedError, ValueError):
    """The file as a whole cannot be read (not CSV/XLSX, undecodable, no header row)."""

    def __init__(self, message: str) -> None:
        super().__init__("INVALID_LIST_FILE", message)


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one row was refused: its spreadsheet row number, the column at fault, the reason."""

    row: int
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class ListSchema:
    """The columns of one kind of list: canonical names, which are required, header aliases."""

    columns: tuple[str, ...]
    required: tuple[str, ...]
    aliases: Mapping[str, str]

    def column_of(self, header_cell: str) -> str | None:
        """The canonical column a header cell names, if any."""
        name = fold(header_cell.lstrip("\ufeff"))
        column = self.aliases.get(name, name.lower())
        return column if column in self.columns else None


def fold(text: str) -> str:
    """A cell as typed, with full-width characters folded to ASCII and the ends trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def parse_bool(raw: str) -> bool | None:
    """是/否 and the other spellings of a yes/no cell; ``None`` when it is neither."""
    value = fold(raw).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


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
        # A merged title keeps its text in its first cell; the others read as empty.
        for values in sheet.iter_rows(values_only=True):
            yield [_cell(v) for v in values]
    finally:
        book.close()


def records(data: bytes, filename: str = "", content_type: str = "") -> Iterator[list[str]]:
    """Raw records (title rows and header included) of a CSV or XLSX file."""
    is_xlsx = (
        data.startswith(_XLSX_MAGIC)
        or filename.lower().endswith(".xlsx")
        or "spreadsheetml" in content_type
    )
    return _xlsx_records(data) if is_xlsx else _csv_records(data)


def _header(record: list[str], schema: ListSchema) -> dict[str, int]:
    index: dict[str, int] = {}
    for position, raw in enumerate(record):
        column = schema.column_of(raw)
        if column is not None and column not in index:
            index[column] = position
    return index


def _blank(record: list[str]) -> bool:
    return not any(cell.strip() for cell in record)


def _find_header(
    it: Iterator[tuple[int, list[str]]], schema: ListSchema
) -> tuple[int, dict[str, int]]:
    """The header row's number and its column positions; title rows above it are skipped."""
    best: dict[str, int] = {}
    seen = 0
    for number, record in it:
        if _blank(record):
            continue
        index = _header(record, schema)
        if all(c in index for c in schema.required):
            return number, index
        if len(index) > len(best):
            best = index
        seen += 1
        if seen >= TITLE_ROWS:
            break
    if not seen:
        raise ListFormatError("the file is empty")
    if not best:
        wanted = ", ".join(schema.required)
        raise ListFormatError(f"not a list: no header row naming the columns {wanted}")
    missing = [c for c in schema.required if c not in best]
    raise ListFormatError(f"header row lacks column(s): {', '.join(missing)}")


class PersonRow(Protocol):
    """A validated row naming a person: its row number and normalised certno."""

    @property
    def row(self) -> int: ...

    @property
    def certno(self) -> str: ...


R = TypeVar("R", bound=PersonRow)


@dataclass(frozen=True, slots=True)
class Parsed(Generic[R]):
    """A list read: its valid rows, and every reason a bad row was refused."""

    rows: list[R]
    errors: list[RowError]

    @property
    def total(self) -> int:
        """The person rows read: the valid ones and each refused row once."""
        return len(self.rows) + len({e.row for e in self.errors})


def parse_rows(
    data: bytes,
    schema: ListSchema,
    validate: Callable[[int, dict[str, str]], R | list[RowError]],
    filename: str = "",
    content_type: str = "",
) -> Parsed[R]:
    """Every row of a list of people, validated: the good rows, and every reason a bad one was
    refused. A person listed twice is refused on the later rows (the first one counts)."""
    rows: list[R] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for number, values in read_rows(data, schema, filename, content_type):
        result = validate(number, values)
        if isinstance(result, list):
            errors.extend(result)
            continue
        first = seen.setdefault(result.certno, number)
        if first != number:
            errors.append(RowError(number, "certno", f"the same certno is on row {first}"))
            continue
        rows.append(result)
    return Parsed(rows, errors)


def read_rows(
    data: bytes, schema: ListSchema, filename: str = "", content_type: str = ""
) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, column → cell text) for every non-blank row below the header.

    Cells keep their text as typed (trimmed); each list folds and validates its own columns.
    Raises ``ListFormatError`` when the file is not a list of this kind.
    """
    numbered = enumerate(records(data, filename, content_type), start=1)
    try:
        _, index = _find_header(numbered, schema)
        for number, record in numbered:
            if _blank(record):
                continue
            width = len(record)
            yield number, {c: record[i].strip() if i < width else "" for c, i in index.items()}
    except csv.Error as exc:
        raise ListFormatError(f"not a CSV file: {exc}") from exc
