"""Premium rules (SPEC §4): what a person owes personally for a year. Pure; rules are data.

A rules file per region and year (``premiums/<region>-<year>.toml``, falling back to
``premiums/default-<year>.toml``) is parsed by ``parse_rules``; ``premium_files.py`` finds it.
Besides the amounts it may carry the year's calendar (``[calendar]``: the registration window
and the collection months, ``calendar.py``) and the carry-over list's identity priority
(``[carry_over] identity_priority``: which identity wins when two departments list one person
differently, ``carry_over.py``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from services.enrollment.domain.calendar import RulesCalendar, parse_calendar
from shared.errors import CodedError
from shared.events import Category, Identity
from shared.money import ZERO, parse_amount, quantize


class PremiumRulesError(CodedError, ValueError):
    """A rules file is malformed (missing category, bad amount, unknown identity)."""

    def __init__(self, message: str) -> None:
        super().__init__("INVALID_PREMIUM_RULES", message)


@dataclass(frozen=True, slots=True)
class PremiumRules:
    """The personal premium per category for one region and year, and who owes nothing."""

    region: str
    insurance_year: int
    by_category: Mapping[Category, Decimal]
    exempt_identities: frozenset[Identity]
    calendar: RulesCalendar | None = None
    identity_priority: tuple[Identity, ...] = ()


def premium_due(rules: PremiumRules, category: Category, identity: Identity) -> Decimal:
    """What a person of this category and identity owes personally for the rules' year."""
    if identity in rules.exempt_identities:
        return ZERO
    return quantize(rules.by_category[category])


def parse_rules(text: str) -> PremiumRules:
    """Parse and validate a rules file (TOML); every category must have an amount."""
    try:
        data = tomllib.loads(text)
        amounts = data["premium"]
        by_category = {Category(k): parse_amount(v) for k, v in amounts.items()}
        exempt = frozenset(Identity(i) for i in data.get("exempt_identities", []))
        year = int(data["insurance_year"])
        priority = data.get("carry_over", {}).get("identity_priority", [])
        rules = PremiumRules(
            region=str(data["region"]),
            insurance_year=year,
            by_category=by_category,
            exempt_identities=exempt,
            calendar=parse_calendar(data.get("calendar"), year),
            identity_priority=tuple(Identity(i) for i in priority),
        )
    except (KeyError, ValueError, TypeError, tomllib.TOMLDecodeError) as exc:
        raise PremiumRulesError(f"invalid premium rules: {exc}") from exc
    missing = [c.value for c in Category if c not in by_category]
    if missing:
        raise PremiumRulesError(f"invalid premium rules: no amount for {', '.join(missing)}")
    if any(amount < 0 for amount in by_category.values()):
        raise PremiumRulesError("invalid premium rules: negative amount")
    return rules
