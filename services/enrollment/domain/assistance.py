"""The monthly medical-assistance list (004 §二(一)4, SPEC §7), as pure rules.

Before the 5th of every month civil affairs (区民政局) hands in the whole list of medical-assistance
recipients (医疗救助对象) for that month; the bureau marks them in the system. The list replaces
the flags: a person on it who is not flagged is flagged, a flagged person not on it is unflagged,
each by an ``identity-changed`` event effective the 1st of the month (the identity itself stays as
it is). A person already as the list says is ``unchanged``, so the same list again writes nothing.

* Columns: ``certno`` 身份证号, ``name`` 姓名, and ``region`` 行政区划 (checked when given).
* A row naming nobody registered for the month's year is ``unknown``: reported with its row so
  the town can register the person, never dropped silently.
* A list handed in after the 5th is ``late`` (it still applies from the 1st).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.enrollment.domain.calendar import Month
from services.enrollment.domain.list_fields import ListedPerson, RowCheck
from services.enrollment.domain.list_files import ListSchema, Parsed, RowError, parse_rows
from services.enrollment.domain.person import assistance_flag
from services.enrollment.domain.state import PersonState
from shared.events import EventPayload

SCHEMA = ListSchema(
    ("certno", "name", "region"),
    ("certno", "name"),
    {
        "身份证号": "certno",
        "身份证号码": "certno",
        "公民身份号码": "certno",
        "姓名": "name",
        "行政区划": "region",
        "区划": "region",
    },
)


@dataclass(frozen=True, slots=True)
class AssistanceRow(ListedPerson):
    """A valid row: one recipient of the month."""

    region: str


ParsedAssistance = Parsed[AssistanceRow]


def validate_row(row: int, values: dict[str, str]) -> AssistanceRow | list[RowError]:
    check = RowCheck(row, values)
    certno, name = check.person()
    region = check.region() if check.cell("region") else ""
    if check.errors:
        return check.errors
    return AssistanceRow(row, certno, name, region)


def parse_assistance(data: bytes, filename: str = "", content_type: str = "") -> ParsedAssistance:
    """Every row of a monthly list; a person listed twice is refused on the later row."""
    return parse_rows(data, SCHEMA, validate_row, filename, content_type)


def flagged_on(state: PersonState, month: Month) -> bool:
    """Whether the person is flagged on the 1st of the month (before this month's list)."""
    period = state.identity_on(month.first)
    return period.medical_assistance if period is not None else state.medical_assistance


def apply_list(state: PersonState, listed: bool, month: Month) -> list[EventPayload]:
    """The flag the month's list gives one person (``[]``: unchanged)."""
    return assistance_flag(
        state,
        listed,
        month.first,
        reason=f"医疗救助名单 {month} (medical-assistance list)",
        evidence_ref=f"assistance:{month}",
    )
