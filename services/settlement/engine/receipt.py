"""``setl_proc_info``: one line per step of the waterfall, fit for the patient's receipt."""

from __future__ import annotations

from decimal import Decimal


def pct(ratio: Decimal) -> str:
    """0.7 → "70%", 0.725 → "72.5%"."""
    text = f"{ratio * 100:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def policy_scope(
    total: Decimal, wholly: Decimal, over: Decimal, class_b: Decimal, p: Decimal
) -> str:
    return (
        f"Policy-scope amount: total {total:.2f} − wholly self-paid {wholly:.2f} − above price "
        f"limits {over:.2f} − class-B self-paid {class_b:.2f} = {p:.2f}"
    )


def inpatient_deductible(
    stay: int, year: int, hospital: str, base: Decimal, factor: Decimal, due: Decimal, paid: Decimal
) -> str:
    return (
        f"Inpatient stay {stay} of {year} at a {hospital} hospital: deductible {due:.2f} "
        f"({pct(factor)} of {base:.2f}), applied {paid:.2f}"
    )


def no_deductible(what: str) -> str:
    return f"{what}: no deductible"


def visit_deductible(due: Decimal, paid: Decimal) -> str:
    return f"Accident outpatient: deductible {due:.2f} per visit, applied {paid:.2f}"


def basic_fund(
    fund: str,
    base: Decimal,
    deductible: Decimal,
    ratio: Decimal,
    computed: Decimal,
    cap_name: str,
    cap: Decimal,
    left: Decimal,
    paid: Decimal,
) -> str:
    share = f"({base:.2f} − {deductible:.2f})" if deductible else f"{base:.2f}"
    return (
        f"Basic fund {fund}: {share} × {pct(ratio)} = {computed:.2f}; {cap_name} {cap:.2f}, "
        f"{left:.2f} left; pays {paid:.2f}"
    )


def catastrophic(
    fund: str,
    burden: Decimal,
    before: Decimal,
    after: Decimal,
    bands: str,
    entitled: Decimal,
    already: Decimal,
    left: Decimal,
    paid: Decimal,
) -> str:
    return (
        f"Catastrophic insurance {fund}: burden {burden:.2f}, year's burden {before:.2f} → "
        f"{after:.2f}; entitlement on {bands} bands {entitled:.2f}, already paid {already:.2f}, "
        f"{left:.2f} of the annual cap left; pays {paid:.2f}"
    )


def assistance(
    fund: str,
    who: str,
    base: Decimal,
    ratio: Decimal,
    computed: Decimal,
    cap: Decimal,
    left: Decimal,
    paid: Decimal,
) -> str:
    return (
        f"Medical assistance {fund} ({who}): remaining burden {base:.2f} × {pct(ratio)} = "
        f"{computed:.2f}; annual cap {cap:.2f}, {left:.2f} left; pays {paid:.2f}"
    )


def settlement(total: Decimal, funds: Decimal, patient: Decimal) -> str:
    return (
        f"Funds pay {funds:.2f} in all; the patient pays {total:.2f} − {funds:.2f} = {patient:.2f}"
    )
