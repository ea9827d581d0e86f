"""What the enrollment console counts, folded from a person's events (pure).

Per person and insurance year a ``YearLine``: where the registration is (region, organization),
its category, what the person owes (the last ``registered`` or ``premium-due-changed`` of the
year) and what was paid (payments less refunds), in fen. Per person a ``Standing``: the identity
and assistance flag as last recorded, and where their latest registration is. ``apply`` folds one
event into them; ``collection_changes`` and ``special_changes`` say what a person's change does
to the console's sums, so a summary is kept by adding changes, never by reading everyone again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared.china_time import CHINA_STANDARD_TIME

ORDINARY = "ordinary"
ASSISTANCE_ONLY = "medical_assistance"
"""The identity counted for a person flagged for medical assistance with no special identity."""

Key = tuple[str, str, str]
"""(region, organization, category) of a registration; (identity, region, organization) of a
special person."""


@dataclass(frozen=True, slots=True)
class YearLine:
    """A person's registration for one year, as the console counts it (amounts in fen)."""

    region: str
    organization: str
    category: str
    due: int
    paid: int = 0

    @property
    def covered(self) -> bool:
        return self.paid >= self.due

    @property
    def key(self) -> Key:
        return (self.region, self.organization, self.category)


@dataclass(frozen=True, slots=True)
class Standing:
    """A person's identity as last recorded and where their latest registration is."""

    identity: str = ORDINARY
    assistance: bool = False
    region: str = ""
    organization: str = ""
    latest_year: int = 0

    @property
    def special(self) -> bool:
        return self.identity != ORDINARY or self.assistance

    @property
    def key(self) -> Key:
        shown = self.identity if self.identity != ORDINARY else ASSISTANCE_ONLY
        return (shown, self.region, self.organization)


@dataclass(frozen=True, slots=True)
class PersonView:
    """Everything the console keeps of one person."""

    lines: Mapping[int, YearLine] = field(default_factory=dict)
    standing: Standing = field(default_factory=Standing)


@dataclass(frozen=True, slots=True)
class PaidOn:
    """Money paid (negative: refunded) for a registration's year on a China-time day."""

    year: int
    region: str
    organization: str
    day: date
    fen: int


def fen(amount: Any) -> int:
    """A payload's amount ("400.00") in fen, exactly."""
    return int(Decimal(str(amount)) * 100)


def china_day(instant: str) -> date:
    """The China-time date of a payload's ISO 8601 instant."""
    return datetime.fromisoformat(instant).astimezone(CHINA_STANDARD_TIME).date()


def apply(view: PersonView, kind: str, p: Mapping[str, Any]) -> tuple[PersonView, PaidOn | None]:
    """The view after one event (``kind`` its type, ``p`` its payload), and money it moved."""
    lines, standing = view.lines, view.standing
    if kind == "registered":
        year = int(p["insurance_year"])
        line = YearLine(p["region"], p["organization"], p["category"], fen(p["premium_due"]))
        lines = {**lines, year: line}
        standing = replace(
            standing,
            identity=p.get("identity", ORDINARY),
            assistance=bool(p.get("medical_assistance", False)),
        )
        if year >= standing.latest_year:
            standing = replace(
                standing, region=line.region, organization=line.organization, latest_year=year
            )
        return PersonView(lines, standing), None
    if kind in ("identity-changed", "carried-over"):
        standing = replace(
            standing, identity=p["identity"], assistance=bool(p.get("medical_assistance", False))
        )
        return PersonView(lines, standing), None
    year = int(p.get("insurance_year", 0))
    current = lines.get(year)
    if current is None:
        return view, None
    if kind == "premium-due-changed":
        return PersonView(
            {**lines, year: replace(current, due=fen(p["premium_due"]))}, standing
        ), None
    if kind in ("premium-paid", "premium-refunded"):
        sign = 1 if kind == "premium-paid" else -1
        amount = sign * fen(p["amount"])
        day = china_day(p["paid_at"] if sign > 0 else p["refunded_at"])
        moved = PaidOn(year, current.region, current.organization, day, amount)
        return PersonView(
            {**lines, year: replace(current, paid=current.paid + amount)}, standing
        ), moved
    return view, None


@dataclass(slots=True)
class Sums:
    """A change to one row of the collection summary."""

    people: int = 0
    due: int = 0
    paid: int = 0
    covered: int = 0

    def add(self, line: YearLine, sign: int) -> None:
        self.people += sign
        self.due += sign * line.due
        self.paid += sign * line.paid
        self.covered += sign * int(line.covered)


def collection_changes(before: PersonView, after: PersonView) -> dict[tuple[int, Key], Sums]:
    """What a person's change does to the collection summary, per (year, key)."""
    changes: dict[tuple[int, Key], Sums] = {}
    for year in set(before.lines) | set(after.lines):
        old, new = before.lines.get(year), after.lines.get(year)
        if old == new:
            continue
        if old is not None:
            changes.setdefault((year, old.key), Sums()).add(old, -1)
        if new is not None:
            changes.setdefault((year, new.key), Sums()).add(new, 1)
    return changes


def special_changes(before: Standing, after: Standing) -> dict[Key, int]:
    """What a person's change does to the special persons' count, per key."""
    changes: dict[Key, int] = {}
    if before.special:
        changes[before.key] = changes.get(before.key, 0) - 1
    if after.special:
        changes[after.key] = changes.get(after.key, 0) + 1
    return {key: n for key, n in changes.items() if n}
