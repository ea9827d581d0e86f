"""``/api/v1/persons``: register, read, change identity, record death.

Each route declares who may call it (``acting(Action.X)``) and hands the ``Caller`` to the
handler, which enforces the scope: a person outside it is 404, a registration outside it 403.
A person's own record within scope carries the whole ID number (SPEC §8).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status

from services.enrollment.domain.access import Caller
from services.enrollment.domain.person import Registration
from services.enrollment.domain.staff import Action
from services.enrollment.entrypoints.api.auth import acting
from services.enrollment.entrypoints.api.deps import EnrollmentDep
from services.enrollment.entrypoints.api.schemas import (
    DeathRecord,
    ErrorPublic,
    EventPublic,
    IdentityChange,
    PersonCreate,
    PersonPublic,
    RegistrationPublic,
    registration_public,
)
from services.enrollment.service_layer.persons import ChangeIdentity, RecordDeath
from shared.text import PRINTABLE

router = APIRouter(prefix="/api/v1/persons", tags=["persons"])

PsnNo = Annotated[
    str, Path(description="Person number (psn_no).", min_length=1, max_length=32, pattern=PRINTABLE)
]
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "Unknown person."},
    409: {"model": ErrorPublic, "description": "The person changed concurrently."},
    422: {"model": ErrorPublic, "description": "Invalid request or a rule refused it."},
}
Reader = Annotated[Caller, Depends(acting(Action.READ_PERSONS))]


@router.post(
    "",
    response_model=RegistrationPublic,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": RegistrationPublic, "description": "Already registered."}, **ERRORS},
    summary="Register a person for an insurance year",
)
async def register(
    body: PersonCreate,
    enrollment: EnrollmentDep,
    response: Response,
    caller: Annotated[Caller, Depends(acting(Action.REGISTER, Action.REGISTER_LATE))],
) -> RegistrationPublic:
    """201 with the new registration; 200 with the existing one for the same certno and year.

    A town registers only in its organization (403); a person another organization holds for
    the year or a later one is 409 ``REGISTERED_ELSEWHERE``. Outside the year's registration
    window only the district role registers, and the registration is flagged ``out_of_window``.
    A blank identity keeps the one the person holds.
    """
    result = await enrollment.register(Registration(**body.model_dump()), caller)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return registration_public(result.person, result.created, result.out_of_window)


@router.get("", response_model=PersonPublic, responses=ERRORS, summary="Find a person by certno")
async def find_by_certno(
    enrollment: EnrollmentDep,
    certno: Annotated[
        str, Query(description="Resident ID number.", max_length=32, pattern=PRINTABLE)
    ],
    caller: Reader,
) -> PersonPublic:
    return PersonPublic.of(await enrollment.person_by_certno(certno, caller))


@router.get("/{psn_no}", response_model=PersonPublic, responses=ERRORS, summary="Read a person")
async def read(psn_no: PsnNo, enrollment: EnrollmentDep, caller: Reader) -> PersonPublic:
    return PersonPublic.of(await enrollment.person(psn_no, caller))


@router.get(
    "/{psn_no}/events",
    response_model=list[EventPublic],
    responses=ERRORS,
    summary="A person's event stream",
)
async def events(psn_no: PsnNo, enrollment: EnrollmentDep, caller: Reader) -> list[EventPublic]:
    return [EventPublic.of(e) for e in await enrollment.events(psn_no, caller)]


@router.post(
    "/{psn_no}/identity",
    response_model=PersonPublic,
    responses=ERRORS,
    summary="Change identity (special-person status)",
)
async def change_identity(
    psn_no: PsnNo,
    body: IdentityChange,
    enrollment: EnrollmentDep,
    caller: Annotated[Caller, Depends(acting(Action.CHANGE_IDENTITY, Action.BACKDATE_IDENTITY))],
) -> PersonPublic:
    """Appends identity-changed (and premium-due-changed for each year whose amount changes).

    A change effective before the current month is back-dating: ``persons.backdate_identity``.
    """
    command = ChangeIdentity(psn_no=psn_no, **body.model_dump())
    return PersonPublic.of(await enrollment.change_identity(command, caller))


@router.post(
    "/{psn_no}/death", response_model=PersonPublic, responses=ERRORS, summary="Record a death"
)
async def record_death(
    psn_no: PsnNo,
    body: DeathRecord,
    enrollment: EnrollmentDep,
    caller: Annotated[Caller, Depends(acting(Action.RECORD_DEATH))],
) -> PersonPublic:
    """Deadline = date of death + 1 month unless given; later calls may move it (≤ + 3 months)."""
    state = await enrollment.record_death(RecordDeath(psn_no=psn_no, **body.model_dump()), caller)
    return PersonPublic.of(state)
