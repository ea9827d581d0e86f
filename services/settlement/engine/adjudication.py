"""``adjudicate``: a claim in, the SPEC §5 waterfall out — basic fund, catastrophic insurance,
medical assistance, then the patient's share. Pure: no clock, no I/O.

Decisions where SPEC is silent:

* A claim settles under whatever policy it is given; choosing the policy of the claim's
  insurance year is the caller's job.
* A stay counts from its settlement even when its policy-scope amount is zero.
* Medical assistance is computed on what the person still bears within policy scope after the
  basic fund and catastrophic insurance (P − ``hifp_pay`` − ``hifmi_pay``), never on the three
  self-paid amounts; by default it applies to inpatient and chronic-outpatient claims.
* ``setldetail`` lists the funds of the claim's waterfall, paid or not: the basic fund always,
  catastrophic insurance for inpatient and chronic outpatient claims, medical assistance when
  the policy has a rule for the person and the claim type.
* ``settled_on=None`` skips the settlement-deadline check (the engine reads no clock).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.settlement.engine import receipt
from services.settlement.engine.accumulator import Accumulator
from services.settlement.engine.amounts import check_amounts
from services.settlement.engine.catastrophic import second_pass
from services.settlement.engine.claim import Claim, HospitalProfile, MedType
from services.settlement.engine.coverage import Coverage
from services.settlement.engine.errors import Rejected, RejectionCode
from services.settlement.engine.policy import AssistanceRule, Policy
from services.settlement.engine.receipt import Step
from services.settlement.engine.result import (
    ASSISTANCE_FUND,
    BASIC_FUND,
    CATASTROPHIC_FUND,
    Adjudication,
    FundPayment,
)
from shared.events import Identity
from shared.money import ZERO, quantize

_SECOND_PASS = (MedType.INPATIENT, MedType.CHRONIC_OUTPATIENT)
_ANYONE = Coverage()


def adjudicate(
    policy: Policy,
    claim: Claim,
    hospital: HospitalProfile,
    accumulator: Accumulator,
    coverage: Coverage | None = None,
    settled_on: date | None = None,
) -> Adjudication:
    """Adjudicate one claim against the person's totals for the claim's insurance year.

    Checks run in the SPEC §5 order — amounts, dates, eligibility (skipped when ``coverage`` is
    None), the claim type's own conditions — and the first failure raises ``Rejected``.
    """
    policy_scope = check_claim(claim, coverage, settled_on)
    if coverage is None:
        coverage = _ANYONE
    total = claim.medfee_sumamt
    # Receipt lines are kept as steps (a formatter and its numbers) and printed when read.
    lines: list[Step] = [
        (
            receipt.policy_scope,
            (total, claim.fulamt_ownpay_amt, claim.overlmt_selfpay, claim.preselfpay_amt,
             policy_scope),
        )
    ]  # fmt: skip
    med_type = claim.med_type
    deductible, basic = _first_pass(policy, claim, hospital, accumulator, policy_scope, lines)
    details = [FundPayment(BASIC_FUND, basic)]
    burden, catastrophic, assistance = _later_passes(
        policy, med_type, coverage, accumulator, policy_scope, basic, lines, details
    )
    funds = basic + catastrophic + assistance
    patient = total - funds
    lines.append((receipt.settlement, (total, funds, patient)))
    return Adjudication(
        psn_no=claim.psn_no,
        mdtrt_id=claim.mdtrt_id,
        med_type=med_type,
        insurance_year=claim.begntime.year,
        medfee_sumamt=total,
        fulamt_ownpay_amt=claim.fulamt_ownpay_amt,
        overlmt_selfpay=claim.overlmt_selfpay,
        preselfpay_amt=claim.preselfpay_amt,
        inscp_scp_amt=policy_scope,
        act_pay_dedc=deductible,
        hifp_pay=basic,
        hifmi_pay=catastrophic,
        maf_pay=assistance,
        fund_pay_sumamt=funds,
        psn_part_amt=patient,
        setldetail=tuple(details),
        steps=tuple(lines),
        accumulator_before=accumulator,
        stays_added=1 if med_type is MedType.INPATIENT else 0,
        burden_added=burden,
    )


def check_claim(claim: Claim, coverage: Coverage | None, settled_on: date | None) -> Decimal:
    """The rules before any policy's own, in order: amounts, dates, eligibility (skipped when
    ``coverage`` is None). Raises the first ``Rejected``; returns the policy-scope amount P."""
    policy_scope = check_amounts(
        claim.medfee_sumamt, claim.fulamt_ownpay_amt, claim.overlmt_selfpay, claim.preselfpay_amt
    )
    if claim.endtime < claim.begntime:
        raise Rejected(
            RejectionCode.INVALID_DATES,
            f"endtime {claim.endtime.isoformat()} is before begntime {claim.begntime.isoformat()}",
        )
    if coverage is not None:
        coverage.check(claim.begntime.year, claim.begntime.date(), settled_on)
    return policy_scope


def _first_pass(
    policy: Policy,
    claim: Claim,
    hospital: HospitalProfile,
    accumulator: Accumulator,
    policy_scope: Decimal,
    lines: list[Step],
) -> tuple[Decimal, Decimal]:
    """The basic fund's pass for the claim's type: (deductible, hifp_pay)."""
    med_type = claim.med_type
    if med_type is MedType.INPATIENT:
        year = claim.begntime.year
        return _inpatient(policy, hospital, accumulator, policy_scope, year, lines)
    if med_type is MedType.CHRONIC_OUTPATIENT:
        return _chronic(policy, claim, accumulator, policy_scope, lines)
    if med_type is MedType.GENERAL_OUTPATIENT:
        return _general(policy, hospital, accumulator, policy_scope, lines)
    return _accident(policy, accumulator, policy_scope, lines)


def _later_passes(
    policy: Policy,
    med_type: MedType,
    coverage: Coverage,
    accumulator: Accumulator,
    policy_scope: Decimal,
    basic: Decimal,
    lines: list[Step],
    details: list[FundPayment],
) -> tuple[Decimal, Decimal, Decimal]:
    """Catastrophic insurance and medical assistance after the basic fund: (the burden B the
    claim adds, hifmi_pay, maf_pay); each fund of the waterfall goes into ``details``."""
    burden = catastrophic = assistance = ZERO
    if med_type in _SECOND_PASS:
        burden = policy_scope - basic
        catastrophic = second_pass(
            policy.catastrophic, coverage.identity, accumulator, burden, lines
        )
        details.append(FundPayment(CATASTROPHIC_FUND, catastrophic))
    if policy.assistance is not None and med_type in policy.assistance.applies_to:
        rule = policy.assistance.rule(coverage.identity, coverage.medical_assistance)
        if rule is not None:
            base = max(policy_scope - basic - catastrophic, ZERO)
            assistance = _third_pass(rule, coverage, accumulator, base, lines)
            details.append(FundPayment(ASSISTANCE_FUND, assistance))
    return burden, catastrophic, assistance


def _third_pass(
    rule: AssistanceRule,
    coverage: Coverage,
    accumulator: Accumulator,
    base: Decimal,
    lines: list[Step],
) -> Decimal:
    """Medical assistance on what the person still bears in policy scope, within its cap."""
    computed = quantize(base * rule.ratio)
    left = max(rule.annual_cap - accumulator.assistance_paid, ZERO)
    assistance = min(computed, left)
    who = _who(coverage.identity, coverage.medical_assistance)
    lines.append(
        (
            receipt.assistance,
            (ASSISTANCE_FUND, who, base, rule.ratio, computed, rule.annual_cap, left, assistance),
        )
    )
    return assistance


def _inpatient(
    policy: Policy,
    hospital: HospitalProfile,
    accumulator: Accumulator,
    policy_scope: Decimal,
    year: int,
    lines: list[Step],
) -> tuple[Decimal, Decimal]:
    rules = policy.inpatient
    terms = rules.terms(hospital.level, hospital.public)
    stay = accumulator.inpatient_stays + 1
    factor = rules.deductible_factor(stay)
    due = quantize(terms.deductible * factor)
    deductible = min(policy_scope, due)
    lines.append(
        (
            receipt.inpatient_deductible,
            (
                stay,
                year,
                hospital.level,
                hospital.public,
                terms.deductible,
                factor,
                due,
                deductible,
            ),
        )
    )
    return deductible, _shared_cap(
        policy, accumulator, policy_scope, deductible, terms.ratio, lines
    )


def _chronic(
    policy: Policy,
    claim: Claim,
    accumulator: Accumulator,
    policy_scope: Decimal,
    lines: list[Step],
) -> tuple[Decimal, Decimal]:
    rules = policy.chronic_outpatient
    if not rules.covers(claim.dise_codg):
        raise Rejected(
            RejectionCode.DISEASE_NOT_COVERED,
            f"diagnosis {claim.dise_codg or '(none)'} is not on the chronic-disease list",
        )
    lines.append((receipt.chronic_treatment, (claim.dise_codg,)))
    return ZERO, _shared_cap(policy, accumulator, policy_scope, ZERO, rules.ratio, lines)


def _general(
    policy: Policy,
    hospital: HospitalProfile,
    accumulator: Accumulator,
    policy_scope: Decimal,
    lines: list[Step],
) -> tuple[Decimal, Decimal]:
    rules = policy.general_outpatient
    if rules.primary_care_only and not hospital.primary_care:
        raise Rejected(
            RejectionCode.NOT_PRIMARY_CARE,
            "general outpatient care is covered only at primary-care institutions",
        )
    lines.append((receipt.primary_care_visit, ()))
    return ZERO, _capped(
        policy_scope, ZERO, rules.ratio, "general outpatient annual cap", rules.annual_cap,
        rules.annual_cap - accumulator.general_outpatient_paid, lines,
    )  # fmt: skip


def _accident(
    policy: Policy, accumulator: Accumulator, policy_scope: Decimal, lines: list[Step]
) -> tuple[Decimal, Decimal]:
    rules = policy.accident_outpatient
    deductible = min(policy_scope, rules.deductible_per_visit)
    lines.append((receipt.visit_deductible, (rules.deductible_per_visit, deductible)))
    return deductible, _capped(
        policy_scope, deductible, rules.ratio, "accident outpatient annual cap", rules.annual_cap,
        rules.annual_cap - accumulator.accident_outpatient_paid, lines,
    )  # fmt: skip


def _shared_cap(
    policy: Policy,
    accumulator: Accumulator,
    policy_scope: Decimal,
    deductible: Decimal,
    ratio: Decimal,
    lines: list[Step],
) -> Decimal:
    """The basic fund's share under the cap inpatient and chronic outpatient care share."""
    cap = policy.basic.annual_cap
    return _capped(
        policy_scope, deductible, ratio, "shared annual cap", cap,
        cap - accumulator.basic_paid, lines,
    )  # fmt: skip


def _capped(
    policy_scope: Decimal,
    deductible: Decimal,
    ratio: Decimal,
    cap_name: str,
    cap: Decimal,
    left: Decimal,
    lines: list[Step],
) -> Decimal:
    """The basic fund's share, rounded to the fen, then held to what is left of its cap."""
    computed = quantize((policy_scope - deductible) * ratio)
    left = max(left, ZERO)
    paid = min(computed, left)
    lines.append(
        (
            receipt.basic_fund,
            (BASIC_FUND, policy_scope, deductible, ratio, computed, cap_name, cap, left, paid),
        )
    )
    return paid


def _who(identity: Identity, medical_assistance: bool) -> str:
    if identity is Identity.ORDINARY and medical_assistance:
        return "medical-assistance recipient"
    return str(identity)
