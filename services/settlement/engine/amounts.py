"""The first rule of adjudication: the hospital's amounts must add up (SPEC §5)."""

from __future__ import annotations

from decimal import Decimal

from services.settlement.engine.errors import Rejected, RejectionCode


def check_amounts(
    total: Decimal, wholly_self_paid: Decimal, over_limit: Decimal, class_b_self_paid: Decimal
) -> Decimal:
    """Refuse negative amounts and a negative policy-scope amount.

    Returns the policy-scope amount P = total − the three self-paid amounts (``inscp_scp_amt``).
    The amounts are a ``Claim``'s: exact, with two decimals (the claim's parsing refuses more).
    """
    if total < 0 or wholly_self_paid < 0 or over_limit < 0 or class_b_self_paid < 0:
        names = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt")
        amounts = (total, wholly_self_paid, over_limit, class_b_self_paid)
        name, amount = next((n, a) for n, a in zip(names, amounts, strict=True) if a < 0)
        raise Rejected(RejectionCode.INVALID_AMOUNTS, f"{name} is negative: {amount}")
    policy_scope = total - wholly_self_paid - over_limit - class_b_self_paid
    if policy_scope < 0:
        raise Rejected(
            RejectionCode.INVALID_AMOUNTS,
            f"the self-paid amounts exceed the total: policy-scope amount {policy_scope}",
        )
    return policy_scope
