"""The person columns lists share, checked one cell at a time (pure).

``RowCheck`` reads one row's cells (column → text, as ``list_files.read_rows`` yields them) and
collects every reason the row is refused, so a clerk sees all of a row's faults at once. School
lists, carry-over lists and monthly assistance lists check their common columns here, with the
same rules and the same wording; the certno is never echoed whole.

Offices write identities and categories in Chinese as often as in English: both are accepted
(``IDENTITY_LABELS``, ``CATEGORY_LABELS``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.enrollment.domain.list_files import RowError, fold, parse_bool
from shared import certno as certnos
from shared.events import Category, Identity

IDENTITY_LABELS: dict[str, Identity] = {
    "普通": Identity.ORDINARY,
    "普通居民": Identity.ORDINARY,
    "特困": Identity.DESTITUTE,
    "特困人员": Identity.DESTITUTE,
    "孤儿": Identity.ORPHAN,
    "事实无人抚养儿童": Identity.ORPHAN,
    "低保": Identity.SUBSISTENCE,
    "低保对象": Identity.SUBSISTENCE,
    "重度残疾": Identity.SEVERE_DISABILITY,
    "重度残疾人": Identity.SEVERE_DISABILITY,
    "重残": Identity.SEVERE_DISABILITY,
    "低收入老年人": Identity.LOW_INCOME_ELDERLY,
    "低收入家庭60岁以上老年人": Identity.LOW_INCOME_ELDERLY,
    "低收入未成年人": Identity.LOW_INCOME_MINOR,
    "低收入家庭未成年人": Identity.LOW_INCOME_MINOR,
    "建档立卡": Identity.POVERTY_REGISTERED,
    "建档立卡贫困人口": Identity.POVERTY_REGISTERED,
    "脱贫享受政策人员": Identity.POVERTY_REGISTERED,
    "计划生育": Identity.FAMILY_PLANNING,
    "计划生育特殊家庭": Identity.FAMILY_PLANNING,
}
"""The Chinese names offices use for each identity (SPEC §2)."""

CATEGORY_LABELS: dict[str, Category] = {
    "幼儿": Category.PRESCHOOL,
    "托幼儿童": Category.PRESCHOOL,
    "学生": Category.STUDENT,
    "中小学生": Category.STUDENT,
    "大学生": Category.UNIVERSITY,
    "居民": Category.RESIDENT,
    "城乡居民": Category.RESIDENT,
}

_REGION = re.compile(r"^\d{6}$")


def identity_of(raw: str) -> Identity | None:
    """The identity a cell names (English value or Chinese label); ``None`` if none."""
    text = fold(raw)
    label = IDENTITY_LABELS.get(text)
    if label is not None:
        return label
    try:
        return Identity(text.lower())
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class ListedPerson:
    """What every list's valid row starts with: its row number and the person it names (certno,
    name). Each list's row adds its own columns after these."""

    row: int
    certno: str
    name: str


class RowCheck:
    """One row's cells and the reasons found so far to refuse it."""

    def __init__(self, row: int, values: dict[str, str]) -> None:
        self.row = row
        self.values = values
        self.errors: list[RowError] = []

    def refuse(self, field: str, reason: str) -> None:
        self.errors.append(RowError(self.row, field, reason))

    def cell(self, field: str) -> str:
        return self.values.get(field, "").strip()

    def certno(self) -> str:
        """The normalised certno (full-width digits folded), or "" after refusing it."""
        try:
            return certnos.parse(fold(self.cell("certno"))).value
        except certnos.InvalidCertno as exc:
            self.refuse("certno", str(exc))
            return ""

    def person(self) -> tuple[str, str]:
        """The certno and the name (at most 50 characters) every list names its person by."""
        return self.certno(), self.text("name", 50)

    def text(self, field: str, limit: int) -> str:
        """A required free-text cell (a name, an organization) of at most ``limit`` characters."""
        value = self.cell(field)
        if not value:
            self.refuse(field, f"{field} is empty")
        elif len(value) > limit:
            self.refuse(field, f"{field} is longer than {limit} characters")
        elif not value.isprintable():
            self.refuse(field, f"{field} has control characters")
        return value

    def region(self) -> str:
        value = fold(self.cell("region"))
        if not _REGION.match(value):
            self.refuse("region", "region must be a 6-digit division code")
        return value

    def category(self, *, default: Category | None = None) -> Category | None:
        """The category; an empty cell is ``default`` (refused when there is no default)."""
        text = fold(self.cell("category"))
        if not text and default is not None:
            return default
        found = CATEGORY_LABELS.get(text)
        if found is None:
            try:
                found = Category(text.lower())
            except ValueError:
                allowed = ", ".join(c.value for c in Category)
                self.refuse("category", f"category must be one of {allowed}")
        return found

    def identity(self, *, blank: Identity | None = Identity.ORDINARY) -> Identity | None:
        """The identity; an empty cell is ``blank`` (refused when ``blank`` is None)."""
        text = self.cell("identity")
        if not text and blank is not None:
            return blank
        found = identity_of(text)
        if found is None:
            allowed = ", ".join(i.value for i in Identity)
            if blank is None:
                self.refuse("identity", f"identity must be one of {allowed}")
            else:
                self.refuse("identity", f"identity must be empty or one of {allowed}")
        return found

    def flag(self, field: str) -> bool:
        """A yes/no cell (是/否, true/false, 1/0 …); an empty cell is no."""
        value = parse_bool(self.cell(field))
        if value is None:
            self.refuse(field, f"{field} must be 是/否, true/false or 1/0")
            return False
        return value
