"""The first rule of adjudication: the hospital's amounts must add up (SPEC §5)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from services.settlement.engine.errors import Rejected, RejectionCode

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_fen(amount: Decimal) -> Decimal:
    """Round half-up to 0.01 yuan: the one rounding rule of SPEC §5."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def check_amounts(
    total: Decimal, wholly_self_paid: Decimal, over_limit: Decimal, class_b_self_paid: Decimal
) -> Decimal:
    """Refuse negative amounts, fractions of a fen and a negative policy-scope amount.

    Returns the policy-scope amount P = total − the three self-paid amounts (``inscp_scp_amt``).
    """
    names = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt")
    amounts = (total, wholly_self_paid, over_limit, class_b_self_paid)
    for name, amount in zip(names, amounts, strict=True):
        if amount < 0:
            raise Rejected(RejectionCode.INVALID_AMOUNTS, f"{name} is negative: {amount}")
        exponent = amount.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -2:
            raise Rejected(RejectionCode.INVALID_AMOUNTS, f"{name} has more than two decimals")
    policy_scope = total - wholly_self_paid - over_limit - class_b_self_paid
    if policy_scope < 0:
        raise Rejected(
            RejectionCode.INVALID_AMOUNTS,
            f"the self-paid amounts exceed the total: policy-scope amount {policy_scope}",
        )
    return policy_scope.quantize(CENT)
