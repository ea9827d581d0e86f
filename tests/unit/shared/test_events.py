"""The event contract: round trips, frozen models, unknown fields refused, upcasting."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import ClassVar

import pytest
from pydantic import ValidationError

from shared import events as ev
from shared.events import (
    DeceasedStop,
    Event,
    EventPayload,
    EventType,
    IdentityChanged,
    PremiumPaid,
    Registered,
)
from tests.support.sample_events import wang_fang

pytestmark = pytest.mark.unit

WHEN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
ACTOR = "wang.fang (town)"


def registered() -> Registered:
    return wang_fang(category="student", organization="一中", premium_due=Decimal("360"))


PAYLOADS = [
    registered(),
    IdentityChanged(
        identity="subsistence",
        medical_assistance=True,
        effective_from=date(2024, 3, 1),
        reason="list",
    ),
    PremiumPaid(
        insurance_year=2024,
        amount=Decimal("360.00"),
        payer="individual",
        channel="wechat",
        tax_serial="T1",
        paid_at=WHEN,
    ),
    DeceasedStop(date_of_death=date(2024, 1, 31), settlement_deadline=date(2024, 2, 29)),
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.event_type)
def test_round_trip_through_json(payload):
    event = Event.new(payload, psn_no="P1", stream_version=3, occurred_at=WHEN, actor=ACTOR)
    raw = event.to_json()
    back = Event.from_json(raw)
    assert back == event
    assert type(back.payload) is type(payload)
    assert json.loads(raw)["event_type"] == payload.event_type.value


def test_amounts_are_strings_on_the_wire():
    event = Event.new(registered(), psn_no="P1", stream_version=1, actor=ACTOR)
    assert json.loads(event.to_json())["payload"]["premium_due"] == "360.00"


def test_events_and_payloads_are_frozen():
    event = Event.new(registered(), psn_no="P1", stream_version=1, actor=ACTOR)
    with pytest.raises(ValidationError):
        event.psn_no = "P2"
    with pytest.raises(ValidationError):
        event.payload.name = "someone else"


def test_unknown_payload_fields_are_refused():
    raw = json.loads(Event.new(registered(), psn_no="P1", stream_version=1, actor=ACTOR).to_json())
    raw["payload"]["favourite_colour"] = "blue"
    with pytest.raises(ValidationError, match="favourite_colour"):
        Event.model_validate(raw)


def test_stream_version_starts_at_one_and_instants_are_aware():
    with pytest.raises(ValidationError):
        Event.new(registered(), psn_no="P1", stream_version=0, actor=ACTOR)
    with pytest.raises(ValidationError):
        Event.new(
            registered(),
            psn_no="P1",
            stream_version=1,
            occurred_at=datetime(2024, 1, 1),
            actor=ACTOR,
        )


def test_malformed_json_is_a_value_error():
    with pytest.raises(ValueError):
        Event.from_json(b"{not json")


@pytest.fixture
def identity_changed_v2(monkeypatch):
    """A v2 IdentityChanged (``reason`` renamed ``basis``) with an upcaster from v1."""

    class IdentityChangedV2(EventPayload):
        event_type: ClassVar[EventType] = EventType.IDENTITY_CHANGED
        schema_version: ClassVar[int] = 2
        identity: ev.Identity
        medical_assistance: bool
        effective_from: date
        basis: str
        evidence_ref: str | None = None

    monkeypatch.setitem(ev.PAYLOAD_TYPES, EventType.IDENTITY_CHANGED, IdentityChangedV2)
    monkeypatch.setattr(ev, "_UPCASTERS", dict(ev._UPCASTERS))

    @ev.register_upcaster(EventType.IDENTITY_CHANGED, 1)
    def _v1_to_v2(payload):
        payload["basis"] = payload.pop("reason")
        return payload

    return IdentityChangedV2


def test_a_stored_v1_payload_is_upcast_on_read(identity_changed_v2):
    stored_v1 = {
        "event_id": "5f0c7c8e-8a57-4a57-9a8e-2f0b8f0f0a01",
        "event_type": "identity-changed",
        "schema_version": 1,
        "psn_no": "P1",
        "stream_version": 2,
        "occurred_at": WHEN.isoformat(),
        "recorded_at": WHEN.isoformat(),
        "payload": {
            "identity": "orphan",
            "medical_assistance": False,
            "effective_from": "2024-03-01",
            "reason": "civil affairs list",
        },
    }
    event = Event.from_json(json.dumps(stored_v1))
    assert event.schema_version == 2
    assert isinstance(event.payload, identity_changed_v2)
    assert event.payload.basis == "civil affairs list"


def test_a_version_without_upcaster_or_from_the_future_is_refused(identity_changed_v2):
    with pytest.raises(ValueError, match="newer"):
        ev.upcast(EventType.IDENTITY_CHANGED, 3, {})
    with pytest.raises(ValueError, match="no upcaster"):
        ev.upcast(EventType.DECEASED_STOP, 0, {})


def test_the_actor_travels_in_the_envelope_and_old_events_read_as_unknown():
    event = Event.new(registered(), psn_no="P1", stream_version=1, actor=ACTOR)
    raw = json.loads(event.to_json())
    assert raw["actor"] == "wang.fang (town)"
    assert list(raw)[-1] == "payload"  # the event store cuts the payload from the tail
    assert Event.from_json(event.to_json()).actor == ACTOR
    del raw["actor"]  # an event written before the field existed
    assert Event.model_validate(raw).actor == ev.UNKNOWN_ACTOR
    assert raw["schema_version"] == Registered.schema_version  # the payload did not change


def test_actor_forms():
    assert ev.staff_actor("li.wei", "district") == "li.wei (district)"
    digest = hashlib.sha256(b"certno,name\n").hexdigest()
    assert ev.import_actor(b"certno,name\n") == "import:" + digest[:12]
    assert (ev.SYSTEM_ACTOR, ev.TAX_FEED_ACTOR) == ("system", "tax-feed")
    with pytest.raises(ValidationError):
        Event.new(registered(), psn_no="P1", stream_version=1, actor="")


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.event_type)
def test_a_new_event_is_the_event_validation_would_build(payload):
    # Event.new builds the envelope without validation: it must be the very event (fields, types,
    # JSON) that validating the same fields builds.
    event = Event.new(payload, psn_no="P1", stream_version=2, occurred_at=WHEN, actor=ACTOR)
    validated = Event.model_validate(event.model_dump())
    assert validated == event
    assert validated.to_json() == event.to_json()
    assert type(event.event_id) is type(validated.event_id)


def test_a_trusted_event_can_be_copied_with_changes():
    event = Event.new(registered(), psn_no="P1", stream_version=1, occurred_at=WHEN, actor=ACTOR)
    assert event.model_copy(update={"stream_version": 2}).stream_version == 2
