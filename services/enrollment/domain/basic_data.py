"""Basic data for the tax bureau (000 §三.2): who is registered, what each owes, who pays.

Pure: rows in, CSV / JSON / Kafka message bytes out. The CSV starts with a UTF-8 byte-order mark
so that Excel opens the Chinese names correctly, and uses CRLF line ends like Excel's own CSV.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from shared.events import Category, Identity, Payer
from shared.money import fmt

CSV_COLUMNS = (
    "psn_no",
    "certno",
    "name",
    "insurance_year",
    "category",
    "identity",
    "region",
    "organization",
    "premium_due",
    "payer",
)
UTF8_BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class BasicDataRow:
    """One person registered for the year: ``premium_due`` is the personal premium, ``payer``
    who pays it (``government`` for special persons added on or before 30 June)."""

    psn_no: str
    certno: str
    name: str
    insurance_year: int
    category: Category
    identity: Identity
    region: str
    organization: str
    premium_due: Decimal
    payer: Payer

    def as_dict(self) -> dict[str, Any]:
        """The row by ``CSV_COLUMNS``: enums as their codes, the premium as "123.45"."""
        return {name: _plain(getattr(self, name)) for name in CSV_COLUMNS}


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    return fmt(value) if isinstance(value, Decimal) else value


def _safe_cell(value: Any) -> Any:
    # A name starting with = + - @ would run as a formula in Excel (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def render_table(columns: Sequence[str], records: Iterable[Mapping[str, Any]]) -> str:
    """Any list as CSV text for Excel: BOM first, CRLF, formula-looking text defused."""
    out = io.StringIO()
    out.write(UTF8_BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([_safe_cell(record[c]) for c in columns])
    return out.getvalue()


def render_csv(rows: Iterable[BasicDataRow]) -> str:
    """The basic data as CSV text, BOM first.

    certno is written plain (machine readers get it exactly); to see it whole in Excel, open the
    file through Data → From Text and type that column as text.
    """
    return render_table(CSV_COLUMNS, (row.as_dict() for row in rows))


def render_json(rows: Iterable[BasicDataRow]) -> list[dict[str, Any]]:
    return [row.as_dict() for row in rows]


def message(row: BasicDataRow) -> bytes:
    """The value published on ``enrollment.basic-data`` (key ``psn_no``)."""
    return json.dumps(row.as_dict(), ensure_ascii=False).encode()


async def csv_chunks(pages: AsyncIterator[list[BasicDataRow]]) -> AsyncIterator[bytes]:
    """The CSV of many pages of rows as one stream: BOM and header once, then every row."""
    started = False
    async for page in pages:
        text = render_csv(page)
        if started:  # each page renders BOM + header: keep them for the first only
            text = text.split("\r\n", 1)[1]
        started = True
        yield text.encode("utf-8")
    if not started:
        yield render_csv([]).encode("utf-8")


async def json_chunks(pages: AsyncIterator[list[BasicDataRow]]) -> AsyncIterator[bytes]:
    """A JSON array of many pages of rows, as one stream."""
    yield b"["
    first = True
    async for page in pages:
        for row in page:
            yield (b"" if first else b",") + json.dumps(row.as_dict(), ensure_ascii=False).encode()
            first = False
    yield b"]"
