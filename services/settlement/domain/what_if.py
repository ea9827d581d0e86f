"""What-if re-adjudication (SPEC §10), the pure part: a year's settled claims run again, person
by person in settlement order from a zero accumulator, under the policy in force and under a
draft, and tallied side by side with what the ledger paid.

``Run`` takes the claims of whole persons (a worker gets a range of persons) and keeps only
sums: per claim type and hospital level, the refusals per code, the persons over the
catastrophic threshold and at each cap, and the largest changes per person. Two ``Run``s of
disjoint persons ``merge`` into the tally of both, so the work splits across processes and the
result does not depend on how it was split.

Exactness: the in-force side is the engine's own arithmetic on the claims the ledger recorded,
so where no reversal changed a person's history it equals the ledger to the fen; every claim
whose re-run differs from its ledger figures is counted (``differing``), never hidden.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from services.settlement.domain.rerun import Rerun, read_line
from services.settlement.engine import Accumulator, Coverage, Policy, Rejected, adjudicate
from shared.money import ZERO

SIDES = ("ledger", "in_force", "draft")
LARGEST = 20

InForce = Callable[[str | None, int], Policy | None]
"""The policy in force for a region and a year (``PolicyRegistry.find``)."""


class LedgerClaim(NamedTuple):
    """A settled, unreversed claim as read from the ledger (``adapters.ledger_claims``)."""

    psn_no: str
    region: str | None
    claim: str  # the adjudicate line (``domain.rerun``)
    delta: str  # the ledger's accumulator change, JSON: what the funds paid
    policy_sha256: str | None


@dataclass(slots=True)
class Tally:
    """Sums of a group of claims: their count and each amount of the waterfall."""

    claims: int = 0
    medfee_sumamt: Decimal = ZERO
    hifp_pay: Decimal = ZERO
    hifmi_pay: Decimal = ZERO
    maf_pay: Decimal = ZERO

    def add(
        self, total: Decimal, basic: Decimal, catastrophic: Decimal, assistance: Decimal
    ) -> None:
        """Count one claim."""
        self.claims += 1
        self.medfee_sumamt += total
        self.hifp_pay += basic
        self.hifmi_pay += catastrophic
        self.maf_pay += assistance

    def merge(self, other: Tally) -> None:
        """Add another tally's sums to these."""
        self.claims += other.claims
        self.medfee_sumamt += other.medfee_sumamt
        self.hifp_pay += other.hifp_pay
        self.hifmi_pay += other.hifmi_pay
        self.maf_pay += other.maf_pay

    @property
    def funds(self) -> Decimal:
        """What the three funds paid together (``fund_pay_sumamt``)."""
        return self.hifp_pay + self.hifmi_pay + self.maf_pay

    @property
    def patients(self) -> Decimal:
        """What the patients paid (``psn_part_amt``): the total less the funds."""
        return self.medfee_sumamt - self.funds


@dataclass(slots=True)
class Side:
    """One column of the report: the claims under one policy (or as the ledger paid them)."""

    cells: dict[tuple[str, int], Tally] = field(default_factory=dict)  # (med_type, level)
    refused: Counter[str] = field(default_factory=Counter)
    over_threshold: int = 0
    at_cap: Counter[str] = field(default_factory=Counter)

    def tally(self, med_type: str, level: int) -> Tally:
        """The tally of a claim type at a hospital level (made on first use)."""
        key = (med_type, level)
        found = self.cells.get(key)
        if found is None:
            found = self.cells[key] = Tally()
        return found

    def merge(self, other: Side) -> None:
        """Add another side's tallies and counts to this one's."""
        for (med_type, level), tally in other.cells.items():
            self.tally(med_type, level).merge(tally)
        self.refused.update(other.refused)
        self.over_threshold += other.over_threshold
        self.at_cap.update(other.at_cap)


class Change(NamedTuple):
    """A person whose funds would change: the year's funds under each policy."""

    size: Decimal  # |draft − in force|, what orders the list
    psn_no: str
    claims: int
    in_force: Decimal
    draft: Decimal


@dataclass(slots=True)
class Run:
    """The tally of the persons fed so far (one worker's share, or all merged)."""

    year: int
    in_force: InForce
    draft: Policy
    sides: dict[str, Side] = field(default_factory=lambda: {name: Side() for name in SIDES})
    persons: int = 0
    differing: int = 0  # claims whose in-force re-run is not the ledger's figures
    other_versions: int = 0  # claims settled under another file than the one in force now
    largest: list[Change] = field(default_factory=list)  # a min-heap of the top LARGEST
    _open: list[LedgerClaim] = field(default_factory=list)  # the person read last, maybe partly
    _hashes: dict[int, str] = field(default_factory=dict)

    def feed(self, rows: Iterable[LedgerClaim]) -> None:
        """Rows ordered by person, each person's in settlement order; a person may continue in
        the next batch, so the last one waits for it (or for ``close``)."""
        batch = self._open
        for row in rows:
            if batch and row.psn_no != batch[0].psn_no:
                self.person(batch)
                batch = []
            batch.append(row)
        self._open = batch

    def close(self) -> Run:
        """Run the last person fed; the tally is then complete."""
        if self._open:
            self.person(self._open)
            self._open = []
        return self

    def person(self, rows: list[LedgerClaim]) -> None:
        """One person's claims of the year, in settlement order, each side from zero."""
        ledger, now_side, draft_side = (self.sides[name] for name in SIDES)
        now_acc = draft_acc = Accumulator.zero()
        now_funds = draft_funds = ZERO
        policy: Policy | None = None
        rerun: Rerun | None = None
        for row in rows:
            rerun = read_line(row.claim)
            key = (rerun.claim.med_type, rerun.hospital.level)
            paid = _ledger_figures(row.delta)
            ledger.tally(*key).add(rerun.claim.medfee_sumamt, *paid)
            policy = self.in_force(row.region, self.year)
            if row.policy_sha256 is not None and policy is not None:
                self.other_versions += row.policy_sha256 != self._hash(policy)
            now_acc, now_paid = _run(policy, rerun, key, now_acc, now_side)
            draft_acc, draft_paid = _run(self.draft, rerun, key, draft_acc, draft_side)
            self.differing += now_paid != paid
            now_funds += now_paid[0] + now_paid[1] + now_paid[2]
            draft_funds += draft_paid[0] + draft_paid[1] + draft_paid[2]
        assert rerun is not None  # a person comes with at least one claim
        coverage = rerun.coverage
        if policy is not None:
            _person_counts(policy, coverage, now_acc, now_side)
        _person_counts(self.draft, coverage, draft_acc, draft_side)
        self.persons += 1
        self._note(Change(abs(draft_funds - now_funds), rows[0].psn_no, len(rows), now_funds,
                          draft_funds))  # fmt: skip

    def _hash(self, policy: Policy) -> str:
        # A policy's hash is a pydantic private attribute, slow to read a million times.
        found = self._hashes.get(id(policy))
        if found is None:
            found = self._hashes[id(policy)] = policy.sha256
        return found

    def merge(self, other: Run) -> None:
        """Add the tally of other persons (another worker's)."""
        for name in SIDES:
            self.sides[name].merge(other.sides[name])
        self.persons += other.persons
        self.differing += other.differing
        self.other_versions += other.other_versions
        for change in other.largest:
            self._note(change)

    def _note(self, change: Change) -> None:
        if not change.size:
            return
        key = (change.size, change.psn_no)
        if len(self.largest) < LARGEST:
            heapq.heappush(self.largest, change)
        elif key > (self.largest[0].size, self.largest[0].psn_no):
            heapq.heapreplace(self.largest, change)


Paid = tuple[Decimal, Decimal, Decimal]
_NOTHING: Paid = (ZERO, ZERO, ZERO)


def _ledger_figures(delta: str) -> Paid:
    """(hifp_pay, hifmi_pay, maf_pay) of a settlement, from its accumulator change."""
    d = json.loads(delta)
    basic = (
        Decimal(d["basic_paid"])
        + Decimal(d["general_outpatient_paid"])
        + Decimal(d["accident_outpatient_paid"])
    )
    return basic, Decimal(d["catastrophic_paid"]), Decimal(d["assistance_paid"])


def _run(
    policy: Policy | None, rerun: Rerun, key: tuple[str, int], acc: Accumulator, side: Side
) -> tuple[Accumulator, Paid]:
    """Adjudicate again on ``acc``; a refusal pays nothing and leaves the totals."""
    claim, hospital, coverage = rerun
    tally = side.tally(*key)
    if policy is None:
        side.refused["NO_POLICY"] += 1
        tally.add(claim.medfee_sumamt, *_NOTHING)
        return acc, _NOTHING
    try:
        result = adjudicate(policy, claim, hospital, acc, coverage)
    except Rejected as refusal:
        side.refused[refusal.code] += 1
        tally.add(claim.medfee_sumamt, *_NOTHING)
        return acc, _NOTHING
    paid = (result.hifp_pay, result.hifmi_pay, result.maf_pay)
    tally.add(claim.medfee_sumamt, *paid)
    return result.accumulator_after, paid


def _person_counts(policy: Policy, coverage: Coverage, acc: Accumulator, side: Side) -> None:
    """The person's year under ``policy``: over the catastrophic threshold, at which caps."""
    threshold = policy.catastrophic.schedule(coverage.identity).bands[0][0]
    if acc.catastrophic_burden >= threshold:
        side.over_threshold += 1
    caps = (
        ("basic", acc.basic_paid, policy.basic.annual_cap),
        ("general_outpatient", acc.general_outpatient_paid, policy.general_outpatient.annual_cap),
        (
            "accident_outpatient",
            acc.accident_outpatient_paid,
            policy.accident_outpatient.annual_cap,
        ),
        ("catastrophic", acc.catastrophic_paid, policy.catastrophic.annual_cap),
    )
    for name, used, cap in caps:
        if used and used >= cap:
            side.at_cap[name] += 1
    rule = None
    if policy.assistance is not None:
        rule = policy.assistance.rule(coverage.identity, coverage.medical_assistance)
    if rule is not None and acc.assistance_paid and acc.assistance_paid >= rule.annual_cap:
        side.at_cap["assistance"] += 1
