"""A person's running totals for one insurance year (SPEC §5), as an immutable value.

It changes only by a settlement (``apply``) or its reversal (``reverse``), and a reversal takes
away exactly what its settlement added, so any order of settlements and reversals leaves the
same totals as the settlements still standing.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from services.settlement.engine.amounts import fen_text
from services.settlement.engine.claim import MedType

if TYPE_CHECKING:
    from services.settlement.engine.result import Adjudication

_ZERO = Decimal("0.00")
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
    basic_paid: Decimal = _ZERO
    general_outpatient_paid: Decimal = _ZERO
    accident_outpatient_paid: Decimal = _ZERO
    catastrophic_burden: Decimal = _ZERO
    catastrophic_paid: Decimal = _ZERO
    assistance_paid: Decimal = _ZERO

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
        after = self._plus(
            -result.stays_added,
            result.med_type,
            -result.hifp_pay,
            -result.burden_added,
            -result.hifmi_pay,
            -result.maf_pay,
        )
        if after.inpatient_stays < 0 or any(getattr(after, n) < 0 for n in AMOUNT_NAMES):
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
                values[name] = Decimal(str(value)).quantize(_ZERO)
        return cls(**values)
