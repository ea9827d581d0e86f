"""The append-only ledger of settlements and reversals, and the accumulators it moves.

Every entry carries the exact body answered and the signed accumulator change, so that
``verify`` can recompute every accumulator from the ledger alone. A posting writes the ledger
row and the person's new totals in one transaction, on totals nobody else changed in between.

``Ledger`` is the one interface the service uses; ``bootstrap`` picks its implementation once:
``SqliteLedger`` (``sql_ledger.py``) or ``PostgresLedger`` (``postgres_ledger.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from services.settlement.engine.accumulator import Accumulator

SETTLEMENT = "settlement"
REVERSAL = "reversal"

ENTRY_COLUMNS = (
    "setl_id",
    "hospital_id",
    "mdtrt_id",
    "psn_no",
    "insurance_year",
    "med_type",
    "idempotency_key",
    "request_hash",
    "response",
    "delta",
    "created_at",
    "policy_name",
    "policy_sha256",
    "region",
    "claim",
)
"""The ledger row's columns an ``Entry`` fills (``entry_type`` aside), in one order for all."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A settlement or a reversal as the ledger holds it."""

    setl_id: str
    hospital_id: int
    mdtrt_id: str
    psn_no: str
    insurance_year: int
    med_type: str
    idempotency_key: str | None
    request_hash: str | None
    response: str  # the exact body answered
    delta: Accumulator  # the signed change to the person's totals
    created_at: datetime
    # A settlement's policy (name, SHA-256 of its file), the person's region and the claim as
    # an adjudicate line (``domain.rerun``); None on reversals and on rows from before 0004.
    policy_name: str | None = None
    policy_sha256: str | None = None
    region: str | None = None
    claim: str | None = None

    def row(self) -> dict[str, Any]:
        """The ledger row's values by column name (``ENTRY_COLUMNS``), the delta as JSON."""
        values = {name: getattr(self, name) for name in ENTRY_COLUMNS}
        values["delta"] = json.dumps(self.delta.to_dict(), sort_keys=True)
        return values

    @classmethod
    def from_row(cls, row: Any) -> Entry:
        """An entry from a ledger row read back."""
        values = {name: getattr(row, name) for name in ENTRY_COLUMNS}
        values["delta"] = Accumulator.from_dict(json.loads(row.delta))
        return cls(**values)


class Posting(Protocol):
    """What a decision hands the ledger to write: the entry and the totals after it."""

    @property
    def entry(self) -> Entry: ...

    @property
    def after(self) -> Accumulator: ...


P = TypeVar("P", bound=Posting)

Decide = Callable[[Accumulator, str | None], P]
"""Adjudicate on (the person's totals, their coverage state JSON or None): the posting."""


class AlreadyPosted(Exception):
    """The database refused the posting: the idempotency key (per hospital) was used, the visit
    is settled, or the settlement is reversed — by this request's twin or an earlier one."""


class Ledger(Protocol):
    """Settlements, reversals and the accumulators they move, on one database."""

    async def totals(self, psn_no: str, year: int) -> Accumulator:
        """The person's totals of the year now (zero if none); no lock."""
        ...

    async def read_for_claim(self, psn_no: str, year: int) -> tuple[Accumulator, str | None]:
        """The totals and the person's coverage state JSON (None: unknown); no lock."""
        ...

    async def post_settlement(
        self, psn_no: str, year: int, decide: Decide[P], *, message: str | None = None
    ) -> P:
        """Post what ``decide`` makes of the totals and coverage, on totals that did not move.

        ``decide`` may run more than once (when another settlement of the person came first);
        the posting returned is the one written. Raises ``AlreadyPosted``, or what ``decide``
        raises (nothing written).

        ``message``: the platform message id the settlement answers (NHSA 2304), written as
        ``settled`` into the message log in the same write. A message id already in the log
        (a 2601 voided it first) refuses the posting (``AlreadyPosted``), and a 2601 recording
        its tombstone while this posting is under way waits for it and then finds it.
        """
        ...

    async def post_reversal(self, settlement: Entry, decide: Callable[[Accumulator], P]) -> P:
        """Post the reversal ``decide`` makes of the locked totals; ``AlreadyPosted`` if the
        settlement is already reversed."""
        ...

    async def by_idempotency_key(self, hospital_id: int, key: str) -> Entry | None:
        """The settlement a hospital posted under an idempotency key."""
        ...

    async def settlement(self, setl_id: str) -> Entry | None:
        """A settlement by its id."""
        ...

    async def reversal(self, setl_id: str) -> Entry | None:
        """The reversal of a settlement, if any."""
        ...

    async def visit_settled(self, hospital_id: int, mdtrt_id: str) -> str | None:
        """The id of the settlement standing for a hospital's visit, if any."""
        ...


def now() -> datetime:
    """The instant an entry is recorded (UTC)."""
    return datetime.now(UTC)
