"""An independent, deliberately plain implementation of SPEC §5 for policy liaocheng-2024.

Written from the SPEC text alone, without reading the engine, so that the two can check each
other: every number here is a literal on purpose (the engine must take them from its policy file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

D = Decimal
CENT = D("0.01")
ZERO = D(0)


def r2(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Acc:
    stays: int = 0
    basic: Decimal = ZERO
    general: Decimal = ZERO
    accident: Decimal = ZERO
    burden: Decimal = ZERO
    cata: Decimal = ZERO


@dataclass
class Reference:
    accs: dict[tuple[str, int], Acc] = field(default_factory=dict)

    def settle(self, line: dict) -> dict:
        checked = _checked(line)
        if isinstance(checked, str):
            return {"rejected": checked}
        total, p, year = checked
        acc = self.accs.setdefault((line["psn_no"], year), Acc())
        kind = line["med_type"]
        basic = _basic(kind, line, acc, p)
        if isinstance(basic, str):
            return {"rejected": basic}
        dedc, hifp = basic
        hifmi = _post(kind, acc, p, hifp)
        fund = hifp + hifmi
        return {
            "inscp_scp_amt": r2(p),
            "act_pay_dedc": r2(dedc),
            "hifp_pay": r2(hifp),
            "hifmi_pay": r2(hifmi),
            "maf_pay": D("0.00"),
            "fund_pay_sumamt": r2(fund),
            "psn_part_amt": r2(total - fund),
        }


def _checked(line: dict) -> tuple[Decimal, Decimal, int] | str:
    """The total, the policy-scope amount and the year of the claim's start, or why refused."""
    amounts = [
        line[k] for k in ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt")
    ]
    vals = [D(str(a)) for a in amounts]
    total, own, over, pre = vals
    p = total - own - over - pre
    if any(v < 0 for v in vals) or p < 0 or any(v.as_tuple().exponent < -2 for v in vals):
        return "INVALID_AMOUNTS"
    begin = datetime.fromisoformat(line["begntime"])
    end = datetime.fromisoformat(line["endtime"])
    if end < begin:
        return "INVALID_DATES"
    return total, p, begin.year


def _basic(kind: str, line: dict, acc: Acc, p: Decimal) -> tuple[Decimal, Decimal] | str:
    """The deductible applied and the basic fund's payment, or why refused."""
    hosp = line["hospital"]
    dedc = D(0)
    if kind == "inpatient":
        level = hosp["level"]
        base = {1: D(200), 2: D(500), 3: D(900)}[level]
        ratio = {1: D("0.8"), 2: D("0.7"), 3: D("0.6")}[level]
        if level == 1 and hosp["public"]:
            base, ratio = D(100), D("0.9")
        n = acc.stays + 1
        ded = base if n == 1 else base / 2 if n == 2 else D(0)
        dedc = min(p, ded)
        hifp = min(r2((p - dedc) * ratio), D(120000) - acc.basic)
    elif kind == "chronic_outpatient":
        if not _chronic_covered((line.get("dise_codg") or "").upper()):
            return "DISEASE_NOT_COVERED"
        hifp = min(r2(p * D("0.65")), D(120000) - acc.basic)
    elif kind == "general_outpatient":
        if not hosp["primary_care"]:
            return "NOT_PRIMARY_CARE"
        hifp = min(r2(p * D("0.5")), D(200) - acc.general)
    elif kind == "accident_outpatient":
        dedc = min(p, D(100))
        hifp = min(r2((p - dedc) * D("0.9")), D(1000) - acc.accident)
    else:
        return "INVALID_REQUEST"
    return dedc, hifp


def _chronic_covered(code: str) -> bool:
    return (
        len(code) >= 3 and code[0] == "C" and code[1:3].isdigit() and int(code[1:3]) <= 97
    ) or code.startswith(("N18", "Z94", "D66", "D67", "D68.1"))


def _post(kind: str, acc: Acc, p: Decimal, hifp: Decimal) -> Decimal:
    """Post the claim to the year's accumulator; the catastrophic insurance's payment."""
    hifmi = D(0)
    if kind in ("inpatient", "chronic_outpatient"):
        burden_after = acc.burden + (p - hifp)
        ent = D(0)
        for low, high, rate in (
            (11000, 100000, "0.60"),
            (100000, 200000, "0.65"),
            (200000, 300000, "0.70"),
            (300000, None, "0.75"),
        ):
            top = burden_after if high is None else min(burden_after, D(high))
            if top > low:
                ent += (top - D(low)) * D(rate)
        hifmi = r2(ent) - acc.cata
        hifmi = max(D(0), min(hifmi, D(400000) - acc.cata))
        acc.burden = burden_after
        acc.cata += hifmi
        acc.basic += hifp
        if kind == "inpatient":
            acc.stays += 1
    elif kind == "general_outpatient":
        acc.general += hifp
    else:
        acc.accident += hifp
    return hifmi
