"""The coverage answer as of a past instant (SPEC §10): what the service would have answered
then, from the events applied and the settlements and reversals recorded up to that instant —
for a dispute, what the hospital saw when it settled.

The answer is ``coverage_answer`` itself (the live answer's code) on the state and totals of
then, with the China date of the instant as "today" (the settlement-deadline rule) and as the
date asked about when none is given; it adds ``as_of``, the instant answered for, in UTC.
Refusals: an instant in the future (``AS_OF_IN_FUTURE``), one before settlement kept history of
a person it already knew (``AS_OF_UNAVAILABLE``), and one before it heard of the person at all
(404 ``UNKNOWN_PERSON``, saying so).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from services.settlement.adapters import as_of
from services.settlement.engine.claim import CHINA_STANDARD_TIME
from services.settlement.errors import InvalidRequest, NotFound
from services.settlement.service_layer.coverage import coverage_answer

if TYPE_CHECKING:
    from services.settlement.service_layer.settlements import SettlementService


def instant(moment: datetime) -> datetime:
    """An aware instant; a time without a zone is China's wall-clock time, as claims' are."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_STANDARD_TIME)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01 in China is before the first UTC instant Python has
        raise InvalidRequest(
            "INVALID_REQUEST", f"as_of {moment.isoformat()}: out of range"
        ) from None


async def coverage_as_of(
    service: SettlementService,
    psn_no: str,
    on: date | None,
    at: datetime,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The coverage answer for ``psn_no`` on ``on`` as the service gave it at ``at``."""
    at = instant(at)
    now = now or datetime.now(UTC)
    if at > now:
        raise InvalidRequest(
            "AS_OF_IN_FUTURE",
            f"as_of {at.isoformat()} is in the future (now {now.isoformat(timespec='seconds')})",
        )
    async with service.coverage_store.engine.connect() as conn:
        known = await as_of.person_at(conn, psn_no, at)
        if known.state is None:
            raise _not_then(psn_no, at, known)
        today = at.astimezone(CHINA_STANDARD_TIME).date()
        on = on or today
        totals = await as_of.totals_at(conn, psn_no, on.year, at)
    answer = coverage_answer(known.state, totals, on, today, service.policies)
    answer["as_of"] = at.isoformat()
    return answer


def _not_then(psn_no: str, at: datetime, known: as_of.Known) -> Exception:
    if known.first_known is None:
        return NotFound("UNKNOWN_PERSON", "no such insured person")
    first = known.first_known.isoformat()
    if known.kept_from_baseline:
        return InvalidRequest(
            "AS_OF_UNAVAILABLE",
            f"settlement keeps the history of {psn_no} from {first} only: as_of "
            f"{at.isoformat()} is earlier",
        )
    return NotFound(
        "UNKNOWN_PERSON",
        f"no such insured person as of {at.isoformat()}: settlement first heard of {psn_no} at "
        f"{first}",
    )
