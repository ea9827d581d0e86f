"""The bureau's calendar, pure: months, the registration window and the monthly deadlines.

* Everything in the special persons' cycle happens by the month (004): an identity change takes
  effect on the 1st of the month it is recorded in, the civil-affairs list of a month is due by
  its 5th (§二(一)4), the towns' monthly report by the 3rd of the next month (§二(三)).
* The registration window and the collection months of insurance year Y are data in Y's premium
  rules (``[calendar]``, read by ``parse_calendar``): by default registration from 1 September to
  31 October of Y−1 (000 §三: basic data complete by 31 October) and collection September to
  December of Y−1. Rules without the section have no window (everything is in it).
"""

from __future__ import annotations

import calendar as _calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

ASSISTANCE_LIST_DAY = 5
"""The monthly medical-assistance list is due by the 5th of its month (004 §二(一)4)."""

REPORT_DAY = 3
"""The towns' monthly change report is due by the 3rd of the next month (004 §二(三))."""

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


@dataclass(frozen=True, slots=True, order=True)
class Month:
    """A calendar month, written ``YYYY-MM``."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM`` → Month; ``ValueError`` otherwise."""
        match = _MONTH.match(text.strip())
        if not match or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= 2100:
            raise ValueError(f"{text!r} is not a month written YYYY-MM")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return date(self.year, self.month, _calendar.monthrange(self.year, self.month)[1])

    def next(self) -> Month:
        return Month.of(self.last + timedelta(days=1))

    def previous(self) -> Month:
        return Month.of(self.first - timedelta(days=1))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def first_of_month(day: date) -> date:
    """The 1st of ``day``'s month: when a change recorded on ``day`` takes effect (004)."""
    return day.replace(day=1)


def assistance_list_late(month: Month, today: date) -> bool:
    """Whether a month's assistance list handed in ``today`` is after its 5th."""
    return today > date(month.year, month.month, ASSISTANCE_LIST_DAY)


@dataclass(frozen=True, slots=True)
class RulesCalendar:
    """When registration and collection happen for one insurance year."""

    registration_opens: date
    registration_closes: date
    collection_months: tuple[Month, ...]

    def in_window(self, today: date) -> bool:
        """Whether a registration on ``today`` is inside the year's registration window."""
        return self.registration_opens <= today <= self.registration_closes


def _month_day(raw: object, year: int, what: str) -> date:
    match = _MONTH_DAY.match(str(raw))
    if not match:
        raise ValueError(f"calendar {what} must be written MM-DD, not {raw!r}")
    return date(year, int(match[1]), int(match[2]))


def parse_calendar(section: dict[str, Any] | None, insurance_year: int) -> RulesCalendar | None:
    """The ``[calendar]`` section of year Y's rules; month-days are of Y−1 (collection year).

    ``registration_opens`` / ``registration_closes`` (``MM-DD``) and ``collection_months``
    (month numbers). ``ValueError`` when malformed; ``None`` when there is no section.
    """
    if section is None:
        return None
    year = insurance_year - 1
    opens = _month_day(section["registration_opens"], year, "registration_opens")
    closes = _month_day(section["registration_closes"], year, "registration_closes")
    if closes < opens:
        raise ValueError("calendar registration_closes is before registration_opens")
    months = tuple(Month(year, int(m)) for m in section.get("collection_months", []))
    if any(not 1 <= m.month <= 12 for m in months):
        raise ValueError("calendar collection_months must be month numbers 1-12")
    return RulesCalendar(opens, closes, months)
