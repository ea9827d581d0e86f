"""Reconciliation with a hospital (NHSA 3201 totals, 3202 lines) against our statement.

Both sides are figures of the same China-time period (``statements``). Totals agree when the
count (settlements less reversals), the medical-fee total, the fund total and the personal
account (always 0 here) are equal to the fen. Lines are matched by ``setl_id`` and whether the
line is a reversal (``refd_setl_flag``), a reversal's amounts being negative on both sides; each
line only one side has, and each line whose amounts differ, is a difference. Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from services.settlement.service_layer.statements import Line, Totals
from shared.money import ZERO

COMPARED = ("medfee_sumamt", "fund_pay_sumamt")
"""The amounts of a line both sides keep (the platform's detail file has these two)."""


@dataclass(frozen=True, slots=True)
class HospitalTotals:
    """What the hospital's books say for the period (3201 ``data``)."""

    count: int
    medfee_sumamt: Decimal
    fund_pay_sumamt: Decimal
    acct_pay: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class TotalsCheck:
    """The comparison: the figures that differ, by name, ours then theirs."""

    ours: Totals
    theirs: HospitalTotals
    differences: tuple[tuple[str, str, str], ...]

    @property
    def agrees(self) -> bool:
        return not self.differences


def check_totals(ours: Totals, theirs: HospitalTotals) -> TotalsCheck:
    """Compare the hospital's totals with ours."""
    pairs = (
        ("fixmedins_setl_cnt", str(ours.count), str(theirs.count)),
        ("medfee_sumamt", f"{ours.medfee_sumamt:.2f}", f"{theirs.medfee_sumamt:.2f}"),
        ("fund_pay_sumamt", f"{ours.fund_pay_sumamt:.2f}", f"{theirs.fund_pay_sumamt:.2f}"),
        ("acct_pay", "0.00", f"{theirs.acct_pay:.2f}"),
    )
    return TotalsCheck(ours, theirs, tuple(p for p in pairs if p[1] != p[2]))


@dataclass(frozen=True, slots=True)
class HospitalLine:
    """A settlement line of the hospital's books (3202), a reversal's amounts negative."""

    setl_id: str
    reversal: bool
    medfee_sumamt: Decimal
    fund_pay_sumamt: Decimal
    mdtrt_id: str = ""
    psn_no: str = ""


class DifferenceKind(StrEnum):
    MISSING_HERE = "missing_here"  # the hospital has it, our ledger not
    MISSING_THERE = "missing_there"  # our ledger has it, the hospital not
    AMOUNTS_DIFFER = "amounts_differ"


@dataclass(frozen=True, slots=True)
class Difference:
    """One line of 3202's answer."""

    kind: DifferenceKind
    setl_id: str
    reversal: bool
    mdtrt_id: str
    psn_no: str
    ours: dict[str, Decimal] | None
    theirs: dict[str, Decimal] | None


def check_lines(ours: Iterable[Line], theirs: Iterable[HospitalLine]) -> list[Difference]:
    """Every line one side lacks, and every line whose amounts differ, in our line order
    (then the hospital's lines we do not have, in its order)."""
    mine = {(line.setl_id, line.reversal): line for line in ours}
    their = {}
    for line in theirs:
        their[(line.setl_id, line.reversal)] = line
    differences: list[Difference] = []
    for key, line in mine.items():
        ours_amounts = {name: getattr(line.totals, name) for name in COMPARED}
        other = their.get(key)
        if other is None:
            differences.append(
                Difference(
                    DifferenceKind.MISSING_THERE, *key, line.mdtrt_id, line.psn_no,
                    ours_amounts, None,
                )
            )  # fmt: skip
            continue
        theirs_amounts = {name: getattr(other, name) for name in COMPARED}
        if theirs_amounts != ours_amounts:
            differences.append(
                Difference(
                    DifferenceKind.AMOUNTS_DIFFER, *key, line.mdtrt_id, line.psn_no,
                    ours_amounts, theirs_amounts,
                )
            )  # fmt: skip
    for key, other in their.items():
        if key not in mine:
            theirs_amounts = {name: getattr(other, name) for name in COMPARED}
            differences.append(
                Difference(
                    DifferenceKind.MISSING_HERE, *key, other.mdtrt_id, other.psn_no,
                    None, theirs_amounts,
                )
            )  # fmt: skip
    return differences
