"""Application handlers of the HIS API: coverage, preview, settle, reverse, read back.

Each handler loads through the adapters, lets the pure engine decide, and has the ledger write:
the ledger runs the decision on the totals it read (``Ledger.post_settlement``) and writes the
posting in one transaction. The service never knows which database it talks to: ``bootstrap``
gives it a ledger, the coverage projection and the hospital registry.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from services.settlement import metrics
from services.settlement.adapters.coverage_store import CoverageStore
from services.settlement.adapters.hospitals import Hospital, HospitalRegistry
from services.settlement.adapters.ledger import AlreadyPosted, Entry, Ledger, now
from services.settlement.adapters.refusal_log import RefusalLog
from services.settlement.domain import projection
from services.settlement.domain.rerun import claim_line
from services.settlement.engine import (
    Accumulator,
    Adjudication,
    Claim,
    HospitalProfile,
    Policy,
    PolicyRegistry,
    Rejected,
    adjudicate,
    check_claim,
    parse_claim,
)
from services.settlement.engine.receipt import Language
from services.settlement.errors import Conflict, NotFound, Unauthenticated
from services.settlement.service_layer.answers import (
    FUNDS,
    Answer,
    already_reversed,
    already_settled,
    checked_key,
    claim_object,
    count_funds,
    dumps,
    fits,
    med_type_label,
    replay,
    request_hash,
)
from services.settlement.service_layer.coverage import coverage_answer
from shared.china_time import china_today
from shared.errors import CodedError

# How long a process trusts what it learnt of a key: a rotated or disabled key stops working
# within this time in every serving process.
KEY_CACHE_SECONDS = 1.0


class Decision(NamedTuple):
    """A claim adjudicated, with what the ledger records beside it (SPEC §10)."""

    result: Adjudication
    policy: Policy
    region: str | None
    claim_line: str  # the claim as `settlement adjudicate` takes it (``domain.rerun``)


@dataclass(frozen=True, slots=True)
class Settled:
    """A settlement decided: its ledger entry, the totals after it, the result and the body."""

    entry: Entry
    after: Accumulator
    result: Adjudication
    body: bytes


@dataclass(frozen=True, slots=True)
class Reversal:
    """A reversal decided: its ledger entry, the totals after it and the body answered."""

    entry: Entry
    after: Accumulator
    body: bytes


class SettlementService:
    """The HIS-facing application; ``today`` (China's date: ``shared.china_time``) is
    injectable for the settlement-deadline rule and the default date of a coverage question."""

    def __init__(
        self,
        ledger: Ledger,
        coverage: CoverageStore,
        hospitals: HospitalRegistry,
        policies: PolicyRegistry | Policy,
        today: Callable[[], date] = china_today,
        refusals: RefusalLog | None = None,
    ) -> None:
        self.ledger = ledger
        self.coverage_store = coverage
        self.hospitals = hospitals
        # The registry (SPEC §10); a single policy stands for a registry of one.
        if isinstance(policies, Policy):
            policies = PolicyRegistry([policies])
        self.policies = policies
        self.today = today
        self.refusals = refusals  # counted for the ops console (refusals write no ledger row)
        # key -> (hospital or None, until): spares a query per call; see KEY_CACHE_SECONDS.
        self._keys: dict[str, tuple[Hospital | None, float]] = {}

    # --- access -----------------------------------------------------------------------------

    async def authenticate(self, key: str | None) -> Hospital:
        """The active hospital whose API key this is; ``Unauthenticated`` otherwise."""
        if not key:
            raise Unauthenticated("UNAUTHENTICATED", "send Authorization: Bearer <hospital key>")
        moment = time.monotonic()
        cached = self._keys.get(key)
        if cached is not None and cached[1] > moment:
            hospital = cached[0]
        else:
            hospital = await self.hospitals.by_key(key)
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[key] = (hospital, moment + KEY_CACHE_SECONDS)
        if hospital is None:
            raise Unauthenticated("UNAUTHENTICATED", "unknown or disabled hospital key")
        return hospital

    # --- coverage (NHSA 1101 + 5206) --------------------------------------------------------

    async def coverage(
        self, *, psn_no: str | None = None, certno: str | None = None, on: date | None = None
    ) -> dict[str, Any]:
        """Eligibility on a date, identity, the year's accumulators and what is left of each cap."""
        on = on or self.today()
        if psn_no is not None:
            state = await self.coverage_store.load(psn_no)
        else:
            state = await self.coverage_store.load_by_certno((certno or "").upper())
        if state is None:
            raise NotFound("UNKNOWN_PERSON", "no such insured person")
        acc = await self.ledger.totals(state.psn_no, on.year)
        return coverage_answer(state, acc, on, self.today(), self.policies)

    # --- preview (2303) and settle (2304) ---------------------------------------------------

    async def preview(self, hospital: Hospital, body: Any, language: Language = "en") -> Answer:
        """The full result on the person's current totals; nothing is stored or locked. The
        receipt lines are in ``language``."""
        claim = parse_claim(claim_object(body))
        before, raw_state = await self.ledger.read_for_claim(claim.psn_no, claim.insurance_year)
        result = self._adjudicate(claim, hospital, raw_state, before).result
        metrics.SETTLEMENTS.labels(str(claim.med_type), "previewed").inc()
        return Answer(200, dumps(result.to_wire(None, language)))

    async def settle(
        self,
        hospital: Hospital,
        body: Any,
        idempotency_key: str | None,
        language: Language = "en",
        *,
        message: str | None = None,
    ) -> Answer:
        """Settle once: post to the accumulator and the ledger in one transaction.

        A retry with the same key and body gets the stored first answer, byte for byte (its
        receipt in the first answer's ``language``). A refusal is not stored under the key, so a
        corrected claim may be sent again with it. ``message``: the platform message id the
        settlement answers, logged with it (``Ledger.post_settlement``).
        """
        key = checked_key(idempotency_key)
        body = claim_object(body)
        digest = request_hash(body)
        started = time.perf_counter()
        med_type = med_type_label(body)
        try:
            answer = await self._settle_once(hospital, body, key, digest, language, message)
        except AlreadyPosted:
            # A concurrent request won the race for this key or this visit: answer as it did.
            answer = await self._after_conflict(hospital, body, key, digest)
        except Exception as exc:
            metrics.SETTLEMENTS.labels(med_type, getattr(exc, "code", "error")).inc()
            if self.refusals is not None and isinstance(exc, CodedError):
                await self.refusals.record(hospital.id, exc.code, now())
            raise
        metrics.ADJUDICATION_SECONDS.observe(time.perf_counter() - started)
        metrics.SETTLEMENTS.labels(med_type, "replayed" if answer.replayed else "settled").inc()
        return answer

    async def _settle_once(
        self,
        hospital: Hospital,
        body: dict[str, Any],
        key: str,
        digest: str,
        language: Language,
        message: str | None,
    ) -> Answer:
        claim = fits(parse_claim(body))
        decide = functools.partial(self._decide, hospital, claim, key, digest, language)
        try:
            settled = await self.ledger.post_settlement(
                claim.psn_no, claim.insurance_year, decide, message=message
            )
        except Rejected:
            # A retry of a settled claim is answered as first, even if it would now be refused.
            prior = await self.ledger.by_idempotency_key(hospital.id, key)
            if prior is not None:
                return replay(prior, digest)
            raise
        count_funds(settled.result)
        return Answer(201, settled.body, settled_at=settled.entry.created_at)

    def _decide(
        self,
        hospital: Hospital,
        claim: Claim,
        key: str,
        digest: str,
        language: Language,
        before: Accumulator,
        raw_state: str | None,
    ) -> Settled:
        """The pure step of a settlement: adjudicate on the totals the ledger read."""
        decision = self._adjudicate(claim, hospital, raw_state, before)
        result = decision.result
        after = result.accumulator_after
        setl_id = "S" + uuid.uuid4().hex
        body = dumps(result.to_wire(setl_id, language))
        entry = Entry(
            setl_id=setl_id,
            hospital_id=hospital.id,
            mdtrt_id=claim.mdtrt_id,
            psn_no=claim.psn_no,
            insurance_year=claim.insurance_year,
            med_type=str(claim.med_type),
            idempotency_key=key,
            request_hash=digest,
            response=body.decode(),
            delta=after.delta_from(before),
            created_at=now(),
            policy_name=decision.policy.name,
            policy_sha256=decision.policy.sha256,
            region=decision.region,
            claim=decision.claim_line,
        )
        return Settled(entry, after, result, body)

    async def _after_conflict(
        self, hospital: Hospital, body: dict[str, Any], key: str, digest: str
    ) -> Answer:
        prior = await self.ledger.by_idempotency_key(hospital.id, key)
        if prior is not None:
            return replay(prior, digest)
        mdtrt_id = str(body.get("mdtrt_id"))
        setl_id = await self.ledger.visit_settled(hospital.id, mdtrt_id)
        if setl_id is not None:
            raise already_settled(mdtrt_id, setl_id)
        raise Conflict("CONCURRENT_UPDATE", "a concurrent request changed this; retry")

    def _adjudicate(
        self, claim: Claim, hospital: Hospital, raw_state: str | None, acc: Accumulator
    ) -> Decision:
        """Adjudicate under the policy of the person's region and the claim's year (SPEC §10)."""
        state = projection.from_json(raw_state) if raw_state else None
        coverage = projection.coverage_on(state, claim.begntime.date())
        year = claim.insurance_year
        region = state.region_for(year) if state is not None else None
        today = self.today()
        policy = self.policies.find(region, year)
        if policy is None:
            check_claim(claim, coverage, today)  # an ineligible person hears that first
            policy = self.policies.resolve(region, year)  # NO_POLICY
        profile = HospitalProfile(
            level=hospital.level, public=hospital.public, primary_care=hospital.primary_care
        )
        result = adjudicate(policy, claim, profile, acc, coverage=coverage, settled_on=today)
        return Decision(result, policy, region, claim_line(claim, profile, coverage))

    # --- reverse (2305) and read back (5203) --------------------------------------------------

    async def reverse(self, hospital: Hospital, setl_id: str) -> Answer:
        """Take a settlement back out of the accumulator, once; only its own hospital may."""
        settlement = await self._own(hospital, setl_id)
        decide = functools.partial(self._reversal, hospital, settlement)
        try:
            reversal = await self.ledger.post_reversal(settlement, decide)
        except AlreadyPosted:
            raise already_reversed(setl_id) from None
        metrics.SETTLEMENTS.labels(settlement.med_type, "reversed").inc()
        original = json.loads(settlement.response)
        for fund in FUNDS:
            metrics.FUND_PAID.labels(fund, "reversal").inc(float(original[fund]))
        return Answer(200, reversal.body)

    @staticmethod
    def _reversal(hospital: Hospital, settlement: Entry, before: Accumulator) -> Reversal:
        """The pure step of a reversal: the locked totals without what the settlement added."""
        try:
            after = before.minus(settlement.delta)
        except ValueError:
            # The database's non-negative checks would refuse it anyway; say what is wrong.
            raise Conflict(
                "ACCUMULATOR_MISMATCH",
                f"the totals of {settlement.psn_no} for {settlement.insurance_year} do not "
                f"contain settlement {settlement.setl_id}",
            ) from None
        reversed_at = now()
        body = dumps(
            {
                "setl_id": settlement.setl_id,
                "status": "reversed",
                "reversed_at": reversed_at.isoformat(),
                "psn_no": settlement.psn_no,
                "insurance_year": settlement.insurance_year,
                "accumulators": after.to_dict(),
            }
        )
        entry = Entry(
            setl_id=settlement.setl_id,
            hospital_id=hospital.id,
            mdtrt_id=settlement.mdtrt_id,
            psn_no=settlement.psn_no,
            insurance_year=settlement.insurance_year,
            med_type=settlement.med_type,
            idempotency_key=None,
            request_hash=None,
            response=body.decode(),
            delta=after.delta_from(before),
            created_at=reversed_at,
        )
        return Reversal(entry, after, body)

    async def read(self, hospital: Hospital, setl_id: str) -> dict[str, Any]:
        """The settlement as answered, with its status (settled or reversed)."""
        entry = await self._own(hospital, setl_id)
        reversal = await self.ledger.reversal(setl_id)
        document: dict[str, Any] = json.loads(entry.response)
        document["status"] = "reversed" if reversal else "settled"
        document["settled_at"] = entry.created_at.isoformat()
        if reversal:
            document["reversed_at"] = reversal.created_at.isoformat()
        # SPEC §10: what it was adjudicated under (null on rows settled before migration 0004).
        document["policy"] = entry.policy_name
        document["policy_sha256"] = entry.policy_sha256
        return document

    async def _own(self, hospital: Hospital, setl_id: str) -> Entry:
        entry = await self.ledger.settlement(setl_id)
        # Another hospital's settlement is "not found": its existence is not theirs to learn.
        if entry is None or entry.hospital_id != hospital.id:
            raise NotFound("SETTLEMENT_NOT_FOUND", f"no settlement {setl_id} of this hospital")
        return entry
