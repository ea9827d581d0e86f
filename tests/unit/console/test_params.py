"""A console URL with odd parameters answers a page with a note, never a failure."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.console.params import (
    Column,
    clamp,
    next_month,
    page_of,
    read_choice,
    read_month,
    read_table,
    read_year,
)

pytestmark = pytest.mark.unit

COLUMNS = (Column("code", "col.code"), Column("count", "col.count", figure=True))
TODAY = date(2026, 12, 2)


def test_good_parameters_are_taken_as_they_are():
    request, notes = read_table(
        {"page": "2", "size": "50", "sort": "count", "dir": "desc"}, COLUMNS, default_sort="code"
    )
    assert (request.page, request.size, request.sort, request.descending) == (2, 50, "count", True)
    assert request.offset == 50
    assert notes == []


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"page": "-1"}, "note.bad_page"),
        ({"page": "0"}, "note.bad_page"),
        ({"page": "x"}, "note.bad_page"),
        ({"page": "99999999999"}, "note.bad_page"),
        ({"size": "7"}, "note.bad_size"),
        ({"sort": "nope"}, "note.bad_sort"),
        ({"sort": "code; DROP TABLE ledger"}, "note.bad_sort"),
        ({"dir": "sideways"}, "note.bad_dir"),
    ],
)
def test_an_odd_table_parameter_falls_back_and_says_so(params, key):
    request, notes = read_table(params, COLUMNS, default_sort="code")
    assert [note.key for note in notes] == [key]
    assert request.page >= 1 and request.sort in {"code", "count"} and request.size == 25


@given(st.dictionaries(st.sampled_from(["page", "size", "sort", "dir"]), st.text(max_size=30)))
def test_any_table_parameters_give_a_valid_request(params):
    request, _ = read_table(params, COLUMNS, default_sort="code")
    assert request.page >= 1 and request.size in (25, 50, 100) and request.sort in {"code", "count"}


@pytest.mark.parametrize(
    "raw", ["2026-13", "2026-00", "26-01", "2026-1", "abc", "1999-12", "２０２６-01"]
)
def test_a_month_that_is_not_one_is_this_month_with_a_note(raw):
    first, notes = read_month(raw, TODAY)
    assert first == date(2026, 12, 1)
    assert [n.key for n in notes] == ["note.bad_month"]


def test_months_and_years():
    assert read_month("2024-02", TODAY) == (date(2024, 2, 1), [])
    assert read_month(None, TODAY) == (date(2026, 12, 1), [])
    assert next_month(date(2026, 12, 1)) == date(2027, 1, 1)
    assert read_year("2025", 2026) == (2025, [])
    assert read_year("20x5", 2026)[0] == 2026 and read_year("20x5", 2026)[1]
    assert read_choice("open", ("open", "all"), "open", "status") == ("open", [])
    assert read_choice("zzz", ("open", "all"), "open", "status")[1][0].key == "note.bad_choice"


def test_pages_sort_in_memory_and_a_page_past_the_end_shows_the_last():
    rows = [{"code": c, "count": n} for c, n in [("B", 2), ("A", None), ("C", 9)]]
    request, _ = read_table({"sort": "count", "dir": "desc"}, COLUMNS, default_sort="code")
    page, notes = page_of(rows, request)
    assert [r["code"] for r in page.rows] == ["C", "B", "A"] and notes == []
    request, _ = read_table({"page": "4", "size": "25"}, COLUMNS, default_sort="code")
    page, notes = page_of(rows, request)
    assert page.request.page == 1 and [n.key for n in notes] == ["note.past_end"]
    empty, notes = clamp([], 120, request)
    assert empty.request.page == 4 and empty.pages == 5 and notes == []
