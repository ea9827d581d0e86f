"""China Standard Time (UTC+8): the clock of the city's insurance calendar.

Instants are kept in UTC, but every calendar rule (the insurance year of a claim or a coverage
question, a settlement deadline, the month a change is recorded in) is judged on the date a clock
in the city shows. The server's own time zone is not that clock: a container runs on UTC, where
each day starts eight hours after it has started in Liaocheng.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")


def utc_now() -> datetime:
    """The current instant (aware, UTC); the one place the calendar reads the system clock."""
    return datetime.now(UTC)


def china_today(now: datetime | None = None) -> date:
    """The date in China at the aware instant ``now`` (by default, at this instant)."""
    return (now or utc_now()).astimezone(CHINA_STANDARD_TIME).date()
