"""What the settlement handlers answer and check at their edge: bodies as bytes, the request
hash of idempotency, the refusals they raise, the fund metrics."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.settlement import metrics
from services.settlement.adapters.ledger import Entry
from services.settlement.engine import Adjudication, Claim, MedType
from services.settlement.errors import Conflict, InvalidRequest
from shared.text import CONTROL_CHARACTERS, PRINTABLE

FUNDS = ("hifp_pay", "hifmi_pay", "maf_pay")
MED_TYPES = frozenset(str(t) for t in MedType)
MAX_KEY_LENGTH = 255  # the ledger's idempotency_key column
_PRINTABLE = re.compile(PRINTABLE)


@dataclass(frozen=True, slots=True)
class Answer:
    """A response body as bytes (stored and replayed as is) and its HTTP status."""

    status: int
    body: bytes
    replayed: bool = False
    settled_at: datetime | None = None  # a settlement's ledger time (the NHSA setl_time)


def request_hash(body: dict[str, Any]) -> str:
    """The same claim gives the same hash, whatever the key order or whitespace it came in."""
    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def dumps(document: dict[str, Any]) -> bytes:
    """A JSON body as answered: compact, UTF-8."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def yuan(values: dict[str, Decimal]) -> dict[str, str]:
    """Amounts as two-decimal strings."""
    return {k: f"{v:.2f}" for k, v in values.items()}


def checked_key(key: str | None) -> str:
    """The Idempotency-Key header, which every settlement must carry and the ledger can hold."""
    if not key:
        raise InvalidRequest(
            "IDEMPOTENCY_KEY_REQUIRED", "send an Idempotency-Key header with every settlement"
        )
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(
            "INVALID_REQUEST", f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters"
        )
    if not _PRINTABLE.match(key):  # FHIR's Claim.identifier may carry a NUL, which no ledger holds
        raise InvalidRequest("INVALID_REQUEST", f"Idempotency-Key {CONTROL_CHARACTERS}")
    return key


def claim_object(body: Any) -> dict[str, Any]:
    """The body, which must be a JSON object."""
    if not isinstance(body, dict):
        raise InvalidRequest("INVALID_REQUEST", "the claim must be a JSON object")
    return body


def med_type_label(body: dict[str, Any]) -> str:
    """A metrics label from the request only if it is a known type: labels must stay few."""
    med_type = body.get("med_type")
    # Checked as a string first: a list or an object is unhashable, and the body is unchecked.
    return med_type if isinstance(med_type, str) and med_type in MED_TYPES else "unknown"


def fits(claim: Claim) -> Claim:
    """Identifiers longer than the ledger's columns are refused here, not by the database."""
    for field, limit in (("psn_no", 64), ("mdtrt_id", 128)):
        if len(getattr(claim, field)) > limit:
            raise InvalidRequest("INVALID_REQUEST", f"{field} is longer than {limit} characters")
    return claim


def replay(prior: Entry, digest: str) -> Answer:
    """The first answer under a key, byte for byte, if this is the same claim again."""
    if prior.request_hash != digest:
        raise Conflict(
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used for a different claim; use a new key",
        )
    return Answer(201, prior.response.encode(), replayed=True, settled_at=prior.created_at)


def already_settled(mdtrt_id: str, setl_id: str) -> Conflict:
    return Conflict(
        "ALREADY_SETTLED", f"visit {mdtrt_id} is already settled as {setl_id}; reverse it first"
    )


def already_reversed(setl_id: str) -> Conflict:
    return Conflict("ALREADY_REVERSED", f"settlement {setl_id} is already reversed")


def count_funds(result: Adjudication) -> None:
    """What each fund paid, on the Prometheus counters."""
    # Floats only here: a Prometheus sample is a float; the ledger keeps the exact amounts.
    for fund in FUNDS:
        metrics.FUND_PAID.labels(fund, "settlement").inc(float(getattr(result, fund)))
