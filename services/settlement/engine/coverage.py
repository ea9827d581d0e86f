"""Eligibility: the facts of a person's coverage for the claim's year, and the checks on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.settlement.engine.errors import Rejected, RejectionCode
from shared.events import Identity


@dataclass(frozen=True, slots=True)
class Coverage:
    """What the coverage projection knows of a person for one insurance year.

    ``known`` is false when no event ever named the person; ``registered`` when they are enrolled
    for that year. Identity and the medical-assistance flag are those in force on the claim's
    date; they choose the catastrophic tilt and the assistance rule.
    """

    known: bool = True
    registered: bool = True
    premium_due: Decimal = Decimal("0.00")
    premium_paid: Decimal = Decimal("0.00")
    identity: Identity = Identity.ORDINARY
    medical_assistance: bool = False
    date_of_death: date | None = None
    settlement_deadline: date | None = None

    def check(self, insurance_year: int, admitted_on: date, settled_on: date | None) -> None:
        """Raise the first eligibility refusal of SPEC §5, in its order, or return."""
        if not self.known:
            raise Rejected(RejectionCode.UNKNOWN_PERSON, "no such insured person")
        if not self.registered:
            raise Rejected(
                RejectionCode.NOT_ENROLLED, f"not registered for insurance year {insurance_year}"
            )
        if self.premium_paid < self.premium_due:
            raise Rejected(
                RejectionCode.PREMIUM_UNPAID,
                f"premium for {insurance_year} not paid: {self.premium_paid:.2f} of "
                f"{self.premium_due:.2f}",
            )
        if self.date_of_death is not None and admitted_on > self.date_of_death:
            raise Rejected(
                RejectionCode.ADMITTED_AFTER_DEATH,
                f"admitted on {admitted_on}, after the date of death {self.date_of_death}",
            )
        if (
            settled_on is not None
            and self.settlement_deadline is not None
            and settled_on > self.settlement_deadline
        ):
            raise Rejected(
                RejectionCode.SETTLEMENT_DEADLINE_PASSED,
                f"settled on {settled_on}, after the deadline {self.settlement_deadline}",
            )
