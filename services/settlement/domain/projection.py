"""The coverage projection: a pure fold of a person's enrollment events (SPEC §3, §5 eligibility).

Settlement never recomputes premium rules; it learns from the events what a person owes per
year, what was paid (net of refunds), the identity timeline and death. ``fold`` is called once per
event, in stream order; the consumer guarantees the order and that each event is folded once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.settlement.engine.coverage import Coverage
from shared.events import (
    DeceasedStop,
    Event,
    Identity,
    IdentityChanged,
    PremiumDueChanged,
    PremiumPaid,
    PremiumRefunded,
    Registered,
)
from shared.money import ZERO, Money


class YearCover(BaseModel):
    """One insurance year: registration, what is owed, and payments and refunds by tax serial."""

    model_config = ConfigDict(frozen=True)

    registered: bool = False
    # The administrative division the person is registered in for the year: it chooses the
    # year's policy (SPEC §10). None in states folded before settlement kept it.
    region: str | None = None
    premium_due: Money = ZERO
    payments: dict[str, Money] = {}
    refunds: dict[str, Money] = {}

    @property
    def premium_paid(self) -> Decimal:
        """Confirmed payments net of refunds."""
        return sum(self.payments.values(), ZERO) - sum(self.refunds.values(), ZERO)

    @property
    def paid_up(self) -> bool:
        return self.registered and self.premium_paid >= self.premium_due


class IdentitySpell(BaseModel):
    """An identity in force from ``effective_from`` until the next spell."""

    model_config = ConfigDict(frozen=True)

    effective_from: date
    stream_version: int
    identity: str
    medical_assistance: bool


class Death(BaseModel):
    model_config = ConfigDict(frozen=True)

    date_of_death: date
    settlement_deadline: date


class CoverageState(BaseModel):
    """Everything settlement knows about one person, folded from their stream."""

    model_config = ConfigDict(frozen=True)

    psn_no: str
    certno: str | None = None
    # Of the latest registration: the NHSA gateway's person query (1101) answers with them.
    name: str | None = None
    category: str | None = None
    version: int = 0
    years: dict[int, YearCover] = {}
    identities: tuple[IdentitySpell, ...] = ()
    death: Death | None = None

    @property
    def region(self) -> str | None:
        """The region of the person's latest registration (None: not known)."""
        latest = max(
            (year for year, cover in self.years.items() if cover.region is not None),
            default=None,
        )
        return None if latest is None else self.years[latest].region

    def region_for(self, year: int) -> str | None:
        """The region whose policy applies in ``year``: that year's registration's, else the
        latest known (a claim of a year not registered is refused before any policy anyway)."""
        cover = self.years.get(year)
        if cover is not None and cover.region is not None:
            return cover.region
        return self.region

    def identity_on(self, on: date) -> IdentitySpell | None:
        """The spell in force on a date; before the first spell, the first one."""
        current = self.identities[0] if self.identities else None
        for spell in self.identities:
            if spell.effective_from <= on:
                current = spell
        return current


def _with_year(state: CoverageState, year: int, cover: YearCover) -> dict[int, YearCover]:
    return {**state.years, year: cover}


def _spells(state: CoverageState, spell: IdentitySpell) -> tuple[IdentitySpell, ...]:
    return tuple(
        sorted((*state.identities, spell), key=lambda s: (s.effective_from, s.stream_version))
    )


def _spell(event: Event, p: Registered | IdentityChanged, effective_from: date) -> IdentitySpell:
    return IdentitySpell(
        effective_from=effective_from,
        stream_version=event.stream_version,
        identity=str(p.identity),
        medical_assistance=p.medical_assistance,
    )


def _year(
    state: CoverageState, year: int, update: Callable[[YearCover], dict[str, Any]]
) -> dict[int, YearCover]:
    """The years with ``year``'s cover updated by what ``update`` answers for it."""
    cover = state.years.get(year, YearCover())
    return _with_year(state, year, cover.model_copy(update=update(cover)))


def _registered(state: CoverageState, event: Event, p: Registered) -> dict[str, object]:
    changes: dict[str, object] = {
        "certno": p.certno,
        "name": p.name,
        "category": str(p.category),
        "years": _year(
            state,
            p.insurance_year,
            lambda _: {"registered": True, "region": p.region, "premium_due": p.premium_due},
        ),
    }
    # A registration that keeps the identity in force adds no spell: a spell dated the day
    # of a later year's registration would override a change recorded after it but
    # effective earlier that month (a registration never resets an identity, SPEC §7).
    day = event.occurred_at.date()
    held = state.identity_on(day) if state.identities else None
    if held is None or (held.identity, held.medical_assistance) != (
        str(p.identity),
        p.medical_assistance,
    ):
        changes["identities"] = _spells(state, _spell(event, p, day))
    return changes


def fold(state: CoverageState | None, event: Event) -> CoverageState:
    """Apply one event to a person's state (``None`` before their first event)."""
    if state is None:
        state = CoverageState(psn_no=event.psn_no)
    p = event.payload
    changes: dict[str, object] = {"version": event.stream_version}
    if isinstance(p, Registered):
        changes |= _registered(state, event, p)
    elif isinstance(p, IdentityChanged):
        changes["identities"] = _spells(state, _spell(event, p, p.effective_from))
    elif isinstance(p, PremiumPaid):
        # Keyed by tax serial: a payment confirmed twice still counts once.
        changes["years"] = _year(
            state,
            p.insurance_year,
            lambda cover: {"payments": {**cover.payments, p.tax_serial: p.amount}},
        )
    elif isinstance(p, PremiumRefunded):
        changes["years"] = _year(
            state,
            p.insurance_year,
            lambda cover: {"refunds": {**cover.refunds, p.tax_serial: p.amount}},
        )
    elif isinstance(p, PremiumDueChanged):
        changes["years"] = _year(state, p.insurance_year, lambda _: {"premium_due": p.premium_due})
    elif isinstance(p, DeceasedStop):
        # The last deceased-stop wins: an extension or an early final stop.
        changes["death"] = Death(
            date_of_death=p.date_of_death, settlement_deadline=p.settlement_deadline
        )
    # SubsidyGranted and future informational events change nothing settlement relies on.
    return state.model_copy(update=changes)


def fold_all(events: list[Event]) -> CoverageState | None:
    """Fold a whole stream (ordered by stream_version)."""
    state: CoverageState | None = None
    for event in sorted(events, key=lambda e: e.stream_version):
        state = fold(state, event)
    return state


def to_json(state: CoverageState) -> str:
    return state.model_dump_json()


def from_json(raw: str) -> CoverageState:
    return CoverageState.model_validate_json(raw)


# --- what the projection says on a date ------------------------------------------------------


def coverage_on(state: CoverageState | None, on: date) -> Coverage:
    """The engine's coverage facts for the insurance year of ``on`` (admission or visit day)."""
    if state is None:
        return Coverage(known=False, registered=False)
    cover = state.years.get(on.year, YearCover())
    spell = state.identity_on(on)
    return Coverage(
        known=True,
        registered=cover.registered,
        premium_due=cover.premium_due,
        premium_paid=cover.premium_paid,
        identity=Identity(spell.identity) if spell else Identity.ORDINARY,
        medical_assistance=spell.medical_assistance if spell else False,
        date_of_death=state.death.date_of_death if state.death else None,
        settlement_deadline=state.death.settlement_deadline if state.death else None,
    )
