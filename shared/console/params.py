"""A console page's query parameters, read forgivingly (pure).

A console URL is typed, bookmarked and edited by hand, so an odd parameter (``page=-1``, an
unknown ``sort``, ``month=2026-13``) never fails the page: the reader falls back to a sensible
value and leaves a ``Note`` (a label key and its arguments) that the page shows. Tables are
paged and sorted on the server: ``TableRequest`` says which slice in which order, and ``Page``
is that slice with what the pager needs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, TypeVar

T = TypeVar("T")

PAGE_SIZES = (25, 50, 100)
MAX_PAGE = 1_000_000


@dataclass(frozen=True, slots=True)
class Note:
    """A message for the reader: a label key and the values it names."""

    key: str
    args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: its key (the ``sort`` value), its label key, right-aligned if a figure."""

    key: str
    label: str
    figure: bool = False


@dataclass(frozen=True, slots=True)
class TableRequest:
    """Which slice of a table, in which order."""

    page: int
    size: int
    sort: str
    descending: bool

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a table's rows and what the pager shows."""

    rows: Sequence[T]
    total: int
    request: TableRequest

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.request.size))


def _int(raw: str | None) -> int | None:
    if raw is None or not re.fullmatch(r"[+-]?[0-9]{1,9}", raw.strip()):
        return None
    return int(raw)


def read_table(
    params: Mapping[str, str],
    columns: Sequence[Column],
    *,
    default_sort: str,
    descending: bool = False,
    prefix: str = "",
) -> tuple[TableRequest, list[Note]]:
    """``page``, ``size``, ``sort`` and ``dir`` (each under ``prefix``, for a second table on
    the page), with a note for each value that had to be replaced."""
    notes: list[Note] = []
    raw_page = params.get(prefix + "page")
    page = _int(raw_page)
    if raw_page is not None and (page is None or page < 1 or page > MAX_PAGE):
        notes.append(Note("note.bad_page", {"value": raw_page[:20]}))
        page = None
    raw_size = params.get(prefix + "size")
    size = _int(raw_size)
    if raw_size is not None and size not in PAGE_SIZES:
        notes.append(Note("note.bad_size", {"value": raw_size[:20]}))
        size = None
    keys = {c.key for c in columns}
    sort = params.get(prefix + "sort", default_sort)
    if sort not in keys:
        notes.append(Note("note.bad_sort", {"value": sort[:40]}))
        sort = default_sort
    direction = params.get(prefix + "dir")
    if direction not in (None, "asc", "desc"):
        notes.append(Note("note.bad_dir", {"value": direction[:10]}))
        direction = None
    desc = descending if direction is None else direction == "desc"
    return TableRequest(page or 1, size or PAGE_SIZES[0], sort, desc), notes


def page_of(
    rows: Sequence[T], request: TableRequest, key: Callable[[T], Any] | None = None
) -> tuple[Page[T], list[Note]]:
    """Sort a small table in memory by ``request.sort`` and take the page asked for; a page past
    the end shows the last one, with a note. ``key`` picks the sort value (default: the
    attribute or item named like the column)."""
    pick = key or (lambda row: _value(row, request.sort))
    ordered = sorted(rows, key=lambda row: _sortable(pick(row)), reverse=request.descending)
    return clamp(ordered, len(ordered), request, sliced=False)


def clamp(
    rows: Sequence[T], total: int, request: TableRequest, *, sliced: bool = True
) -> tuple[Page[T], list[Note]]:
    """The page asked for, or the last one (with a note) when it lies past the end. ``rows``
    is the page already (``sliced``, from a query with OFFSET) or the whole ordered table."""
    notes: list[Note] = []
    last = max(1, math.ceil(total / request.size))
    if request.page > last:
        notes.append(Note("note.past_end", {"value": str(request.page), "last": str(last)}))
        request = TableRequest(last, request.size, request.sort, request.descending)
        if sliced:
            return Page([], total, request), notes  # the caller queries the last page again
    if not sliced:
        rows = rows[request.offset : request.offset + request.size]
    return Page(rows, total, request), notes


def _value(row: Any, name: str) -> Any:
    if isinstance(row, Mapping):
        return row.get(name)
    return getattr(row, name, None)


def _sortable(value: Any) -> tuple[int, Any]:
    """None sorts first; numbers and text each among their own kind."""
    if value is None:
        return (0, 0)
    if isinstance(value, int | float) or hasattr(value, "is_finite"):
        return (1, value)
    return (2, str(value))


def read_month(raw: str | None, today: date) -> tuple[date, list[Note]]:
    """``YYYY-MM`` → its first day; anything else → this month, with a note."""
    if raw is None or raw == "":
        return today.replace(day=1), []
    match = re.fullmatch(r"([0-9]{4})-([0-9]{2})", raw.strip())
    if match:
        year, month = int(match[1]), int(match[2])
        if 2000 <= year <= 2100 and 1 <= month <= 12:
            return date(year, month, 1), []
    return today.replace(day=1), [Note("note.bad_month", {"value": raw[:20]})]


def read_year(raw: str | None, default: int) -> tuple[int, list[Note]]:
    """A four-digit insurance year between 2000 and 2100; anything else → ``default``."""
    if raw is None or raw == "":
        return default, []
    year = _int(raw)
    if year is not None and 2000 <= year <= 2100:
        return year, []
    return default, [Note("note.bad_year", {"value": raw[:20]})]


def read_choice(
    raw: str | None, choices: Sequence[str], default: str, name: str
) -> tuple[str, list[Note]]:
    """One of ``choices``; anything else → ``default``, with a note naming the parameter."""
    if raw is None or raw == "" or raw in choices:
        return raw or default, []
    return default, [Note("note.bad_choice", {"name": name, "value": raw[:40]})]


def next_month(first: date) -> date:
    """The first day of the month after ``first``'s."""
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)
