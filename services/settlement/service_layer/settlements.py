"""Application handlers of the HIS API: coverage, preview, settle, reverse, read back.

Each handler is one database transaction; only this module commits. Adjudication itself is the
pure engine; this module feeds it the person's coverage (projection) and locked totals (ledger)
and records the result.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from services.settlement import metrics
from services.settlement.adapters import coverage_store, hospitals, ledger
from services.settlement.adapters.hospitals import Hospital
from services.settlement.domain import projection
from services.settlement.engine import (
    Accumulator,
    Adjudication,
    Claim,
    HospitalProfile,
    MedType,
    Policy,
    Rejected,
    adjudicate,
    caps_remaining,
    parse_claim,
)
from services.settlement.errors import Conflict, InvalidRequest, NotFound, Unauthenticated

FUNDS = ("hifp_pay", "hifmi_pay", "maf_pay")
MED_TYPES = frozenset(str(t) for t in MedType)
# How long a process trusts what it learnt of a key: a rotated or disabled key stops working
# within this time in every serving process.
KEY_CACHE_SECONDS = 1.0
MAX_KEY_LENGTH = 255  # the ledger's idempotency_key column


def utc_today() -> date:
    return datetime.now(UTC).date()


def request_hash(body: dict[str, Any]) -> str:
    """The same claim gives the same hash, whatever the key order or whitespace it came in."""
    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _amounts(values: dict[str, Any]) -> dict[str, Any]:
    return {k: f"{v:.2f}" if not isinstance(v, int | str) else v for k, v in values.items()}


@dataclass(frozen=True, slots=True)
class Answer:
    """A response body as bytes (stored and replayed as is) and its HTTP status."""

    status: int
    body: bytes
    replayed: bool = False


class SettlementService:
    """The HIS-facing application; ``today`` is injectable for the settlement-deadline rule."""

    def __init__(
        self, engine: AsyncEngine, policy: Policy, today: Callable[[], date] = utc_today
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.today = today
        # key -> (hospital or None, until): spares a query per call; see KEY_CACHE_SECONDS.
        self._keys: dict[str, tuple[Hospital | None, float]] = {}

    # --- access -----------------------------------------------------------------------------

    async def authenticate(self, key: str | None) -> Hospital:
        if not key:
            raise Unauthenticated("UNAUTHENTICATED", "send Authorization: Bearer <hospital key>")
        now = time.monotonic()
        cached = self._keys.get(key)
        if cached is not None and cached[1] > now:
            hospital = cached[0]
        else:
            async with self.engine.connect() as conn:
                hospital = await hospitals.by_key(conn, key)
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[key] = (hospital, now + KEY_CACHE_SECONDS)
        if hospital is None:
            raise Unauthenticated("UNAUTHENTICATED", "unknown or disabled hospital key")
        return hospital

    # --- coverage (NHSA 1101 + 5206) --------------------------------------------------------

    async def coverage(
        self, *, psn_no: str | None = None, certno: str | None = None, on: date | None = None
    ) -> dict[str, Any]:
        """Eligibility on a date, identity, the year's accumulators and what is left of each cap."""
        on = on or self.today()
        async with self.engine.connect() as conn:
            if psn_no is not None:
                state = await coverage_store.load(conn, psn_no)
            else:
                state = await coverage_store.load_by_certno(conn, (certno or "").upper())
            if state is None:
                raise NotFound("UNKNOWN_PERSON", "no such insured person")
            acc = await ledger.read_accumulator(conn, state.psn_no, on.year)
        cover = projection.coverage_on(state, on)
        answer: dict[str, Any] = {"psn_no": state.psn_no, "date": on.isoformat()}
        try:
            cover.check(on.year, on, self.today())
            answer["eligible"] = True
        except Rejected as refusal:  # the first rule that fails
            answer.update(eligible=False, code=refusal.code, message=refusal.message)
        answer.update(
            insurance_year=on.year,
            identity=str(cover.identity),
            medical_assistance=cover.medical_assistance,
            registered=cover.registered,
            premium_due=f"{cover.premium_due:.2f}",
            premium_paid=f"{cover.premium_paid:.2f}",
            date_of_death=cover.date_of_death.isoformat() if cover.date_of_death else None,
            settlement_deadline=(
                cover.settlement_deadline.isoformat() if cover.settlement_deadline else None
            ),
            accumulators=acc.to_dict(),
            caps_remaining=_amounts(caps_remaining(self.policy, acc)),
        )
        return answer

    # --- preview (2303) and settle (2304) ---------------------------------------------------

    async def preview(self, hospital: Hospital, body: Any) -> Answer:
        """The full result on the person's current totals; nothing is stored or locked."""
        claim = parse_claim(_object(body))
        async with self.engine.connect() as conn:
            state = await coverage_store.load(conn, claim.psn_no)
            acc = await ledger.read_accumulator(conn, claim.psn_no, claim.insurance_year)
        result = self._adjudicate(claim, hospital, state, acc)
        metrics.SETTLEMENTS.labels(str(claim.med_type), "previewed").inc()
        return Answer(200, _dumps(result.to_wire(setl_id=None)))

    async def settle(self, hospital: Hospital, body: Any, idempotency_key: str | None) -> Answer:
        """Settle once: post to the accumulator and the ledger in one transaction.

        A retry with the same key and body gets the stored first answer, byte for byte. A refusal
        is not stored under the key, so a corrected claim may be sent again with it.
        """
        if not idempotency_key:
            raise InvalidRequest(
                "IDEMPOTENCY_KEY_REQUIRED", "send an Idempotency-Key header with every settlement"
            )
        if len(idempotency_key) > MAX_KEY_LENGTH:
            raise InvalidRequest(
                "INVALID_REQUEST", f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters"
            )
        body = _object(body)
        digest = request_hash(body)
        started = time.perf_counter()
        # A label from the request only if it is a known type: labels must stay few.
        med_type = body.get("med_type")
        med_type = med_type if med_type in MED_TYPES else "unknown"
        try:
            answer = await self._settle_once(hospital, body, idempotency_key, digest)
        except (IntegrityError, asyncpg.IntegrityConstraintViolationError):
            # A concurrent request won the race for this key or this visit: answer as it did.
            answer = await self._after_conflict(hospital, body, idempotency_key, digest)
        except Exception as exc:
            metrics.SETTLEMENTS.labels(med_type, getattr(exc, "code", "error")).inc()
            raise
        metrics.ADJUDICATION_SECONDS.observe(time.perf_counter() - started)
        metrics.SETTLEMENTS.labels(med_type, "replayed" if answer.replayed else "settled").inc()
        return answer

    async def _settle_once(
        self, hospital: Hospital, body: dict[str, Any], key: str, digest: str
    ) -> Answer:
        claim = _fits(parse_claim(body))
        try:
            if self.engine.dialect.name == "postgresql":
                result, response = await self._post_pg(hospital, claim, key, digest)
            else:
                result, response = await self._post(hospital, claim, key, digest)
        except Rejected:
            # A retry of a settled claim is answered as first, even if it would now be refused.
            async with self.engine.connect() as conn:
                prior = await ledger.by_idempotency_key(conn, hospital.id, key)
            if prior is not None:
                return _replay(prior, digest)
            raise
        _count_funds(result)
        return Answer(201, response)

    def _entry(
        self,
        hospital: Hospital,
        claim: Claim,
        key: str,
        digest: str,
        before: Accumulator,
        raw_state: str | None,
    ) -> tuple[Adjudication, bytes, ledger.Entry]:
        state = projection.from_json(raw_state) if raw_state else None
        result = self._adjudicate(claim, hospital, state, before)
        setl_id = "S" + uuid.uuid4().hex
        response = _dumps(result.to_wire(setl_id=setl_id))
        entry = ledger.Entry(
            setl_id=setl_id,
            hospital_id=hospital.id,
            mdtrt_id=claim.mdtrt_id,
            psn_no=claim.psn_no,
            insurance_year=claim.insurance_year,
            med_type=str(claim.med_type),
            idempotency_key=key,
            request_hash=digest,
            response=response.decode(),
            delta=ledger.delta_of(before, result.accumulator_after),
            created_at=ledger.now(),
        )
        return result, response, entry

    async def _post(
        self, hospital: Hospital, claim: Claim, key: str, digest: str
    ) -> tuple[Adjudication, bytes]:
        async with self.engine.begin() as conn:
            # The hot path is one round trip: the locked totals with the coverage beside them.
            # A reused key is caught by the ledger's unique key at insert (IntegrityError).
            before, raw_state = await ledger.lock_for_claim(
                conn, claim.psn_no, claim.insurance_year
            )
            result, response, entry = self._entry(hospital, claim, key, digest, before, raw_state)
            await ledger.post_settlement(conn, entry, result.accumulator_after)
        return result, response

    async def _post_pg(
        self, hospital: Hospital, claim: Claim, key: str, digest: str
    ) -> tuple[Adjudication, bytes]:
        """``_post`` on PostgreSQL, on the pool's asyncpg connection, in two round trips.

        First optimistically: the totals read without a lock, the claim adjudicated on them,
        and one autocommit statement that writes the ledger row, the visit row and the new
        totals only if the totals are still those read. If another settlement of the person
        moved them in between, nothing was written, and the claim is settled again under the
        row lock (``_post``'s two statements in a transaction), where it cannot lose.

        The connection comes from the engine's pool (so it is closed with the engine) and goes
        back to it with no transaction open; one that may be mid-statement (a cancelled call)
        is discarded instead.
        """
        pooled = await self.engine.raw_connection()
        conn = pooled.driver_connection
        year = claim.insurance_year
        clean = False
        try:
            before, raw_state = await ledger.pg_read_for_claim(conn, claim.psn_no, year)
            result, response, entry = self._entry(hospital, claim, key, digest, before, raw_state)
            if not await ledger.pg_post_if_unchanged(conn, entry, before, result.accumulator_after):
                async with conn.transaction():
                    before, raw_state = await ledger.pg_lock_for_claim(conn, claim.psn_no, year)
                    result, response, entry = self._entry(
                        hospital, claim, key, digest, before, raw_state
                    )
                    await ledger.pg_post_settlement(conn, entry, result.accumulator_after)
            clean = True
        except (Rejected, asyncpg.PostgresError):
            clean = not conn.is_in_transaction()
            raise
        finally:
            if clean:
                pooled.close()  # no await: with no transaction the pool's reset sends nothing
            else:
                await greenlet_spawn(pooled.invalidate)
        return result, response

    async def _after_conflict(
        self, hospital: Hospital, body: dict[str, Any], key: str, digest: str
    ) -> Answer:
        async with self.engine.connect() as conn:
            prior = await ledger.by_idempotency_key(conn, hospital.id, key)
            if prior is not None:
                return _replay(prior, digest)
            setl_id = await ledger.visit_settled(conn, hospital.id, str(body.get("mdtrt_id")))
        if setl_id is not None:
            raise _already_settled(str(body.get("mdtrt_id")), setl_id)
        raise Conflict("CONCURRENT_UPDATE", "a concurrent request changed this; retry")

    def _adjudicate(
        self,
        claim: Any,
        hospital: Hospital,
        state: projection.CoverageState | None,
        acc: Accumulator,
    ) -> Adjudication:
        return adjudicate(
            self.policy,
            claim,
            HospitalProfile(
                level=hospital.level, public=hospital.public, primary_care=hospital.primary_care
            ),
            acc,
            coverage=projection.coverage_on(state, claim.begntime.date()),
            settled_on=self.today(),
        )

    # --- reverse (2305) and read back (5203) --------------------------------------------------

    async def reverse(self, hospital: Hospital, setl_id: str) -> Answer:
        """Take a settlement back out of the accumulator, once; only its own hospital may."""
        try:
            async with self.engine.begin() as conn:
                entry = await self._own(conn, hospital, setl_id)
                # Lock first, then look for a reversal: a concurrent one is then seen.
                before = await ledger.lock_accumulator(conn, entry.psn_no, entry.insurance_year)
                if await ledger.reversal(conn, setl_id) is not None:
                    raise _already_reversed(setl_id)
                after = ledger.plus(before, entry.delta, -1)
                reversed_at = ledger.now()
                response = _dumps(
                    {
                        "setl_id": setl_id,
                        "status": "reversed",
                        "reversed_at": reversed_at.isoformat(),
                        "psn_no": entry.psn_no,
                        "insurance_year": entry.insurance_year,
                        "accumulators": after.to_dict(),
                    }
                )
                await ledger.append_reversal(
                    conn,
                    ledger.Entry(
                        setl_id=setl_id,
                        hospital_id=hospital.id,
                        mdtrt_id=entry.mdtrt_id,
                        psn_no=entry.psn_no,
                        insurance_year=entry.insurance_year,
                        med_type=entry.med_type,
                        idempotency_key=None,
                        request_hash=None,
                        response=response.decode(),
                        delta=ledger.delta_of(before, after),
                        created_at=reversed_at,
                    ),
                )
                await ledger.write_accumulator(conn, entry.psn_no, entry.insurance_year, after)
        except IntegrityError:
            raise _already_reversed(setl_id) from None
        metrics.SETTLEMENTS.labels(entry.med_type, "reversed").inc()
        original = json.loads(entry.response)
        for fund in FUNDS:
            metrics.FUND_PAID.labels(fund, "reversal").inc(float(original[fund]))
        return Answer(200, response)

    async def read(self, hospital: Hospital, setl_id: str) -> dict[str, Any]:
        """The settlement as answered, with its status (settled or reversed)."""
        async with self.engine.connect() as conn:
            entry = await self._own(conn, hospital, setl_id)
            reversal = await ledger.reversal(conn, setl_id)
        document: dict[str, Any] = json.loads(entry.response)
        document["status"] = "reversed" if reversal else "settled"
        document["settled_at"] = entry.created_at.isoformat()
        if reversal:
            document["reversed_at"] = reversal.created_at.isoformat()
        return document

    async def _own(self, conn: Any, hospital: Hospital, setl_id: str) -> ledger.Entry:
        entry = await ledger.settlement(conn, setl_id)
        # Another hospital's settlement is "not found": its existence is not theirs to learn.
        if entry is None or entry.hospital_id != hospital.id:
            raise NotFound("SETTLEMENT_NOT_FOUND", f"no settlement {setl_id} of this hospital")
        return entry


def _fits(claim: Claim) -> Claim:
    """Identifiers longer than the ledger's columns are refused here, not by the database."""
    for field, limit in (("psn_no", 64), ("mdtrt_id", 128)):
        if len(getattr(claim, field)) > limit:
            raise InvalidRequest("INVALID_REQUEST", f"{field} is longer than {limit} characters")
    return claim


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest("INVALID_REQUEST", "the claim must be a JSON object")
    return body


def _replay(prior: ledger.Entry, digest: str) -> Answer:
    if prior.request_hash != digest:
        raise Conflict(
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used for a different claim; use a new key",
        )
    return Answer(201, prior.response.encode(), replayed=True)


def _already_settled(mdtrt_id: str, setl_id: str) -> Conflict:
    return Conflict(
        "ALREADY_SETTLED", f"visit {mdtrt_id} is already settled as {setl_id}; reverse it first"
    )


def _already_reversed(setl_id: str) -> Conflict:
    return Conflict("ALREADY_REVERSED", f"settlement {setl_id} is already reversed")


def _count_funds(result: Adjudication) -> None:
    # Floats only here: a Prometheus sample is a float; the ledger keeps the exact amounts.
    for fund in FUNDS:
        metrics.FUND_PAID.labels(fund, "settlement").inc(float(getattr(result, fund)))
