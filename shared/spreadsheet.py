"""Tables for Excel: CSV (UTF-8 with a BOM, CRLF) and XLSX, with formula-looking text defused.

A text cell that starts with ``=``, ``+``, ``-`` or ``@`` would run as a formula when the file is
opened in Excel (CSV injection): in CSV it gets a leading apostrophe, as enrollment's basic
data does; in XLSX it is written as a plain string, never a formula. Numbers (``Decimal``,
``int``) are left alone, so a negative amount stays a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

UTF8_BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value as a CSV cell that Excel will not evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A table as CSV text for Excel: BOM first, CRLF line ends, formulas defused."""
    out = io.StringIO()
    out.write(UTF8_BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return out.getvalue()


def xlsx_bytes(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    """A workbook of (title, header, rows) sheets; amounts with two decimals, text never run."""
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Font  # type: ignore[import-untyped]

    book = Workbook()
    book.remove(book.active)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title[:31])
        sheet.append(list(header))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            _as_text(cell)
        for row in rows:
            sheet.append([_excel_value(value) for value in row])
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, Decimal):
                    cell.number_format = "#,##0.00"
                else:
                    _as_text(cell)
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _excel_value(value: Any) -> Any:
    return value if isinstance(value, Decimal | int | float) or value is None else str(value)


def _as_text(cell: Any) -> None:
    # openpyxl stores a string that starts with "=" as a formula; force it back to a string.
    if isinstance(cell.value, str) and cell.data_type == "f":
        cell.data_type = "s"
