"""Request and response bodies of the enrollment API; every field is described for OpenAPI."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.enrollment.domain.basic_data import render_table
from services.enrollment.domain.state import PersonState, YearRecord
from shared.events import Category, Event, Gender, Identity
from shared.http_errors import ErrorPublic as ErrorPublic  # every refusal's body
from shared.money import fmt
from shared.text import NO_NUL, PRINTABLE

CSV_OR_JSON: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}, "application/json": {}}}
}
"""``responses=`` of a list a caller takes as CSV or JSON (``format=``): both media documented."""


def csv_or_json(
    format: str, rows: list[dict[str, Any]], columns: Sequence[str], filename: str
) -> Response:
    """A list in the ``format`` asked (``csv`` or ``json``): the rows as JSON, or as a CSV file
    for Excel (``render_table``) sent as the attachment ``filename``."""
    if format == "json":
        return JSONResponse(rows)
    return Response(
        render_table(columns, rows).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class RowRefusal(BaseModel):
    """A refused row of an uploaded list: where and why. The lists' answers subclass it (their
    OpenAPI names stay their own); a list whose rows are never unknown says how it counts them."""

    row: int | None = Field(description="Spreadsheet row number.")
    field: str = Field(description="The column at fault.")
    reason: str = Field(description="Why the row was refused.")


class PersonCreate(BaseModel):
    """A registration for one insurance year (SPEC §6)."""

    model_config = ConfigDict(extra="forbid")

    certno: str = Field(
        description="18-character resident ID (GB 11643); a lower-case x is accepted.",
        min_length=1,
        max_length=32,
        pattern=PRINTABLE,
        examples=["11010519491231002X"],
    )
    name: str = Field(
        description="Full name as on the ID card.", min_length=1, max_length=100, pattern=PRINTABLE
    )
    category: Category = Field(
        description="Insured category: preschool, student, university, resident."
    )
    identity: Identity = Field(
        Identity.ORDINARY,
        description="Special-person class (004). Ordinary (the default) keeps the identity the"
        " person already holds: a registration never resets a special person.",
    )
    medical_assistance: bool = Field(
        False,
        description="Medical-assistance beneficiary (医疗救助对象); false keeps the flag held"
        " (the monthly civil-affairs list sets it).",
    )
    region: str = Field(
        description="6-digit administrative division code.", pattern=r"^\d{6}$", examples=["371502"]
    )
    organization: str = Field(
        description="School, kindergarten, or street/town office.",
        min_length=1,
        max_length=200,
        pattern=PRINTABLE,
    )
    insurance_year: int = Field(
        description="Calendar year of coverage (premium collected Sep–Dec of the year before).",
        ge=2000,
        le=2100,
    )


class IdentityChange(BaseModel):
    """A special-person status gained, changed or lost."""

    model_config = ConfigDict(extra="forbid")

    identity: Identity = Field(description="The new identity.")
    medical_assistance: bool = Field(description="The new medical-assistance flag.")
    effective_from: date | None = Field(
        None,
        description="Date the change applies from; default the first day of the current month"
        " (004: a change takes effect in the month it is recorded).",
    )
    reason: str = Field(
        description="Why (e.g. civil-affairs list of the month).", min_length=1, pattern=NO_NUL
    )
    evidence_ref: str | None = Field(
        None, description="Reference of the supporting document.", pattern=NO_NUL
    )
    expected_version: int | None = Field(
        None,
        ge=0,
        description="Optional optimistic check: the stream version the client saw; 409 if moved.",
    )


class DeathRecord(BaseModel):
    """A death, or a new settlement deadline for a death already recorded."""

    model_config = ConfigDict(extra="forbid")

    date_of_death: date = Field(description="Date of death (not in the future).")
    settlement_deadline: date | None = Field(
        None,
        description="Last day claims may be settled; default date of death + 1 month, at most"
        " date of death + 3 months. Send it again later to extend.",
    )
    expected_version: int | None = Field(
        None,
        ge=0,
        description="Optional optimistic check: the stream version the client saw; 409 if moved.",
    )


class YearPublic(BaseModel):
    """One registered insurance year."""

    insurance_year: int = Field(description="Calendar year of coverage.")
    category: Category = Field(description="Insured category for that year.")
    identity: Identity = Field(description="Identity in force for that year.")
    medical_assistance: bool = Field(description="Medical-assistance flag for that year.")
    region: str = Field(description="6-digit administrative division code.")
    organization: str = Field(description="School or street/town office.")
    premium_due: str = Field(description="Personal premium owed, yuan, two decimals.")
    premium_paid: str = Field(description="Confirmed payments less refunds, yuan, two decimals.")
    subsidised: str = Field(
        description="Subsidies granted for the year (004), yuan; pending-policy ones excluded."
    )
    covered: bool = Field(description="True once premium_paid >= premium_due.")

    @field_validator("premium_due", "premium_paid", "subsidised", mode="before")
    @classmethod
    def _yuan(cls, amount: Decimal) -> str:
        return fmt(amount)

    @classmethod
    def of(cls, record: YearRecord) -> YearPublic:
        """The record's fields of the same names, its amounts as yuan with two decimals."""
        return cls.model_validate(record, from_attributes=True)


class IdentityPeriodPublic(BaseModel):
    """One step of the identity timeline."""

    effective_from: date = Field(description="First day this identity applies.")
    identity: Identity = Field(description="Identity from that day.")
    medical_assistance: bool = Field(description="Medical-assistance flag from that day.")


class PersonPublic(BaseModel):
    """A person as enrollment knows them, folded from their events."""

    psn_no: str = Field(description="Person number: opaque, stable; the stream id and Kafka key.")
    version: int = Field(description="Stream version (number of events so far).")
    certno: str = Field(description="Resident ID number (normalised).")
    name: str = Field(description="Full name.")
    gender: Gender = Field(description="From the ID number's sequence digit.")
    birth_date: date = Field(description="From the ID number.")
    identity: Identity = Field(description="Current identity.")
    medical_assistance: bool = Field(description="Current medical-assistance flag.")
    identity_timeline: list[IdentityPeriodPublic] = Field(description="Identity changes in order.")
    years: list[YearPublic] = Field(description="Registered insurance years, oldest first.")
    deceased: bool = Field(description="True once a death is recorded.")
    date_of_death: date | None = Field(description="Recorded date of death, if any.")
    settlement_deadline: date | None = Field(description="Last day claims may be settled.")

    @classmethod
    def of(cls, state: PersonState) -> PersonPublic:
        return cls(**_person_fields(state))


class RegistrationPublic(PersonPublic):
    """The answer to a registration: the person, and whether this request created it."""

    created: bool = Field(description="False when the person was already registered that year.")
    out_of_window: bool = Field(
        False,
        description="True when taken outside the year's registration window (district role);"
        " the registration is flagged.",
    )


def _person_fields(state: PersonState) -> dict[str, Any]:
    return {
        "psn_no": state.psn_no,
        "version": state.version,
        "certno": state.certno,
        "name": state.name,
        "gender": state.gender,
        "birth_date": state.birth_date,
        "identity": state.identity,
        "medical_assistance": state.medical_assistance,
        "identity_timeline": [
            IdentityPeriodPublic.model_validate(p, from_attributes=True) for p in state.timeline
        ],
        "years": [YearPublic.of(state.years[y]) for y in sorted(state.years)],
        "deceased": state.deceased,
        "date_of_death": state.date_of_death,
        "settlement_deadline": state.settlement_deadline,
    }


def registration_public(
    state: PersonState, created: bool, out_of_window: bool = False
) -> RegistrationPublic:
    return RegistrationPublic(**_person_fields(state), created=created, out_of_window=out_of_window)


class EventPublic(BaseModel):
    """One stored event with its envelope (SPEC §3)."""

    event_id: uuid.UUID = Field(description="Unique id of the event.")
    event_type: str = Field(description="registered, identity-changed, premium-paid, …")
    schema_version: int = Field(description="Payload schema version (after upcasting).")
    psn_no: str = Field(description="The stream (person) it belongs to.")
    stream_version: int = Field(description="1, 2, 3 … within the stream, no gaps.")
    occurred_at: datetime = Field(description="Business time, UTC.")
    recorded_at: datetime = Field(description="When it was stored, UTC.")
    actor: str = Field(
        description="Who wrote it: 'NAME (ROLE)' of a staff member, tax-feed, system,"
        " import:<file hash>, or unknown for events stored before actors were recorded."
    )
    payload: dict[str, Any] = Field(description="The typed payload, as JSON.")

    @classmethod
    def of(cls, event: Event) -> EventPublic:
        return cls(
            event_id=event.event_id,
            event_type=event.event_type.value,
            schema_version=event.schema_version,
            psn_no=event.psn_no,
            stream_version=event.stream_version,
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            actor=event.actor,
            payload=event.payload.model_dump(mode="json"),
        )
