"""The monthly change report of special persons (004 §二(三), SPEC §7), as pure rules.

《特殊人员医疗保障变动情况月报表》: per organization (乡镇街道, the person's registered
``organization``), how many special persons there were at the start of the month and at its end,
and what moved in between. Everything is read from each person's identity timeline and death:

* a person counts as special at the end of a day when the identity in force that day is not
  ``ordinary`` and they were alive at its end (not dead that day or before);
* ``at_start`` counts the last day of the month before, ``at_end`` the month's last day, each in
  the organization the person was registered with for that day's year;
* ``added``: special at the end, not at the start (or in another organization then);
  ``exited_death`` / ``exited_other``: special at the start, not at the end (or elsewhere) —
  by death when they died during the month;
* ``identity_changed``: special at both ends, in the same organization, in another class;
* ``assistance_flagged`` / ``assistance_unflagged``: the medical-assistance flag, start vs end.

So ``at_start + added − exited_death − exited_other = at_end`` holds for every row by
construction. Facts are dated by when they take effect, so a back-dated change (district role)
or a death recorded late alters the figures of the month it falls in. Before the month has ended
the report is ``provisional``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import date

from services.enrollment.domain.calendar import Month
from services.enrollment.domain.state import IdentityPeriod, PersonState
from shared.certno import mask
from shared.events import Identity

COUNTS = (
    "at_start",
    "added",
    "exited_death",
    "exited_other",
    "identity_changed",
    "assistance_flagged",
    "assistance_unflagged",
    "at_end",
)
HEADERS = {
    "organization": "乡镇街道",
    "at_start": "月初人数",
    "added": "新增",
    "exited_death": "死亡退出",
    "exited_other": "其他退出",
    "identity_changed": "身份变更",
    "assistance_flagged": "医疗救助标识新增",
    "assistance_unflagged": "医疗救助标识取消",
    "at_end": "月末人数",
}
DETAIL_HEADERS = {
    "organization": "乡镇街道",
    "certno": "身份证号",
    "name": "姓名",
    "change": "变动类型",
    "from_identity": "原身份",
    "to_identity": "新身份",
    "effective": "生效日期",
    "reason": "原因",
}


@dataclass
class ReportRow:
    """One organization's figures for the month."""

    organization: str
    at_start: int = 0
    added: int = 0
    exited_death: int = 0
    exited_other: int = 0
    identity_changed: int = 0
    assistance_flagged: int = 0
    assistance_unflagged: int = 0
    at_end: int = 0

    @property
    def balanced(self) -> bool:
        exits = self.exited_death + self.exited_other
        return self.at_start + self.added - exits == self.at_end


@dataclass(frozen=True, slots=True)
class DetailLine:
    """One change of the month: who, from what to what, from when, why (certno masked)."""

    organization: str
    certno: str
    name: str
    change: str
    from_identity: str
    to_identity: str
    effective: date
    reason: str


@dataclass
class MonthlyReport:
    month: Month
    provisional: bool
    rows: list[ReportRow] = field(default_factory=list)
    details: list[DetailLine] = field(default_factory=list)

    @property
    def total(self) -> ReportRow:
        """The sum of the rows (the district's line)."""
        total = ReportRow("合计")
        for row in self.rows:
            for name in COUNTS:
                setattr(total, name, getattr(total, name) + getattr(row, name))
        return total


def title(district: str, month: Month) -> str:
    """``{district} 特殊人员医疗保障变动情况月报表 {YYYY}年{M}月`` (the seed's attachment)."""
    return f"{district} 特殊人员医疗保障变动情况月报表 {month.year}年{month.month}月"


def place_on(state: PersonState, day: date) -> tuple[str, str] | None:
    """(region, organization) the person was registered with for ``day``'s year (else the
    nearest earlier year, else the first one)."""
    if not state.years:
        return None
    earlier = [y for y in state.years if y <= day.year]
    record = state.years[max(earlier) if earlier else min(state.years)]
    return record.region, record.organization


def organization_on(state: PersonState, day: date) -> str | None:
    """The organization of ``place_on``."""
    place = place_on(state, day)
    return place[1] if place is not None else None


@dataclass(frozen=True, slots=True)
class _Snapshot:
    special: bool
    identity: Identity
    flagged: bool
    organization: str | None


def _snapshot(state: PersonState, day: date) -> _Snapshot:
    alive = state.date_of_death is None or day < state.date_of_death
    period = state.identity_on(day)
    identity = period.identity if period is not None else Identity.ORDINARY
    flagged = alive and period is not None and period.medical_assistance
    special = alive and identity is not Identity.ORDINARY
    return _Snapshot(special, identity, flagged, organization_on(state, day))


def _count(rows: dict[str, ReportRow], organization: str | None, name: str) -> None:
    key = organization or ""
    row = rows.setdefault(key, ReportRow(key))
    setattr(row, name, getattr(row, name) + 1)


def person_counts(state: PersonState, month: Month, rows: dict[str, ReportRow]) -> None:
    """Add one person's month to the rows (by organization)."""
    start, end = _snapshot(state, month.previous().last), _snapshot(state, month.last)
    moved = start.organization != end.organization
    if start.special:
        _count(rows, start.organization, "at_start")
        if not end.special or moved:
            died = state.date_of_death is not None and state.date_of_death <= month.last
            _count(rows, start.organization, "exited_death" if died else "exited_other")
    if end.special:
        _count(rows, end.organization, "at_end")
        if not start.special or moved:
            _count(rows, end.organization, "added")
    if start.special and end.special and not moved and start.identity is not end.identity:
        _count(rows, end.organization, "identity_changed")
    if end.flagged and not start.flagged:
        _count(rows, end.organization, "assistance_flagged")
    if start.flagged and not end.flagged:
        _count(rows, start.organization, "assistance_unflagged")


def person_details(state: PersonState, month: Month) -> list[DetailLine]:
    """The person's changes taking effect in the month, and their death."""
    lines: list[DetailLine] = []
    previous: IdentityPeriod | None = None
    for period in state.timeline:
        if previous is not None and month.first <= period.effective_from <= month.last:
            change = _change(previous, period)
            if change:
                lines.append(_line(state, change, previous.identity, period))
        previous = period
    death = state.date_of_death
    if death is not None and month.first <= death <= month.last:
        held = state.identity_on(death)
        if held is not None and held.identity is not Identity.ORDINARY:
            gone = IdentityPeriod(death, Identity.ORDINARY, False, "死亡 (death)")
            lines.append(_line(state, "死亡退出", held.identity, gone))
    return lines


def _change(old: IdentityPeriod, new: IdentityPeriod) -> str:
    if old.identity is Identity.ORDINARY and new.identity is not Identity.ORDINARY:
        return "新增"
    if old.identity is not Identity.ORDINARY and new.identity is Identity.ORDINARY:
        return "退出"
    if old.identity is not new.identity:
        return "身份变更"
    if old.medical_assistance != new.medical_assistance:
        return "医疗救助标识" + ("新增" if new.medical_assistance else "取消")
    return ""


def _line(state: PersonState, change: str, before: Identity, period: IdentityPeriod) -> DetailLine:
    return DetailLine(
        organization=organization_on(state, period.effective_from) or "",
        certno=mask(state.certno),
        name=state.name,
        change=change,
        from_identity=before.value,
        to_identity=period.identity.value,
        effective=period.effective_from,
        reason=period.reason,
    )


def monthly_report(
    states: Iterable[PersonState],
    month: Month,
    today: date,
    keep: Callable[[PersonState], bool] = lambda _: True,
) -> MonthlyReport:
    """The report of the month over these people (those ``keep`` says are in scope)."""
    rows: dict[str, ReportRow] = {}
    report = MonthlyReport(month, provisional=today <= month.last)
    for state in states:
        if not keep(state):
            continue
        person_counts(state, month, rows)
        report.details.extend(person_details(state, month))
    report.rows = [rows[k] for k in sorted(rows)]
    report.details.sort(key=lambda d: (d.organization, d.effective, d.certno))
    return report


def row_values(row: ReportRow) -> dict[str, object]:
    """A row as column → value, in the report's column order."""
    return {f.name: getattr(row, f.name) for f in fields(row)}
