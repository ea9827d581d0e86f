"""Hospital statements as files: JSON, CSV (UTF-8 with BOM, for Excel) and XLSX.

* JSON: per hospital the month's settlements, reversals, net totals, what the settlements added
  and the reversals took back, the totals per ``med_type`` and every ledger line.
* CSV: one row per hospital and ``med_type`` and a row per hospital for all of them
  (``med_type`` ``all``): the summary a bureau's clerk reconciles; field names as in JSON.
* XLSX: that summary on one sheet and the ledger lines on another, headers in the reader's
  language.

Amounts are exact: strings with two decimals in JSON, numbers in CSV and XLSX; text that looks
like a formula is defused (``shared.spreadsheet``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from services.settlement.adapters.statement_lines import AMOUNTS
from services.settlement.service_layer.hospital_statements import HospitalStatement, MonthStatements
from services.settlement.service_layer.statements import Line, Totals
from shared.spreadsheet import csv_text, xlsx_bytes

SUMMARY = (
    "hospital_code",
    "hospital_name",
    "med_type",
    "settlements",
    "reversals",
    "count",
    *AMOUNTS,
)
LINES = (
    "hospital_code",
    "setl_id",
    "entry_type",
    "setl_time",
    "mdtrt_id",
    "psn_no",
    "med_type",
    "count",
    *AMOUNTS,
)


def _entries(item: HospitalStatement) -> dict[str, tuple[int, int]]:
    """(settlements, reversals) per med_type, from the statement's lines."""
    counts: dict[str, tuple[int, int]] = {}
    for line in item.statement.lines:
        settled, reversed_ = counts.get(line.med_type, (0, 0))
        counts[line.med_type] = (
            (settled, reversed_ + 1) if line.reversal else (settled + 1, reversed_)
        )
    return counts


def summary_rows(month: MonthStatements) -> Iterator[list[Any]]:
    """Per hospital: a row per med_type, then its total (``all``)."""
    for item in month.hospitals:
        h, s = item.hospital, item.statement
        for med_type, (settled, reversed_) in sorted(_entries(item).items()):
            totals = s.by_med_type.get(med_type, Totals())
            yield [h.code, h.name, med_type, settled, reversed_, *_figures(totals)]
        yield [h.code, h.name, "all", s.settlements, s.reversals, *_figures(s.totals)]


def line_rows(month: MonthStatements) -> Iterator[list[Any]]:
    """Every ledger line of the month, amounts signed (a reversal's are negative)."""
    for item in month.hospitals:
        for line in item.statement.lines:
            yield [
                item.hospital.code,
                line.setl_id,
                "reversal" if line.reversal else "settlement",
                line.setl_time.isoformat(sep=" "),
                line.mdtrt_id,
                line.psn_no,
                line.med_type,
                *_figures(line.totals),
            ]


def _figures(totals: Totals) -> list[Any]:
    return [totals.count, *(getattr(totals, name) for name in AMOUNTS)]


def as_json(month: MonthStatements) -> bytes:
    """The statements as one JSON document."""
    return json.dumps(
        {
            "month": month.first.strftime("%Y-%m"),
            "start": month.first.isoformat(),
            "end": month.last.isoformat(),
            "hospitals": [_hospital(item) for item in month.hospitals],
        },
        ensure_ascii=False,
    ).encode()


def _hospital(item: HospitalStatement) -> dict[str, Any]:
    h, s = item.hospital, item.statement
    return {
        "hospital": {"code": h.code, "name": h.name, "level": h.level},
        "settlements": s.settlements,
        "reversals": s.reversals,
        "totals": s.totals.as_text(),
        "settled": s.settled.as_text(),
        "reversed": s.reversed.as_text(),
        "by_med_type": {m: t.as_text() for m, t in sorted(s.by_med_type.items())},
        "lines": [_line(line) for line in s.lines],
    }


def _line(line: Line) -> dict[str, Any]:
    return {
        "setl_id": line.setl_id,
        "entry_type": "reversal" if line.reversal else "settlement",
        "setl_time": line.setl_time.isoformat(sep=" "),
        "mdtrt_id": line.mdtrt_id,
        "psn_no": line.psn_no,
        "med_type": line.med_type,
        **line.totals.as_text(),
    }


def as_csv(month: MonthStatements) -> bytes:
    """The per-hospital, per-med_type summary as CSV for Excel."""
    return csv_text(SUMMARY, summary_rows(month)).encode("utf-8")


def as_xlsx(month: MonthStatements, label: Callable[[str], str] = str) -> bytes:
    """The summary and the lines on two sheets; ``label`` names the columns (translation)."""
    return xlsx_bytes(
        [
            (label("sheet.summary"), [label(f"field.{n}") for n in SUMMARY], summary_rows(month)),
            (label("sheet.lines"), [label(f"field.{n}") for n in LINES], line_rows(month)),
        ]
    )


def filename(month: MonthStatements, hospital_code: str | None, extension: str) -> str:
    """``statements-2026-11.csv``, or ``statements-2026-11-H3.xlsx`` for one hospital."""
    safe = "".join(ch for ch in hospital_code or "" if ch.isalnum() or ch in "-_")
    suffix = f"-{safe}" if safe else ""
    return f"statements-{month.first:%Y-%m}{suffix}.{extension}"
