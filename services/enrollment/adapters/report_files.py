"""The monthly change report as the bureau files it: JSON, CSV and XLSX with Chinese headers.

* JSON: the title, the month, ``provisional``, one object per organization (English keys, as the
  API speaks), the total and the detail lines.
* CSV (UTF-8 with BOM, so Excel opens it): the title on the first line, then the Chinese header
  and a line per organization, the 合计 line, a blank line and the detail list.
* XLSX: sheet 月报表 with the title merged across the columns above the Chinese header, the
  organizations and the 合计 line; sheet 变动明细 with the detail list. A provisional report says
  so under its title.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]

from services.enrollment.domain.reports import (
    DETAIL_HEADERS,
    HEADERS,
    DetailLine,
    MonthlyReport,
    row_values,
)

PROVISIONAL = "(本月未结束，数据为临时数)"


def as_json(report: MonthlyReport, title: str) -> dict[str, Any]:
    """The report as the JSON answer."""
    return {
        "title": title,
        "month": str(report.month),
        "provisional": report.provisional,
        "rows": [row_values(r) for r in report.rows],
        "total": row_values(report.total),
        "details": [_detail(d) for d in report.details],
    }


def _detail(line: DetailLine) -> dict[str, Any]:
    values = asdict(line)
    values["effective"] = line.effective.isoformat()
    return values


def _table(report: MonthlyReport) -> list[list[Any]]:
    lines = [list(HEADERS.values())]
    for row in [*report.rows, report.total]:
        lines.append([row_values(row)[key] for key in HEADERS])
    return lines


def _details(report: MonthlyReport) -> list[list[Any]]:
    lines: list[list[Any]] = [list(DETAIL_HEADERS.values())]
    for line in report.details:
        values = _detail(line)
        lines.append([values[key] for key in DETAIL_HEADERS])
    return lines


def as_csv(report: MonthlyReport, title: str) -> bytes:
    """The report as CSV (UTF-8 with BOM): title, table, blank line, details."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([title + (" " + PROVISIONAL if report.provisional else "")])
    writer.writerows(_table(report))
    writer.writerow([])
    writer.writerows(_details(report))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def as_xlsx(report: MonthlyReport, title: str) -> bytes:
    """The report as a workbook: 月报表 (title merged above the header) and 变动明细."""
    book = Workbook()
    sheet = book.active
    sheet.title = "月报表"
    table = _table(report)
    width = len(table[0])
    sheet.append([title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append([PROVISIONAL if report.provisional else ""])
    for line in table:
        sheet.append(line)
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    sheet.column_dimensions["A"].width = 18
    details = book.create_sheet("变动明细")
    for line in _details(report):
        details.append(line)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
