"""The answer to a claim: every amount of the waterfall, per fund, with its receipt lines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from services.settlement.engine.accumulator import Accumulator
from services.settlement.engine.claim import MedType
from services.settlement.engine.receipt import Language, Step, render
from shared.money import fen_text as _y

BASIC_FUND = "390100"  # 职工/居民基本医疗保险统筹基金 — here the resident basic fund
CATASTROPHIC_FUND = "390200"  # 居民大病保险
ASSISTANCE_FUND = "610100"  # 医疗救助


class FundPayment(NamedTuple):
    """One row of ``setldetail``: what one fund pays."""

    fund_pay_type: str
    fund_payamt: Decimal

    def to_wire(self) -> dict[str, str]:
        return {"fund_pay_type": self.fund_pay_type, "fund_payamt": _y(self.fund_payamt)}


class Adjudication(NamedTuple):
    """A claim adjudicated: SPEC §6 result fields, plus what the accumulator needs.

    Immutable; a named tuple because it is built once per claim and that is the cheapest way.

    ``stays_added`` (1 for an inpatient stay, else 0) and ``burden_added`` (the claim's
    catastrophic burden P − ``hifp_pay``, 0 outside inpatient and chronic outpatient) are what
    posting adds to the accumulator and what a reversal takes away.
    """

    psn_no: str
    mdtrt_id: str
    med_type: MedType
    insurance_year: int
    medfee_sumamt: Decimal
    fulamt_ownpay_amt: Decimal
    overlmt_selfpay: Decimal
    preselfpay_amt: Decimal
    inscp_scp_amt: Decimal
    act_pay_dedc: Decimal
    hifp_pay: Decimal
    hifmi_pay: Decimal
    maf_pay: Decimal
    fund_pay_sumamt: Decimal
    psn_part_amt: Decimal
    setldetail: tuple[FundPayment, ...]
    steps: tuple[Step, ...]
    accumulator_before: Accumulator
    stays_added: int
    burden_added: Decimal

    @property
    def setl_proc_info(self) -> tuple[str, ...]:
        """The receipt: one readable line per step of the waterfall."""
        return render(self.steps)

    @property
    def accumulator_after(self) -> Accumulator:
        """The person's totals once this settlement is posted."""
        return self.accumulator_before.apply(self)

    def to_wire(self, setl_id: str | None = None, language: Language = "en") -> dict[str, Any]:
        """The SPEC §6 result: amounts as two-decimal strings, accumulators after posting, the
        receipt lines in ``language``."""
        return {
            "setl_id": setl_id,
            "psn_no": self.psn_no,
            "mdtrt_id": self.mdtrt_id,
            "med_type": str(self.med_type),
            "insurance_year": self.insurance_year,
            "medfee_sumamt": _y(self.medfee_sumamt),
            "fulamt_ownpay_amt": _y(self.fulamt_ownpay_amt),
            "overlmt_selfpay": _y(self.overlmt_selfpay),
            "preselfpay_amt": _y(self.preselfpay_amt),
            "inscp_scp_amt": _y(self.inscp_scp_amt),
            "act_pay_dedc": _y(self.act_pay_dedc),
            "hifp_pay": _y(self.hifp_pay),
            "hifmi_pay": _y(self.hifmi_pay),
            "maf_pay": _y(self.maf_pay),
            "fund_pay_sumamt": _y(self.fund_pay_sumamt),
            "psn_part_amt": _y(self.psn_part_amt),
            "setldetail": [row.to_wire() for row in self.setldetail],
            "setl_proc_info": list(render(self.steps, language)),
            "accumulators": self.accumulator_after.to_dict(),
        }
