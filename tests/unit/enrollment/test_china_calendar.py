"""Enrollment's calendar is China's: at 17:00 UTC on 31 December it is 1 January in the city.

The handlers' ``today`` (the month an identity change is recorded in, a death not in the future,
the registration window, the years one may register for) is China's date, whatever zone the
server runs in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.enrollment.service_layer.persons import Context
from shared import china_time

pytestmark = pytest.mark.unit

NEW_YEAR_IN_CHINA = datetime(2024, 12, 31, 17, 0, tzinfo=UTC)  # 01:00 on 1 January 2025


def test_the_handlers_today_is_chinas_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(china_time, "utc_now", lambda: NEW_YEAR_IN_CHINA)
    context = Context(rules_for=lambda region, year: None)  # type: ignore[arg-type, return-value]
    assert context.today() == date(2025, 1, 1)
