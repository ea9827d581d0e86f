"""What the NHSA gateway does beyond the HIS API's handlers: reversal by message id (2601),
cancels that remember their message (2305), the person's record (1101), the accumulations
(5206) and the reconciliations (3201, 3202).

Every settlement, reversal and read goes through ``SettlementService`` — one adjudication, one
ledger; this module adds only the message log's bookkeeping and the questions the platform asks.
The platform's field names and codes are the entrypoint's (``entrypoints/nhsa``); here the
answers are our own values.

2601 and a late message meet on the message log's key (hospital, msgid): a settlement writes its
``settled`` row in the same statement as its ledger row, and 2601 writes a ``voided`` tombstone
unless a row is there. Whichever comes second waits for the first to commit and finds its row:
a settlement finding a tombstone posts nothing and is refused (``MESSAGE_VOIDED``); a 2601
finding ``settled`` voids it and reverses the settlement. A settle reads the log only when it
did not post (a replay, a conflict), so the gateway's 2304 costs no more round trips than the
HIS API's settle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from services.settlement.adapters.hospitals import Hospital
from services.settlement.adapters.nhsa_messages import (
    CANCEL,
    CANCELLED,
    SETTLE,
    SETTLED,
    VOIDED,
    MessageLog,
)
from services.settlement.domain.projection import CoverageState, IdentitySpell
from services.settlement.engine.accumulator import Accumulator
from services.settlement.engine.receipt import Language
from services.settlement.errors import Conflict, InvalidRequest, NotFound
from services.settlement.service_layer import statements
from services.settlement.service_layer.answers import Answer
from services.settlement.service_layer.settlements import SettlementService
from services.settlement.service_layer.statements import LineReader, Statement


@dataclass(frozen=True, slots=True)
class Settlement:
    """A settlement as the gateway answers it: our result document and its ledger time."""

    document: dict[str, Any]
    settled_at: datetime | None
    reversed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Undone:
    """What 2601 did: the settlement it reversed, if any (None: nothing to undo)."""

    setl_id: str | None
    reversed_now: bool


@dataclass(frozen=True, slots=True)
class Person:
    """1101: the person's projection and their eligibility on the asked date."""

    state: CoverageState
    coverage: dict[str, Any]  # SettlementService.coverage's answer
    on: date


@dataclass(frozen=True, slots=True)
class Spell:
    """A dated period of a special identity (``identity``) or of the medical-assistance flag."""

    identity: str  # an Identity value, or "medical_assistance"
    start: date
    end: date | None  # inclusive; None: still in force


class NhsaService:
    """The gateway's use cases over the settlement service."""

    def __init__(
        self, settlements: SettlementService, messages: MessageLog, lines: LineReader
    ) -> None:
        self.settlements = settlements
        self.messages = messages
        self.lines = lines

    # --- 2304, 2303, 5203 -----------------------------------------------------------------------

    async def settle(
        self, hospital: Hospital, msgid: str, claim: dict[str, Any], language: Language
    ) -> Settlement:
        """Settle with ``msgid`` as the idempotency key; refuse a message 2601 voided."""
        try:
            answer = await self.settlements.settle(hospital, claim, msgid, language, message=msgid)
        except Conflict:  # the key may be a tombstone's: then that is the answer
            await self._refuse_if_voided(hospital, msgid)
            raise
        if answer.replayed:  # posted earlier: 2601 may have voided it since
            await self._refuse_if_voided(hospital, msgid)
        return Settlement(_document(answer), answer.settled_at)

    async def _refuse_if_voided(self, hospital: Hospital, msgid: str) -> None:
        logged = await self.messages.get(hospital.id, msgid)
        if logged is not None and logged.outcome == VOIDED:
            raise _voided(msgid)

    async def preview(
        self, hospital: Hospital, claim: dict[str, Any], language: Language
    ) -> dict[str, Any]:
        """The full result, nothing stored (2303)."""
        return _document(await self.settlements.preview(hospital, claim, language))

    async def read(self, hospital: Hospital, setl_id: str, psn_no: str | None) -> Settlement:
        """A settlement of this hospital as answered, with its status (5203)."""
        document = await self.settlements.read(hospital, setl_id)
        _same_person(document, psn_no)
        return Settlement(
            document,
            datetime.fromisoformat(document["settled_at"]),
            _instant(document.get("reversed_at")),
        )

    # --- 2305 cancel, 2601 reversal -------------------------------------------------------------

    async def cancel(
        self, hospital: Hospital, msgid: str, setl_id: str, psn_no: str | None
    ) -> Settlement:
        """Reverse a settlement (2305); the same message again answers the same."""
        first = await self.read(hospital, setl_id, psn_no)
        done = await self.messages.get(hospital.id, msgid)
        if done is not None and done.outcome == VOIDED:
            raise _voided(msgid)
        if done is not None and done.setl_id == setl_id:
            return first  # this very cancel, sent again
        await self.settlements.reverse(hospital, setl_id)
        await self.messages.record(hospital.id, msgid, CANCEL, CANCELLED, setl_id)
        return await self.read(hospital, setl_id, psn_no)

    async def undo(self, hospital: Hospital, omsgid: str, oinfno: str, psn_no: str) -> Undone:
        """Undo whatever ``omsgid`` did (2601): reverse its settlement, if one stands.

        Nothing to undo (a read, or a message that never arrived) is success, and so is doing
        it again. A cancel (2305) cannot be undone: the settlement stays cancelled.
        """
        ledger = self.settlements.ledger
        entry = await ledger.by_idempotency_key(hospital.id, omsgid)
        if entry is not None and entry.psn_no != psn_no:
            raise _other_person(psn_no, entry.psn_no)
        # The tombstone, unless the message's own row stands: a settlement under way is waited
        # for, and one that posts later finds the tombstone and posts nothing.
        standing = await self.messages.record(hospital.id, omsgid, oinfno or SETTLE, VOIDED)
        if standing.outcome == CANCELLED:
            raise Conflict(
                "CANCEL_IRREVERSIBLE",
                f"message {omsgid} cancelled settlement {standing.setl_id}, which stays "
                "cancelled; settle the visit again with 2304",
            )
        if entry is None:  # settled since the first look (or before the log kept 2304s)
            entry = await ledger.by_idempotency_key(hospital.id, omsgid)
            if entry is not None and entry.psn_no != psn_no:
                raise _other_person(psn_no, entry.psn_no)
        if standing.outcome == SETTLED:
            await self.messages.void(hospital.id, omsgid)
        if entry is None:
            return Undone(None, False)
        return Undone(entry.setl_id, await self._reverse_quietly(hospital, entry.setl_id))

    async def _reverse_quietly(self, hospital: Hospital, setl_id: str) -> bool:
        """Reverse unless already reversed; whether this call reversed it."""
        try:
            await self.settlements.reverse(hospital, setl_id)
        except Conflict as refusal:
            if refusal.code != "ALREADY_REVERSED":
                raise
            return False
        return True

    # --- 1101 person, 5206 accumulations --------------------------------------------------------

    async def person(
        self, *, psn_no: str | None = None, certno: str | None = None, on: date | None = None
    ) -> Person:
        """The person's record and eligibility on ``on`` (default today)."""
        coverage = await self.settlements.coverage(psn_no=psn_no, certno=certno, on=on)
        state = await self.settlements.coverage_store.load(coverage["psn_no"])
        if state is None:  # read between two calls: gone is not possible, but say so
            raise NotFound("UNKNOWN_PERSON", "no such insured person")
        return Person(state, coverage, date.fromisoformat(coverage["date"]))

    async def accumulations(self, psn_no: str, year: int) -> Accumulator:
        """The person's totals of an insurance year (5206)."""
        if await self.settlements.coverage_store.load(psn_no) is None:
            raise NotFound("UNKNOWN_PERSON", "no such insured person")
        return await self.settlements.ledger.totals(psn_no, year)

    # --- 3201, 3202 -----------------------------------------------------------------------------

    async def statement(self, hospital: Hospital, start: date, end: date) -> Statement:
        """Our figures of the hospital's period (``service_layer.statements``)."""
        return await statements.statement(self.lines, hospital.id, start, end)


def identity_spells(state: CoverageState) -> list[Spell]:
    """The special identities and the medical-assistance flag as dated periods, oldest first."""
    periods: list[Spell] = []
    for label in (_identity_of, _assistance_of):
        current: tuple[str, date] | None = None
        for spell in state.identities:
            value = label(spell)
            if current is not None and current[0] == value:
                continue
            if current is not None:
                periods.append(Spell(current[0], current[1], spell.effective_from - _DAY))
            current = (value, spell.effective_from)
        if current is not None:
            periods.append(Spell(current[0], current[1], None))
    # An ordinary resident has no identity period; a spell replaced the same day never held.
    held = [p for p in periods if p.identity != _ORDINARY and (p.end is None or p.end >= p.start)]
    return sorted(held, key=lambda p: (p.start, p.identity))


_DAY = timedelta(days=1)
_ORDINARY = "ordinary"


def _identity_of(spell: IdentitySpell) -> str:
    return spell.identity


def _assistance_of(spell: IdentitySpell) -> str:
    return "medical_assistance" if spell.medical_assistance else _ORDINARY


def _document(answer: Answer) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(answer.body)
    return document


def _instant(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text)


def _same_person(document: dict[str, Any], psn_no: str | None) -> None:
    if psn_no and document.get("psn_no") != psn_no:
        raise _other_person(psn_no, str(document.get("psn_no")))


def _other_person(asked: str, found: str) -> InvalidRequest:
    return InvalidRequest(
        "PERSON_MISMATCH", f"the message names person {asked}, the settlement is of {found}"
    )


def _voided(msgid: str) -> Conflict:
    return Conflict("MESSAGE_VOIDED", f"message {msgid} was reversed by 2601; send a new msgid")
