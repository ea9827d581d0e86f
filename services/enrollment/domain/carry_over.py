"""The annual carry-over list of special persons (004 §一, SPEC §7), as pure rules.

Each source department (民政 civil affairs, 残联 the disabled persons' federation, 卫健 health,
扶贫/乡村振兴 rural revitalisation) hands in its list of the special persons who carry over into
insurance year Y. The district bureau merges them and submits the merged list; the city centre
freezes it ("核定固化"). Then every person on it is registered for Y (or has their Y identity set)
with the list's identity and assistance flag, effective 1 January Y, and their personal premium
for Y is paid on their behalf.

* A list's columns: ``certno`` 身份证号, ``name`` 姓名, ``identity`` 身份, ``medical_assistance``
  医疗救助 (是/否), ``region`` 行政区划, ``organization`` 乡镇街道, and optionally ``category``
  类别 (default: the person's latest registered category, else ``resident``). An ordinary
  identity has no place on it and is refused.
* One person on two lists with different identities is a conflict, unless both identities are in
  the year's priority order (premium rules, ``[carry_over] identity_priority``): then the first
  wins. Any list flagging the person for medical assistance flags them. A conflict is also
  resolved by re-uploading a list. Submitting with conflicts left is ``CARRY_OVER_CONFLICTS``.
* ``draft`` → ``submitted`` (district) → ``frozen`` (city). A re-upload moves a submitted list
  back to draft; once frozen, uploads and submits are ``CARRY_OVER_FROZEN``, and freezing again
  changes nothing. Freezing a draft is ``CARRY_OVER_NOT_SUBMITTED``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum

from services.enrollment.domain.errors import DomainError
from services.enrollment.domain.list_fields import ListedPerson, RowCheck
from services.enrollment.domain.list_files import ListSchema, Parsed, RowError, parse_rows
from services.enrollment.domain.person import Registration, RulesFor, premium_changes, register
from services.enrollment.domain.state import PersonState, then
from shared.events import CarriedOver, Category, EventPayload, Identity, IdentityChanged

COLUMNS = ("certno", "name", "identity", "medical_assistance", "region", "organization", "category")
REQUIRED = ("certno", "name", "identity", "region", "organization")
SCHEMA = ListSchema(
    COLUMNS,
    REQUIRED,
    {
        "身份证号": "certno",
        "身份证号码": "certno",
        "公民身份号码": "certno",
        "姓名": "name",
        "身份": "identity",
        "特殊身份": "identity",
        "人员身份": "identity",
        "特殊人员类别": "identity",
        "医疗救助": "medical_assistance",
        "医疗救助对象": "medical_assistance",
        "是否医疗救助对象": "medical_assistance",
        "行政区划": "region",
        "区划": "region",
        "乡镇街道": "organization",
        "镇街": "organization",
        "乡镇(街道)": "organization",
        "街道": "organization",
        "类别": "category",
        "参保类别": "category",
    },
)


class CarryOverStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    FROZEN = "frozen"


@dataclass(frozen=True, slots=True)
class CarryOverRow(ListedPerson):
    """A valid row of one department's list."""

    identity: Identity
    medical_assistance: bool
    region: str
    organization: str
    category: Category | None


ParsedCarryOver = Parsed[CarryOverRow]


def validate_row(row: int, values: dict[str, str]) -> CarryOverRow | list[RowError]:
    """One row's person, or every reason it is refused."""
    check = RowCheck(row, values)
    certno, name = check.person()
    identity = check.identity(blank=None)
    if identity is Identity.ORDINARY:
        check.refuse("identity", "a carry-over list holds special persons, not ordinary ones")
    flag = check.flag("medical_assistance")
    region = check.region()
    organization = check.text("organization", 100)
    category = check.category() if check.cell("category") else None
    if check.errors or identity is None:
        return check.errors
    return CarryOverRow(row, certno, name, identity, flag, region, organization, category)


def parse_carry_over(data: bytes, filename: str = "", content_type: str = "") -> ParsedCarryOver:
    """Every row of a department's list; a person listed twice is refused on the later row."""
    return parse_rows(data, SCHEMA, validate_row, filename, content_type)


# --- merging -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceRow:
    """A stored row with the department that listed it."""

    source: str
    row: CarryOverRow


@dataclass(frozen=True, slots=True)
class MergedPerson:
    """One person of the merged list, with every department that listed them."""

    row: CarryOverRow
    medical_assistance: bool
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Conflict:
    """One person, different identities on different lists, and no priority to decide."""

    certno: str
    identities: dict[str, Identity]  # source -> identity


@dataclass(frozen=True, slots=True)
class Merged:
    persons: list[MergedPerson]
    conflicts: list[Conflict]
    resolved_by_priority: int


def merge(rows: Iterable[SourceRow], priority: Sequence[Identity]) -> Merged:
    """The merged list: one entry per person; conflicts the priority order cannot decide."""
    by_certno: dict[str, list[SourceRow]] = defaultdict(list)
    for source_row in rows:
        by_certno[source_row.row.certno].append(source_row)
    rank = {identity: n for n, identity in enumerate(priority)}
    persons: list[MergedPerson] = []
    conflicts: list[Conflict] = []
    resolved = 0
    for certno in sorted(by_certno):
        listed = sorted(by_certno[certno], key=lambda r: r.source)
        identities = {r.row.identity for r in listed}
        if len(identities) > 1:
            if not all(i in rank for i in identities):
                conflicts.append(Conflict(certno, {r.source: r.row.identity for r in listed}))
                continue
            resolved += 1
        winner = min(listed, key=lambda r: rank.get(r.row.identity, 0))
        flagged = any(r.row.medical_assistance for r in listed)
        persons.append(MergedPerson(winner.row, flagged, tuple(r.source for r in listed)))
    return Merged(persons, conflicts, resolved)


# --- status ------------------------------------------------------------------------------------


class CarryOverRefused(DomainError):
    """The list's status does not allow this (409)."""


def check_upload(status: CarryOverStatus) -> None:
    if status is CarryOverStatus.FROZEN:
        raise CarryOverRefused("CARRY_OVER_FROZEN", "the carry-over list is frozen")


def check_submit(status: CarryOverStatus, conflicts: int) -> None:
    check_upload(status)
    if conflicts:
        raise CarryOverRefused(
            "CARRY_OVER_CONFLICTS",
            f"{conflicts} person(s) have different identities on different lists;"
            " re-upload a list or set the priority order",
        )


def check_freeze(status: CarryOverStatus) -> None:
    if status is CarryOverStatus.DRAFT:
        raise CarryOverRefused(
            "CARRY_OVER_NOT_SUBMITTED", "the district has not submitted the merged list"
        )


# --- freezing: one person ------------------------------------------------------------------------


def freeze_person(
    state: PersonState | None,
    person: MergedPerson,
    year: int,
    rules_for: RulesFor,
    today: date,
) -> list[EventPayload]:
    """What the frozen list does to one person: registered for ``year`` (unless they are), the
    list's identity and flag from 1 January, ``carried-over``. ``[]`` when already done."""
    row = person.row
    if state is not None and year in state.years and state.years[year].carried_over:
        return []
    payloads: list[EventPayload] = []
    if state is None or year not in state.years:
        category = row.category or _latest_category(state) or Category.RESIDENT
        # registered with what they hold now (a new person: ordinary); the list's identity
        # takes effect on 1 January (below), not on the day of the freeze
        request = Registration(
            certno=row.certno,
            name=row.name,
            category=category,
            region=row.region,
            organization=row.organization,
            insurance_year=year,
        )
        payloads += register(state, request, rules_for, today)
    after = then(state, payloads, _noon(today))
    payloads += _from_january(after, person, year, rules_for)
    payloads.append(
        CarriedOver(
            insurance_year=year,
            identity=row.identity,
            medical_assistance=person.medical_assistance,
            sources=list(person.sources),
        )
    )
    return payloads


def _from_january(
    state: PersonState, person: MergedPerson, year: int, rules_for: RulesFor
) -> list[EventPayload]:
    first = date(year, 1, 1)
    held = state.identity_on(first)
    wanted = (person.row.identity, person.medical_assistance)
    if held is not None and (held.identity, held.medical_assistance) == wanted:
        return []
    change = IdentityChanged(
        identity=person.row.identity,
        medical_assistance=person.medical_assistance,
        effective_from=first,
        reason=f"carry-over list {year} frozen ({', '.join(person.sources)})",
        evidence_ref=f"carry-over:{year}",
    )
    rules = premium_changes(state, person.row.identity, first, rules_for, raise_current=True)
    return [change, *rules]


def _latest_category(state: PersonState | None) -> Category | None:
    if state is None or not state.years:
        return None
    return state.years[max(state.years)].category


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), UTC)
