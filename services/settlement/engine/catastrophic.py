"""Catastrophic insurance (fund 390200), the second pass of SPEC §5.

A person's burden of an inpatient or chronic-outpatient claim is P − ``hifp_pay``; burdens add up
over the year to B. The entitlement f(B) is progressive by bands, each band at its own rate, like
income tax; a claim pays round(f(B after)) − what the year has already paid, clamped to
[0, annual cap left]. Without a binding cap, what a year pays is therefore exactly the rounded
entitlement of its burden, whatever the order or size of its claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from services.settlement.engine import receipt
from services.settlement.engine.receipt import Step
from services.settlement.engine.result import CATASTROPHIC_FUND
from shared.events import Identity
from shared.money import ZERO, quantize

if TYPE_CHECKING:
    from services.settlement.engine.accumulator import Accumulator
    from services.settlement.engine.policy import Catastrophic


@dataclass(frozen=True, slots=True)
class Schedule:
    """Bands ready for computation: (start, ratio, entitlement accrued below start)."""

    bands: tuple[tuple[Decimal, Decimal, Decimal], ...]

    @classmethod
    def of(cls, bands: list[tuple[Decimal, Decimal]]) -> Schedule:
        rows: list[tuple[Decimal, Decimal, Decimal]] = []
        accrued = Decimal(0)
        for index, (start, ratio) in enumerate(bands):
            if index:
                previous_start, previous_ratio, _ = rows[-1]
                accrued += (start - previous_start) * previous_ratio
            rows.append((start, ratio, accrued))
        return cls(tuple(rows))

    def entitlement(self, burden: Decimal) -> Decimal:
        """f(B): progressive, each band at its own rate (unrounded)."""
        for start, ratio, accrued in reversed(self.bands):
            if burden >= start:
                return accrued + (burden - start) * ratio
        return Decimal(0)

    def slices(
        self, burden: Decimal
    ) -> tuple[tuple[Decimal, Decimal | None, Decimal, Decimal], ...]:
        """Each band the burden reaches: (start, end or None for the last, ratio, what the
        band's slice is entitled to, rounded to the fen) — what the Chinese receipt lists."""
        rows = []
        starts = [start for start, _, _ in self.bands]
        for index, (start, ratio, _) in enumerate(self.bands):
            if burden <= start:
                break
            end = starts[index + 1] if index + 1 < len(starts) else None
            top = burden if end is None else min(burden, end)
            rows.append((start, end, ratio, quantize((top - start) * ratio)))
        return tuple(rows)


def second_pass(
    rules: Catastrophic,
    identity: Identity,
    accumulator: Accumulator,
    burden: Decimal,
    lines: list[Step],
) -> Decimal:
    """What catastrophic insurance pays on a claim adding ``burden`` to the year's."""
    before = accumulator.catastrophic_burden
    after = before + burden
    schedule = rules.schedule(identity)
    entitled = quantize(schedule.entitlement(after))
    already = accumulator.catastrophic_paid
    left = max(rules.annual_cap - already, ZERO)
    paid = min(max(entitled - already, ZERO), left)
    tilt = identity if identity in rules.tilt else None
    lines.append(
        (
            receipt.catastrophic,
            (
                CATASTROPHIC_FUND,
                burden,
                before,
                after,
                tilt,
                entitled,
                already,
                left,
                paid,
                schedule,
            ),
        )
    )
    return paid
