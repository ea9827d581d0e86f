"""The coverage answer (NHSA 1101 + 5206): eligibility on a date, identity, the year's totals,
what is left of each cap, and the policy in force (SPEC §6, §10).

One pure function of what the service knows — the person's projection, their totals, the
registry — so that the live answer and the answer as of a past instant are the same code.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.settlement.domain import projection
from services.settlement.domain.projection import CoverageState
from services.settlement.engine import Accumulator, PolicyRegistry, Rejected, caps_remaining
from services.settlement.service_layer.answers import yuan


def coverage_answer(
    state: CoverageState,
    acc: Accumulator,
    on: date,
    today: date,
    policies: PolicyRegistry,
) -> dict[str, Any]:
    """The answer for ``on`` as the service gives it on ``today`` (the settlement deadline)."""
    cover = projection.coverage_on(state, on)
    region = state.region_for(on.year)
    policy = policies.find(region, on.year)
    answer: dict[str, Any] = {"psn_no": state.psn_no, "date": on.isoformat()}
    try:
        cover.check(on.year, on, today)
        if policy is None:
            policies.resolve(region, on.year)  # NO_POLICY, after the person's own refusals
        answer["eligible"] = True
    except Rejected as refusal:  # the first rule that fails
        answer.update(eligible=False, code=refusal.code, message=refusal.message)
    answer.update(
        insurance_year=on.year,
        identity=str(cover.identity),
        medical_assistance=cover.medical_assistance,
        registered=cover.registered,
        premium_due=f"{cover.premium_due:.2f}",
        premium_paid=f"{cover.premium_paid:.2f}",
        date_of_death=cover.date_of_death.isoformat() if cover.date_of_death else None,
        settlement_deadline=(
            cover.settlement_deadline.isoformat() if cover.settlement_deadline else None
        ),
        accumulators=acc.to_dict(),
        # No policy, no caps: an empty object, so a reader iterating over the caps still can.
        caps_remaining={} if policy is None else yuan(caps_remaining(policy, acc)),
        # Added by SPEC §10 (after every field of before): the policy the year is settled under.
        policy=None if policy is None else policy.name,
        policy_sha256=None if policy is None else policy.sha256,
    )
    return answer
