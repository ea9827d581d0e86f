"""Premium subsidies for special persons added during the year (004 §二(二)), as pure rules.

"Added" is the date the special identity took effect: the ``effective_from`` of the identity
change, or the registration date when the person was registered with that identity. The cut-off
is 30 June of the insurance year, and "before 30 June" includes the 30th itself.

* Special persons added on or before 30 June: ``paid_on_behalf`` — the government pays the
  personal premium (a ``government`` payer line in the basic data, paid through the tax feed
  with ``payer=government``); status ``paid_by_government``, nothing to pay out.
* Added after 30 June: ``refund_after_payment`` — they pay, then get 100 % back (``payable``).
* ``severe_disability`` added after 30 June: ``refund_after_payment`` but ``pending_policy``:
  recorded, not payable (§二(二)2: "待柳州市政策明确").
* ``poverty_registered`` added on or before 30 June: ``paid_on_behalf`` but ``pending_policy``
  (§二(二)1: "新增建档立卡贫困人员…待柳州市政策明确");
  the basic data keeps them as individual payers.
* ``low_income_elderly`` (low-income, not a minor): ``low_income_60`` — 60 % of what they paid
  personally, after payment, whatever the date (§二(二)3).

``low_income_minor`` is excluded from the 60 % rule by §二(二)3 and so follows the date rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from services.enrollment.domain.state import PersonState
from shared.events import Identity, Payer
from shared.money import quantize


class SubsidyKind(StrEnum):
    PAID_ON_BEHALF = "paid_on_behalf"
    REFUND_AFTER_PAYMENT = "refund_after_payment"
    LOW_INCOME_60 = "low_income_60"


class SubsidyStatus(StrEnum):
    PAYABLE = "payable"  # the bureau owes the person this amount: on the pay-out list
    PENDING_POLICY = "pending_policy"  # recorded; the source defers it to a future policy
    PAID_BY_GOVERNMENT = "paid_by_government"  # settled through the tax feed, nothing to pay out


@dataclass(frozen=True, slots=True)
class SubsidyRule:
    """Which subsidy applies to a person for a year, before any money moved."""

    kind: SubsidyKind
    rate: Decimal
    status: SubsidyStatus


FULL = Decimal("1")
LOW_INCOME_RATE = Decimal("0.60")


def cutoff(insurance_year: int) -> date:
    """30 June of the insurance year: additions on or before it are paid on their behalf."""
    return date(insurance_year, 6, 30)


def rule_for(identity: Identity, added_on: date | None, insurance_year: int) -> SubsidyRule | None:
    """The subsidy rule for a person whose special identity was added on ``added_on``.

    ``None`` for ordinary persons, and for ``added_on`` None (a person carried over in the
    frozen year-end list: their premium follows the premium rules, not these additions).
    """
    if identity is Identity.ORDINARY or added_on is None:
        return None
    if identity is Identity.LOW_INCOME_ELDERLY:
        return SubsidyRule(SubsidyKind.LOW_INCOME_60, LOW_INCOME_RATE, SubsidyStatus.PAYABLE)
    if added_on <= cutoff(insurance_year):
        status = (
            SubsidyStatus.PENDING_POLICY
            if identity is Identity.POVERTY_REGISTERED
            else SubsidyStatus.PAID_BY_GOVERNMENT
        )
        return SubsidyRule(SubsidyKind.PAID_ON_BEHALF, FULL, status)
    status = (
        SubsidyStatus.PENDING_POLICY
        if identity is Identity.SEVERE_DISABILITY
        else SubsidyStatus.PAYABLE
    )
    return SubsidyRule(SubsidyKind.REFUND_AFTER_PAYMENT, FULL, status)


def rule_for_person(state: PersonState, insurance_year: int) -> SubsidyRule | None:
    """The rule for the identity a registered person has for a year, dated from the day that
    identity began (the start of its run in the identity timeline)."""
    record = state.years.get(insurance_year)
    if record is None or record.identity is Identity.ORDINARY:
        return None
    added_on: date | None = None
    for period in reversed(state.timeline):
        if period.identity is not record.identity:
            break
        added_on = period.effective_from
    return rule_for(record.identity, added_on, insurance_year)


def basic_data_payer(rule: SubsidyRule | None) -> Payer:
    """Who the basic data says pays the personal premium."""
    if rule is not None and rule.kind is SubsidyKind.PAID_ON_BEHALF:
        if rule.status is SubsidyStatus.PAID_BY_GOVERNMENT:
            return Payer.GOVERNMENT
    return Payer.INDIVIDUAL


@dataclass(frozen=True, slots=True)
class SubsidyDecision:
    kind: SubsidyKind
    amount: Decimal
    status: SubsidyStatus


def on_payment(rule: SubsidyRule | None, payer: Payer, amount: Decimal) -> SubsidyDecision | None:
    """The subsidy a confirmed payment gives rise to, if any.

    A government payment for a person paid on behalf is recorded as that subsidy (nothing to pay
    out). A personal (or school) payment by someone whose rule is "pay first, then be refunded"
    earns ``rate`` × the amount paid, rounded half-up to the fen.
    """
    if rule is None:
        return None
    if rule.kind is SubsidyKind.PAID_ON_BEHALF:
        if payer is not Payer.GOVERNMENT:
            return None
        return SubsidyDecision(rule.kind, quantize(amount), rule.status)
    if payer is Payer.GOVERNMENT:
        return None
    return SubsidyDecision(rule.kind, quantize(amount * rule.rate), rule.status)
