"""The event contract between enrollment and settlement (SPEC §3).

Every event is an envelope around a typed payload. A published schema is never edited in place:
a new shape gets a higher ``schema_version`` and an upcaster that turns the old payload into the
new one on read (``register_upcaster``); stored and published bytes are never rewritten.

The envelope is versioned by addition only: a new envelope field is optional with a read default
(its upcast), and readers ignore envelope fields they do not know, so ``schema_version`` (the
payload's) is not bumped for it and a reader of either age decodes events of either age.
``actor`` (SPEC §8, issue 10) is such a field: who wrote the event, as one string —

* a staff member: ``"NAME (ROLE)"``, e.g. ``"wang.fang (town)"`` (a staff name has no spaces);
* ``"tax-feed"`` (the tax bureau's payment feed), ``"system"`` (a console command or a job);
* ``"import:<12 hex>"``: the first 12 hex digits of the SHA-256 of the imported list file;
* ``"unknown"``: events stored before the field existed (read so, never rewritten).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    model_validator,
)

from shared.money import Money
from shared.trusted import check, trusted

TOPIC_ENROLLMENT_EVENTS = "enrollment.events"
TOPIC_TAX_PAYMENTS = "tax.premium-payments"
TOPIC_BASIC_DATA = "enrollment.basic-data"


UNKNOWN_ACTOR = "unknown"
SYSTEM_ACTOR = "system"
TAX_FEED_ACTOR = "tax-feed"
MAX_ACTOR = 80


def staff_actor(name: str, role: str) -> str:
    """The ``actor`` of an event a staff member wrote: ``"NAME (ROLE)"``."""
    return f"{name} ({role})"


def import_actor(data: bytes) -> str:
    """The ``actor`` of the events a list file wrote: ``import:`` and 12 hex of its SHA-256."""
    return "import:" + hashlib.sha256(data).hexdigest()[:12]


def dlq(topic: str) -> str:
    """The dead-letter topic of a topic (SPEC §6)."""
    return f"{topic}.dlq"


class Category(StrEnum):
    PRESCHOOL = "preschool"
    STUDENT = "student"
    UNIVERSITY = "university"
    RESIDENT = "resident"


class Identity(StrEnum):
    ORDINARY = "ordinary"
    DESTITUTE = "destitute"
    ORPHAN = "orphan"
    SUBSISTENCE = "subsistence"
    SEVERE_DISABILITY = "severe_disability"
    LOW_INCOME_ELDERLY = "low_income_elderly"
    LOW_INCOME_MINOR = "low_income_minor"
    POVERTY_REGISTERED = "poverty_registered"
    FAMILY_PLANNING = "family_planning"


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"


class Payer(StrEnum):
    INDIVIDUAL = "individual"
    SCHOOL = "school"
    GOVERNMENT = "government"


class Channel(StrEnum):
    WECHAT = "wechat"
    ALIPAY = "alipay"
    ETAX_APP = "etax_app"
    UNIONPAY = "unionpay"
    SCHOOL_BATCH = "school_batch"
    GOVERNMENT = "government"


class EventType(StrEnum):
    REGISTERED = "registered"
    IDENTITY_CHANGED = "identity-changed"
    PREMIUM_PAID = "premium-paid"
    DECEASED_STOP = "deceased-stop"
    PREMIUM_DUE_CHANGED = "premium-due-changed"
    PREMIUM_REFUNDED = "premium-refunded"
    SUBSIDY_GRANTED = "subsidy-granted"
    SUBSIDY_STATUS_CHANGED = "subsidy-status-changed"
    CARRIED_OVER = "carried-over"


class EventPayload(BaseModel):
    """Base of every payload: frozen, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    event_type: ClassVar[EventType]
    schema_version: ClassVar[int] = 1


class Registered(EventPayload):
    """Enrolled for one insurance year; ``premium_due`` is what the person owes personally."""

    event_type: ClassVar[EventType] = EventType.REGISTERED
    certno: str
    name: str
    gender: Gender
    birth_date: date
    category: Category
    identity: Identity = Identity.ORDINARY
    medical_assistance: bool = False
    region: str
    organization: str
    insurance_year: int
    premium_due: Money


class IdentityChanged(EventPayload):
    """Special-person status gained, changed or lost, from ``effective_from`` on (004 §二(一))."""

    event_type: ClassVar[EventType] = EventType.IDENTITY_CHANGED
    identity: Identity
    medical_assistance: bool
    effective_from: date
    reason: str
    evidence_ref: str | None = None


class PremiumPaid(EventPayload):
    """A payment confirmed by the tax bureau's feed."""

    event_type: ClassVar[EventType] = EventType.PREMIUM_PAID
    insurance_year: int
    amount: Money
    payer: Payer
    channel: Channel
    tax_serial: str
    paid_at: AwareDatetime


class DeceasedStop(EventPayload):
    """Death recorded; the last such event of a stream wins (deadline extension or early stop)."""

    event_type: ClassVar[EventType] = EventType.DECEASED_STOP
    date_of_death: date
    settlement_deadline: date


class PremiumDueChanged(EventPayload):
    """What the person owes personally for a year changed (e.g. after an identity change)."""

    event_type: ClassVar[EventType] = EventType.PREMIUM_DUE_CHANGED
    insurance_year: int
    premium_due: Money
    reason: str


class PremiumRefunded(EventPayload):
    """The tax bureau refunded (part of) a payment; it no longer counts toward the premium."""

    event_type: ClassVar[EventType] = EventType.PREMIUM_REFUNDED
    insurance_year: int
    amount: Money
    tax_serial: str
    original_tax_serial: str | None = None
    refunded_at: AwareDatetime


class SubsidyGranted(EventPayload):
    """A premium subsidy for a special person (004 §二(二)).

    ``kind``: ``paid_on_behalf`` (government pays the personal premium; added before 30 June),
    ``refund_after_payment`` (100 % refunded after the person paid; added after 30 June),
    ``low_income_60`` (60 % of the personal premium after payment, low-income non-minors).
    ``status``: ``payable``, or ``pending_policy`` where the source leaves it to a future policy,
    or ``paid_by_government`` (paid on behalf through the tax feed: nothing to pay out).
    """

    event_type: ClassVar[EventType] = EventType.SUBSIDY_GRANTED
    insurance_year: int
    kind: str
    amount: Money
    status: str = "payable"
    reason: str = ""
    # The payment the subsidy answers (one subsidy per payment); added later, hence optional.
    tax_serial: str | None = None


class SubsidyStatusChanged(EventPayload):
    """A subsidy moved on (SPEC §7): ``paid`` (the district recorded its payout), ``cancelled``
    (its payment was refunded, or the entitlement changed, before payout) or ``reclaim`` (the
    same after payout: the bureau must take the money back). ``subsidy_id`` is the ``event_id``
    of the ``subsidy-granted`` event."""

    event_type: ClassVar[EventType] = EventType.SUBSIDY_STATUS_CHANGED
    subsidy_id: str
    insurance_year: int
    status: str
    reason: str
    paid_on: date | None = None
    reference: str | None = None


class CarriedOver(EventPayload):
    """On the frozen annual carry-over list for ``insurance_year`` (004 §一): special from
    1 January of that year, premium paid on their behalf; not a person "added" during the year."""

    event_type: ClassVar[EventType] = EventType.CARRIED_OVER
    insurance_year: int
    identity: Identity
    medical_assistance: bool
    sources: list[str]


PAYLOAD_TYPES: dict[EventType, type[EventPayload]] = {
    cls.event_type: cls
    for cls in (
        Registered,
        IdentityChanged,
        PremiumPaid,
        DeceasedStop,
        PremiumDueChanged,
        PremiumRefunded,
        SubsidyGranted,
        SubsidyStatusChanged,
        CarriedOver,
    )
}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
_UPCASTERS: dict[tuple[EventType, int], Upcaster] = {}


def register_upcaster(event_type: EventType, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function turning a ``from_version`` payload into ``from_version + 1``."""

    def decorate(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(event_type, from_version)] = fn
        return fn

    return decorate


def upcast(event_type: EventType, version: int, payload: dict[str, Any]) -> dict[str, Any]:
    """Bring an old payload up to the current schema version, one step at a time."""
    current = PAYLOAD_TYPES[event_type].schema_version
    if version > current:
        raise ValueError(
            f"{event_type} schema_version {version} is newer than this code ({current})"
        )
    while version < current:
        step = _UPCASTERS.get((event_type, version))
        if step is None:
            raise ValueError(f"no upcaster for {event_type} schema_version {version}")
        payload = step(dict(payload))
        version += 1
    return payload


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """The envelope (SPEC §3). ``payload`` is the typed payload for ``event_type``."""

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: EventType
    schema_version: int
    psn_no: str
    stream_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime = Field(default_factory=utcnow)
    # Before the payload: the event store cuts the payload's JSON from the envelope's tail.
    actor: str = Field(UNKNOWN_ACTOR, min_length=1, max_length=MAX_ACTOR)
    payload: SerializeAsAny[EventPayload]

    @model_validator(mode="before")
    @classmethod
    def _typed_payload(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        payload = data.get("payload")
        if isinstance(payload, EventPayload):
            data = {**data, "event_type": payload.event_type}
            data.setdefault("schema_version", payload.schema_version)
            return data
        event_type = EventType(data["event_type"])
        payload_cls = PAYLOAD_TYPES[event_type]
        version = int(data.get("schema_version", payload_cls.schema_version))
        raw = upcast(event_type, version, dict(payload or {}))
        return {
            **data,
            "schema_version": payload_cls.schema_version,
            "payload": payload_cls.model_validate(raw),
        }

    @classmethod
    def new(
        cls,
        payload: EventPayload,
        *,
        psn_no: str,
        stream_version: int,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Event:
        """A fresh event for a stream, stamped now; ``actor`` says who wrote it (see above).

        The payload is a validated model already and the envelope's fields are the writer's own,
        so a well-formed envelope is built without validation (``trusted``: a bulk freeze builds
        half a million); one breaking a rule validation enforces takes the validated path, which
        refuses it with pydantic's ``ValidationError`` as before.
        """
        now = utcnow()
        fields: dict[str, Any] = {
            "event_id": uuid.uuid4(),
            "event_type": payload.event_type,
            "schema_version": payload.schema_version,
            "psn_no": psn_no,
            "stream_version": stream_version,
            "occurred_at": occurred_at or now,
            "recorded_at": now,
            "actor": actor,
            "payload": payload,
        }
        well_formed = (
            stream_version >= 1
            and 1 <= len(actor) <= MAX_ACTOR
            and fields["occurred_at"].utcoffset() is not None
        )
        return trusted(cls, fields) if well_formed else cls(**fields)

    def to_json(self) -> bytes:
        """The Kafka value: UTF-8 JSON, amounts as strings."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event:
        """Decode (and upcast) a Kafka value or stored row; raises ValueError when malformed."""
        return cls.model_validate(json.loads(raw))


check(Event)
