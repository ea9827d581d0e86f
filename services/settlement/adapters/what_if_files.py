"""The what-if report as files for the fund's managers (SPEC §10): XLSX and one self-contained
HTML page.

Both lay out the same tables (``domain.what_if_report.tables``). The HTML page carries its style
and its charts (inline SVG) in itself: it opens from a mail attachment on a machine with no
internet, and prints as it shows.
"""

from __future__ import annotations

import io
from decimal import Decimal
from html import escape
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

from services.settlement.domain.what_if_report import Cell, Table, tables

MONEY = "#,##0.00"
IN_FORCE, DRAFT = "#5b7fa6", "#d08c3a"


def title(document: dict[str, Any]) -> str:
    """What the report compares, in one line."""
    where = f" — regions {', '.join(document['regions'])}" if document["regions"] else ""
    draft = document["draft"]["name"]
    return f"What-if {document['year']}: draft {draft} against the policy in force{where}"


def _facts(document: dict[str, Any]) -> list[tuple[str, str]]:
    in_force = "; ".join(f"{p['name']} ({p['sha256'][:12]})" for p in document["in_force"])
    exact = document["exactness"]
    differing = exact["claims_differing_from_ledger"]
    other = exact["claims_settled_under_another_version"]
    return [
        ("Insurance year", str(document["year"])),
        ("Regions", ", ".join(document["regions"]) or "every region"),
        ("Policy in force", in_force),
        ("Draft", f"{document['draft']['name']} ({document['draft']['sha256'][:12]})"),
        ("Claims re-run", f"{document['claims']:,} claims of {document['persons']:,} persons"),
        ("In-force re-run differing from the ledger", f"{differing:,} claims"),
        ("Settled under another version of the file", f"{other:,} claims"),
    ]


# --- XLSX -----------------------------------------------------------------------------------


def xlsx(document: dict[str, Any]) -> bytes:
    """A workbook: a summary sheet with the totals, then one sheet per table."""
    book = Workbook()
    summary = book.active
    summary.title = "Summary"
    summary.append([title(document)])
    summary["A1"].font = Font(bold=True, size=13)
    for fact in _facts(document):
        summary.append(list(fact))
    summary.append([])
    every = tables(document)
    _write(summary, every[0])
    for table in every[1:]:
        _write(book.create_sheet(table.title[:31]), table)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _write(sheet: Any, table: Table) -> None:
    sheet.append([table.title])
    sheet.cell(sheet.max_row, 1).font = Font(bold=True)
    sheet.append(list(table.header))
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append(list(row))
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, Decimal):
                cell.number_format = MONEY
    for index in range(1, len(table.header) + 1):
        sheet.column_dimensions[get_column_letter(index)].width = 22 if index > 1 else 34


# --- HTML -----------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f2f2f2}
.neg{color:#a33}.legend span{display:inline-block;width:1em;height:1em;margin:0 .3em 0 1em}
"""


def html(document: dict[str, Any]) -> bytes:
    """One HTML page: the facts, two charts and every table; nothing loaded from elsewhere."""
    every = tables(document)
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(title(document))}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title(document))}</h1>",
        "<table>",
        *(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in _facts(document)),
        "</table>",
        '<p class=legend><span style="background:' + IN_FORCE + '"></span>in force'
        '<span style="background:' + DRAFT + '"></span>draft</p>',
        "<h2>What each fund pays, and the patients</h2>",
        _bars([(label, row[2], row[3]) for row in every[0].rows[2:] for label in [str(row[0])]]),
        "<h2>Funds per claim type</h2>",
        _bars([(str(row[0]), row[2], row[3]) for row in every[1].rows]),
        *(_table(table) for table in every),
        "</body></html>",
    ]
    return "\n".join(parts).encode("utf-8")


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in table.rows)
    return f"<h2>{escape(table.title)}</h2><table><tr>{head}</tr>{body}</table>"


def _cell(value: Cell) -> str:
    if value is None:
        return "<td></td>"
    if isinstance(value, Decimal):
        css = "n neg" if value < 0 else "n"
        return f"<td class='{css}'>{value:,.2f}</td>"
    if isinstance(value, int):
        return f"<td class=n>{value:,}</td>"
    return f"<td>{escape(value)}</td>"


def _bars(groups: list[tuple[str, Cell, Cell]], width: int = 640) -> str:
    """Pairs of horizontal bars (in force, draft) per group, scaled to the largest amount."""
    values = [(label, _amount(a), _amount(b)) for label, a, b in groups]
    top = max([max(a, b) for _, a, b in values] + [Decimal(1)])
    label_w, bar_w, row_h = 190, width - 190 - 110, 34
    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{row_h * len(values) + 6}" role="img">'
    ]
    for index, (label, now, draft) in enumerate(values):
        y = index * row_h + 3
        lines.append(f'<text x="0" y="{y + 19}" font-size="12">{escape(label)}</text>')
        for offset, (value, color) in enumerate(((now, IN_FORCE), (draft, DRAFT))):
            length = float(value / top) * bar_w
            top_y = y + offset * 14
            lines.append(
                f'<rect x="{label_w}" y="{top_y}" width="{length:.1f}" height="12" '
                f'fill="{color}"/><text x="{label_w + length + 4:.1f}" y="{top_y + 10}" '
                f'font-size="10">{value:,.2f}</text>'
            )
    lines.append("</svg>")
    return "".join(lines)


def _amount(value: Cell) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(0)
