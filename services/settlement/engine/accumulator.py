"""A person's running totals for one insurance year (SPEC §5), as an immutable value.

It changes only by a settlement (``apply``) or its reversal (``reverse``), and a reversal takes
away exactly what its settlement added, so any order of settlements and reversals leaves the
same totals as the settlements still standing. The ledger keeps each entry's change as a signed
``Accumulator`` (``delta_from``); ``plus`` sums such changes, ``minus`` takes a settlement's
change back out and refuses to leave a total below zero.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from services.settlement.engine.claim import MedType
from shared.money import CENT, ZERO, fen_text

if TYPE_CHECKING:
    from services.settlement.engine.result import Adjudication

AMOUNT_NAMES = (
    "basic_paid",
    "general_outpatient_paid",
    "accident_outpatient_paid",
    "catastrophic_burden",
    "catastrophic_paid",
    "assistance_paid",
)


class Accumulator(NamedTuple):
    """Totals of one person and year: an immutable value (a named tuple, for speed).

    ``basic_paid`` is the basic fund paid on inpatient and chronic-outpatient claims — the part
    held against their shared annual cap; general and accident outpatient payments have their own
    totals and caps. ``catastrophic_burden`` is the cumulative burden B (SPEC §5).
    """

    inpatient_stays: int = 0
    basic_paid: Decimal = ZERO
    general_outpatient_paid: Decimal = ZERO
    accident_outpatient_paid: Decimal = ZERO
    catastrophic_burden: Decimal = ZERO
    catastrophic_paid: Decimal = ZERO
    assistance_paid: Decimal = ZERO

    @classmethod
    def zero(cls) -> Accumulator:
        """The totals of a person's first claim of the year."""
        return cls()

    def apply(self, result: Adjudication) -> Accumulator:
        """The totals after posting a settlement."""
        return self._plus(
            result.stays_added,
            result.med_type,
            result.hifp_pay,
            result.burden_added,
            result.hifmi_pay,
            result.maf_pay,
        )

    def reverse(self, result: Adjudication) -> Accumulator:
        """The totals after reversing a settlement; refuses to go below zero."""
        return self.minus(Accumulator.zero().apply(result))

    def delta_from(self, before: Accumulator) -> Accumulator:
        """The signed change from ``before`` to these totals (what a ledger entry records)."""
        return _combine(operator.sub, self, before)

    def plus(self, delta: Accumulator) -> Accumulator:
        """These totals moved by a signed change, as recorded; ``verify`` sums the ledger so."""
        return _combine(operator.add, self, delta)

    def minus(self, delta: Accumulator) -> Accumulator:
        """These totals with a settlement's change taken back out; refuses to go below zero."""
        after = _combine(operator.sub, self, delta)
        if any(total < 0 for total in after):
            raise ValueError("reversal of a settlement these totals do not contain")
        return after

    def _plus(
        self,
        stays: int,
        med_type: MedType,
        basic: Decimal,
        burden: Decimal,
        catastrophic: Decimal,
        assistance: Decimal,
    ) -> Accumulator:
        # Positional and branch-light: this runs once per claim.
        basic_paid = self.basic_paid
        general = self.general_outpatient_paid
        accident = self.accident_outpatient_paid
        if med_type is MedType.GENERAL_OUTPATIENT:
            general += basic
        elif med_type is MedType.ACCIDENT_OUTPATIENT:
            accident += basic
        else:
            basic_paid += basic
        return Accumulator(  # positional: a named tuple is built fastest so
            self.inpatient_stays + stays,
            basic_paid,
            general,
            accident,
            self.catastrophic_burden + burden,
            self.catastrophic_paid + catastrophic,
            self.assistance_paid + assistance,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the stay count as an integer, amounts as two-decimal strings."""
        out: dict[str, Any] = {"inpatient_stays": self.inpatient_stays}
        for name in AMOUNT_NAMES:
            out[name] = fen_text(getattr(self, name))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Accumulator:
        """The inverse of ``to_dict`` (missing totals are zero)."""
        known = set(cls._fields)
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name not in known:
                raise ValueError(f"unknown accumulator field {name!r}")
            if name == "inpatient_stays":
                values[name] = int(value)
            else:
                values[name] = Decimal(str(value)).quantize(CENT)
        return cls(**values)


def _combine(op: Callable[[Any, Any], Any], left: Accumulator, right: Accumulator) -> Accumulator:
    # Field by field, in field order: the stay count stays an int, the amounts Decimal.
    return Accumulator(*(op(a, b) for a, b in zip(left, right, strict=True)))
