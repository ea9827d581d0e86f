"""A hospital's statement of a period: the one source of the reconciliation figures.

NHSA 3201/3202 (the gateway) and the ops console's hospital statements (SPEC §10) both read
their figures here, so that they agree to the fen. The rules:

* A period is a run of China-time (UTC+8) days, ``start`` to ``end`` inclusive: what a hospital's
  cashier calls "1 to 31 March".
* Each ledger entry counts in the period of its own posting time: a settlement adds its
  amounts, a reversal takes its settlement's amounts away (in the period of the reversal, so a
  statement once agreed never changes). The net figures are settlements less reversals.
* ``count`` is the settlements less the reversals; every amount is the sum of the answers' own
  two-decimal amounts, exact.

``statement(reader, hospital_id, start, end)`` is the public function; ``statements`` gives
every hospital's at once; ``summarize`` is the pure part, for tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Protocol

from services.settlement.adapters.statement_lines import AMOUNTS, LedgerLine
from shared.money import ZERO

CHINA = timedelta(hours=8)


class LineReader(Protocol):
    """Where the lines come from (``adapters.statement_lines.LedgerLines``)."""

    async def lines(
        self, hospital_id: int | None, since: datetime, until: datetime
    ) -> list[LedgerLine]: ...


@dataclass(frozen=True, slots=True)
class Totals:
    """Net figures: ``count`` of settlements less reversals, and each amount summed."""

    count: int = 0
    medfee_sumamt: Decimal = ZERO
    fund_pay_sumamt: Decimal = ZERO
    hifp_pay: Decimal = ZERO
    hifmi_pay: Decimal = ZERO
    maf_pay: Decimal = ZERO
    psn_part_amt: Decimal = ZERO

    def plus(self, other: Totals) -> Totals:
        """The two added, figure by figure."""
        return Totals(
            self.count + other.count,
            *(getattr(self, name) + getattr(other, name) for name in AMOUNTS),
        )

    def as_text(self) -> dict[str, str | int]:
        """JSON-ready: the count as an integer, amounts as two-decimal strings."""
        out: dict[str, str | int] = {"count": self.count}
        out.update({name: f"{getattr(self, name):.2f}" for name in AMOUNTS})
        return out


@dataclass(frozen=True, slots=True)
class Line:
    """One ledger entry of the period, its amounts signed (negative for a reversal)."""

    setl_id: str
    mdtrt_id: str
    psn_no: str
    med_type: str
    reversal: bool
    posted_at: datetime  # UTC
    totals: Totals  # count +1 or -1, the amounts signed

    @property
    def setl_time(self) -> datetime:
        """The posting time in China time (naive wall clock, as the HIS shows it)."""
        return (self.posted_at.astimezone(UTC) + CHINA).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class Statement:
    """A hospital's (or, with ``hospital_id`` None, every hospital's) figures of a period."""

    hospital_id: int | None
    start: date
    end: date  # inclusive
    settlements: int = 0
    reversals: int = 0
    settled: Totals = field(default_factory=Totals)  # what the period's settlements added
    reversed: Totals = field(default_factory=Totals)  # what its reversals took away (positive)
    totals: Totals = field(default_factory=Totals)  # net: settled less reversed
    by_med_type: dict[str, Totals] = field(default_factory=dict)  # net, per claim type
    lines: tuple[Line, ...] = ()

    def of_med_types(self, med_types: Iterable[str] | None) -> Totals:
        """The net figures of some claim types only (None: all of them)."""
        if med_types is None:
            return self.totals
        total = Totals()
        for med_type in med_types:
            total = total.plus(self.by_med_type.get(str(med_type), Totals()))
        return total


def period(start: date, end: date) -> tuple[datetime, datetime]:
    """China-time days ``start``..``end`` (inclusive) as a UTC range [since, until)."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    since = datetime.combine(start, time.min, tzinfo=UTC) - CHINA
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC) - CHINA
    return since, until


def month_period(year: int, month: int) -> tuple[date, date]:
    """The first and last day of a month."""
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def _line(raw: LedgerLine) -> Line:
    sign = -1 if raw.entry_type != "settlement" else 1
    amounts = (raw.amounts[name] for name in AMOUNTS)
    # ZERO - x, not -x: a zero stays "0.00", never "-0.00".
    totals = Totals(sign, *(amounts if sign > 0 else (ZERO - a for a in amounts)))
    return Line(
        raw.setl_id,
        raw.mdtrt_id,
        raw.psn_no,
        raw.med_type,
        sign < 0,
        raw.posted_at,
        totals,
    )


def summarize(
    raw_lines: Iterable[LedgerLine], hospital_id: int | None, start: date, end: date
) -> Statement:
    """The statement of a period's ledger lines (pure)."""
    lines = tuple(_line(raw) for raw in raw_lines)
    settled = reversed_ = net = Totals()
    by_med_type: dict[str, Totals] = {}
    settlements = reversals = 0
    for line in lines:
        if line.reversal:
            reversals += 1
            reversed_ = reversed_.plus(_negated(line.totals))
        else:
            settlements += 1
            settled = settled.plus(line.totals)
        net = net.plus(line.totals)
        by_med_type[line.med_type] = by_med_type.get(line.med_type, Totals()).plus(line.totals)
    return Statement(
        hospital_id, start, end, settlements, reversals, settled, reversed_, net, by_med_type, lines
    )


def _negated(totals: Totals) -> Totals:
    return Totals(-totals.count, *(ZERO - getattr(totals, name) for name in AMOUNTS))


async def statement(reader: LineReader, hospital_id: int, start: date, end: date) -> Statement:
    """A hospital's statement of China-time days ``start``..``end`` (inclusive)."""
    since, until = period(start, end)
    return summarize(await reader.lines(hospital_id, since, until), hospital_id, start, end)


async def statements(reader: LineReader, start: date, end: date) -> dict[int, Statement]:
    """Every hospital's statement of the period (hospitals with no entry are absent)."""
    since, until = period(start, end)
    by_hospital: dict[int, list[LedgerLine]] = {}
    for raw in await reader.lines(None, since, until):
        by_hospital.setdefault(raw.hospital_id, []).append(raw)
    return {
        hospital_id: summarize(raws, hospital_id, start, end)
        for hospital_id, raws in sorted(by_hospital.items())
    }
