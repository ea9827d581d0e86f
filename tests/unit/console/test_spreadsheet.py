"""CSV and XLSX for Excel: BOM, CRLF, and text that would run as a formula never does."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from shared.spreadsheet import csv_text, safe_cell, xlsx_bytes

pytestmark = pytest.mark.unit

EVIL = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", '=HYPERLINK("http://x")']


def test_csv_starts_with_a_bom_uses_crlf_and_defuses_formulas():
    text = csv_text(["name", "amount"], [[v, Decimal("-12.30")] for v in EVIL])
    assert text.startswith("\ufeffname,amount\r\n")
    for line in text.split("\r\n")[1:-1]:
        assert line.startswith("'") or line.startswith("\"'"), line
        assert line.endswith(",-12.30")  # a negative amount stays a number
    assert safe_cell(Decimal("-1.00")) == Decimal("-1.00")


def test_xlsx_writes_formula_looking_text_as_text_and_amounts_as_numbers():
    book = load_workbook(
        io.BytesIO(
            xlsx_bytes([("Lines", ["=head", "amount"], [[v, Decimal("-1.50")] for v in EVIL])])
        )
    )
    sheet = book["Lines"]
    assert sheet["A1"].value == "=head" and sheet["A1"].data_type == "s"
    for row in sheet.iter_rows(min_row=2):
        assert row[0].data_type == "s" and row[0].value in EVIL
        assert row[1].data_type == "n" and Decimal(str(row[1].value)) == Decimal("-1.50")
