"""``setl_proc_info``: one line per step of the waterfall, fit for the patient's receipt.

Amounts print as yuan with two decimals (``fen_text``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from shared.events import Identity
from shared.money import fen_text as _y

# A line not yet printed: its formatter and the numbers. Formatting Decimals is a third of the
# cost of a claim, so it happens when the receipt is read, not while the waterfall runs.
Step = tuple[Callable[..., str], tuple[Any, ...]]


def render(steps: tuple[Step, ...]) -> tuple[str, ...]:
    """The receipt lines of a waterfall's steps."""
    return tuple(line(*numbers) for line, numbers in steps)


@functools.lru_cache(maxsize=256)
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
        f"Policy-scope amount: total {_y(total)} − wholly self-paid {_y(wholly)} − above price "
        f"limits {_y(over)} − class-B self-paid {_y(class_b)} = {_y(p)}"
    )


def inpatient_deductible(
    stay: int,
    year: int,
    level: int,
    public: bool,
    base: Decimal,
    factor: Decimal,
    due: Decimal,
    paid: Decimal,
) -> str:
    hospital = f"level-{level} public" if public else f"level-{level}"
    return (
        f"Inpatient stay {stay} of {year} at a {hospital} hospital: deductible {_y(due)} "
        f"({pct(factor)} of {_y(base)}), applied {_y(paid)}"
    )


def chronic_treatment(dise_codg: str) -> str:
    return f"Chronic outpatient treatment of {dise_codg} (on the disease list): no deductible"


def primary_care_visit() -> str:
    return "General outpatient at a primary-care institution: no deductible"


def visit_deductible(due: Decimal, paid: Decimal) -> str:
    return f"Accident outpatient: deductible {_y(due)} per visit, applied {_y(paid)}"


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
    share = f"({_y(base)} − {_y(deductible)})" if deductible else f"{_y(base)}"
    return (
        f"Basic fund {fund}: {share} × {pct(ratio)} = {_y(computed)}; {cap_name} {_y(cap)}, "
        f"{_y(left)} left; pays {_y(paid)}"
    )


def catastrophic(
    fund: str,
    burden: Decimal,
    before: Decimal,
    after: Decimal,
    tilt: Identity | None,
    entitled: Decimal,
    already: Decimal,
    left: Decimal,
    paid: Decimal,
) -> str:
    bands = "the standard" if tilt is None else f"the {tilt} special-person"
    return (
        f"Catastrophic insurance {fund}: burden {_y(burden)}, year's burden {_y(before)} → "
        f"{_y(after)}; entitlement on {bands} bands {_y(entitled)}, already paid {_y(already)}, "
        f"{_y(left)} of the annual cap left; pays {_y(paid)}"
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
        f"Medical assistance {fund} ({who}): remaining burden {_y(base)} × {pct(ratio)} = "
        f"{_y(computed)}; annual cap {_y(cap)}, {_y(left)} left; pays {_y(paid)}"
    )


def settlement(total: Decimal, funds: Decimal, patient: Decimal) -> str:
    return (
        f"Funds pay {_y(funds)} in all; the patient pays {_y(total)} − {_y(funds)} = {_y(patient)}"
    )
