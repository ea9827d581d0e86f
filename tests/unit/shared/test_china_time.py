"""China's date, not the server's: the calendar of the insurance turns at midnight in UTC+8."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared import china_time
from shared.china_time import china_today

pytestmark = pytest.mark.unit


def test_at_2024_03_31_20h_utc_it_is_already_1_april_in_china() -> None:
    assert china_today(datetime(2024, 3, 31, 20, 0, tzinfo=UTC)) == date(2024, 4, 1)


def test_the_year_turns_eight_hours_before_it_does_in_utc() -> None:
    assert china_today(datetime(2024, 12, 31, 15, 59, 59, tzinfo=UTC)) == date(2024, 12, 31)
    assert china_today(datetime(2024, 12, 31, 16, 0, tzinfo=UTC)) == date(2025, 1, 1)


def test_by_default_it_reads_the_clock_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(china_time, "utc_now", lambda: datetime(2024, 3, 31, 20, 0, tzinfo=UTC))
    assert china_today() == date(2024, 4, 1)
