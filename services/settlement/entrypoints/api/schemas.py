"""What the HIS API answers, as OpenAPI schemas (SPEC §6).

The bodies themselves are written by the service layer (bytes stored and replayed as they were
first answered), so these models only document them; the fuzz tests check every answer against
them. Amounts are JSON strings with two decimals.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Yuan = Annotated[str, Field(pattern=r"^-?\d+\.\d{2}$", examples=["10560.00"])]


class AccumulatorsPublic(BaseModel):
    """A person's totals for the insurance year (SPEC §5), after the call."""

    model_config = ConfigDict(extra="allow")

    inpatient_stays: int
    basic_paid: Yuan
    general_outpatient_paid: Yuan
    accident_outpatient_paid: Yuan
    catastrophic_burden: Yuan
    catastrophic_paid: Yuan
    assistance_paid: Yuan


class CapsRemainingPublic(BaseModel):
    """What is left of each annual cap."""

    model_config = ConfigDict(extra="allow")

    basic: Yuan
    general_outpatient: Yuan
    accident_outpatient: Yuan
    catastrophic: Yuan


class CoveragePublic(BaseModel):
    """Eligibility on a date, identity, the year's accumulators and caps left (1101 + 5206)."""

    model_config = ConfigDict(extra="allow")

    psn_no: str
    date: str = Field(description="The date asked about (default: today in China).")
    eligible: bool
    code: str | None = Field(None, description="When not eligible: the refusal's code.")
    message: str | None = Field(None, description="When not eligible: why.")
    insurance_year: int
    identity: str
    medical_assistance: bool
    registered: bool
    premium_due: Yuan
    premium_paid: Yuan
    date_of_death: str | None
    settlement_deadline: str | None
    accumulators: AccumulatorsPublic
    caps_remaining: CapsRemainingPublic | dict[str, Yuan] = Field(
        description="Empty ({}) when no policy is in force for the person's region and the year."
    )
    policy: str | None = Field(description="The policy in force for the year (SPEC §10).")
    policy_sha256: str | None = Field(description="The SHA-256 of that policy's file.")
    as_of: str | None = Field(
        None, description="Asked with ``as_of``: the instant answered for (UTC, ISO 8601)."
    )


class FundPaymentPublic(BaseModel):
    """One fund's share of a settlement."""

    model_config = ConfigDict(extra="allow")

    fund_pay_type: str = Field(examples=["390100"])
    fund_payamt: Yuan


class SettlementPublic(BaseModel):
    """The full result of a claim (2303 preview: ``setl_id`` null; 2304 settle)."""

    model_config = ConfigDict(extra="allow")

    setl_id: str | None
    psn_no: str
    mdtrt_id: str
    med_type: str
    insurance_year: int
    medfee_sumamt: Yuan
    fulamt_ownpay_amt: Yuan
    overlmt_selfpay: Yuan
    preselfpay_amt: Yuan
    inscp_scp_amt: Yuan
    act_pay_dedc: Yuan
    hifp_pay: Yuan
    hifmi_pay: Yuan
    maf_pay: Yuan
    fund_pay_sumamt: Yuan
    psn_part_amt: Yuan
    setldetail: list[FundPaymentPublic]
    setl_proc_info: list[str] = Field(description="A readable line per step of the waterfall.")
    accumulators: AccumulatorsPublic


class SettlementReadPublic(SettlementPublic):
    """A settlement read back (5203): as answered, with its status."""

    status: Literal["settled", "reversed"]
    settled_at: str
    reversed_at: str | None = None
    policy: str | None = Field(
        None, description="The policy it was settled under (null if settled before it was kept)."
    )
    policy_sha256: str | None = Field(None, description="The SHA-256 of that policy's file.")


class ReversalPublic(BaseModel):
    """A reversal (2305): the totals without what the settlement added."""

    model_config = ConfigDict(extra="allow")

    setl_id: str
    status: Literal["reversed"]
    reversed_at: str
    psn_no: str
    insurance_year: int
    accumulators: AccumulatorsPublic
