"""What is left of each annual cap for a person, for the coverage answer (NHSA 5206)."""

from __future__ import annotations

from decimal import Decimal

from services.settlement.engine.accumulator import Accumulator
from services.settlement.engine.policy import Policy
from shared.money import ZERO


def caps_remaining(policy: Policy, accumulator: Accumulator) -> dict[str, Decimal]:
    """Each annual cap minus what the year's settlements have used of it, never below zero.

    Keys: ``basic`` (inpatient and chronic outpatient together), ``general_outpatient``,
    ``accident_outpatient``, ``catastrophic``. Medical assistance caps depend on the person's
    identity and are not listed.
    """
    return {
        "basic": max(policy.basic.annual_cap - accumulator.basic_paid, ZERO),
        "general_outpatient": max(
            policy.general_outpatient.annual_cap - accumulator.general_outpatient_paid, ZERO
        ),
        "accident_outpatient": max(
            policy.accident_outpatient.annual_cap - accumulator.accident_outpatient_paid, ZERO
        ),
        "catastrophic": max(policy.catastrophic.annual_cap - accumulator.catastrophic_paid, ZERO),
    }
