"""Application handlers: load a stream, ask the domain, append — inside a unit of work.

Each command handler is ``async def handler(command, uow, context)``; ``Enrollment`` wires them
to ``unit_of_work.run`` (which commits, and re-runs a handler on a concurrency conflict: the
handler re-loads and re-decides). Reads use a unit of work that is never committed.

Every handler acts for a ``Caller`` (``domain.access``): a person outside the caller's scope
reads as not found, a registration must land inside it, the events appended name the caller as
their ``actor`` and each write leaves an audit row in its own transaction.

``psn_no`` is ``"P"`` + 20 upper-case hex digits of a random UUID: opaque, stable for life,
assigned at the first registration, never derived from the certno (so it may appear in logs).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from services.enrollment.adapters.premium_files import NoPremiumRules, load_rules
from services.enrollment.domain import person as domain
from services.enrollment.domain.access import Caller
from services.enrollment.domain.errors import DomainError
from services.enrollment.domain.person import Registration
from services.enrollment.domain.premiums import PremiumRules
from services.enrollment.domain.staff import Action, Forbidden
from services.enrollment.domain.state import PersonState, fold
from services.enrollment.service_layer import unit_of_work
from services.enrollment.service_layer.subsidies import with_subsidies
from services.enrollment.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.certno import mask
from shared.china_time import china_today
from shared.events import Event, EventPayload, Identity, utcnow

log = logging.getLogger(__name__)


class PersonNotFound(DomainError):
    """Unknown — or outside the caller's scope: existence is not theirs to learn (404)."""

    def __init__(self, what: str) -> None:
        super().__init__("PERSON_NOT_FOUND", f"no person {what}")


class RegisteredElsewhere(DomainError):
    """The person's registration lies outside the caller's scope: nothing written (409)."""

    def __init__(self, year: int) -> None:
        super().__init__(
            "REGISTERED_ELSEWHERE",
            f"this person is registered by another organization for {year} or later",
        )


def new_psn_no() -> str:
    return "P" + uuid.uuid4().hex[:20].upper()


@dataclass(frozen=True)
class Context:
    """What handlers need besides the unit of work: premium rules and the calendar (``today``
    is China's date, whatever the server's zone; ``now`` is the business time of the events
    handlers write)."""

    rules_for: domain.RulesFor
    today: Callable[[], date] = china_today
    now: Callable[[], datetime] = utcnow


def rules_from_directory(directory: Path) -> domain.RulesFor:
    def rules_for(region: str, insurance_year: int) -> PremiumRules:
        try:
            return load_rules(directory, region, insurance_year)
        except NoPremiumRules as exc:
            raise DomainError("NO_PREMIUM_RULES", str(exc)) from exc

    return rules_for


@dataclass(frozen=True)
class RegisterResult:
    psn_no: str
    created: bool
    person: PersonState
    out_of_window: bool = False


OUT_OF_WINDOW = "out_of_window"
WINDOW_NOTE = "registered outside the year's registration window (taken by the district role)"


@dataclass(frozen=True)
class ChangeIdentity:
    psn_no: str
    identity: Identity
    medical_assistance: bool
    reason: str
    effective_from: date | None = None  # None: the first day of the current month (004)
    evidence_ref: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class RecordDeath:
    psn_no: str
    date_of_death: date
    settlement_deadline: date | None = None
    expected_version: int | None = None


async def load_person(
    uow: UnitOfWork, psn_no: str, caller: Caller, expected_version: int | None = None
) -> tuple[list[Event], PersonState]:
    """The stream and its state; not found outside the caller's scope; ``VERSION_CONFLICT`` when
    the client saw another version."""
    history = await uow.events.load(psn_no)
    state = fold(history)
    if state is None or not caller.sees_person(state):
        raise PersonNotFound(psn_no)
    if expected_version is not None and expected_version != state.version:
        raise DomainError(
            "VERSION_CONFLICT",
            f"person {psn_no} is at version {state.version}, not {expected_version}",
        )
    return history, state


async def handle_register(
    cmd: Registration, uow: UnitOfWork, ctx: Context, caller: Caller
) -> RegisterResult:
    if not caller.sees(region=cmd.region, organization=cmd.organization):
        raise Forbidden("the registration's region or organization is outside your scope")
    today = ctx.today()
    certno = domain.normalise_certno(cmd.certno, today).value
    psn_no = await uow.events.find_psn_no(certno)
    history = await uow.events.load(psn_no) if psn_no else []
    state = fold(history)
    new = domain.register(state, cmd, ctx.rules_for, today)
    late = bool(new) and domain.outside_window(
        ctx.rules_for(cmd.region, cmd.insurance_year), new[0], today
    )
    # the route lets REGISTER or REGISTER_LATE in: which one this registration needs is known now
    caller.check(Action.REGISTER_LATE if late else Action.REGISTER)
    psn_no = psn_no or new_psn_no()
    events = with_subsidies(
        psn_no, state, new, years=[cmd.insurance_year], at=ctx.now(), actor=caller.event_actor
    )
    person = fold([*history, *events])
    assert person is not None
    if not caller.sees_person(person):  # another organization holds this year or a later one
        raise RegisteredElsewhere(cmd.insurance_year)
    if not new:
        return RegisterResult(psn_no, created=False, person=person)
    await uow.events.append_many(events)
    detail = {"insurance_year": cmd.insurance_year, "organization": cmd.organization}
    action = Action.REGISTER_LATE if late else Action.REGISTER
    await uow.audit.record(caller.actor, action.value, psn_no=psn_no, detail=detail)
    if late:
        await uow.special.flag_registrations(
            [psn_no], cmd.insurance_year, OUT_OF_WINDOW, WINDOW_NOTE, caller.event_actor, utcnow()
        )
    log.info("registered %s (%s) for %d", psn_no, mask(certno), cmd.insurance_year)
    return RegisterResult(psn_no, created=True, person=person, out_of_window=late)


async def handle_change_identity(
    cmd: ChangeIdentity, uow: UnitOfWork, ctx: Context, caller: Caller
) -> PersonState:
    history, state = await load_person(uow, cmd.psn_no, caller, cmd.expected_version)
    today = ctx.today()
    # 004: a change counts from the 1st of the month it is recorded in; an earlier month is
    # back-dating (the district's), a later one is refused.
    backdated = (cmd.effective_from or today) < today.replace(day=1)
    caller.check(Action.BACKDATE_IDENTITY if backdated else Action.CHANGE_IDENTITY)
    effective_from = domain.recorded_month(cmd.effective_from, today, may_backdate=True)
    new = domain.change_identity(
        state,
        identity=cmd.identity,
        medical_assistance=cmd.medical_assistance,
        effective_from=effective_from,
        reason=cmd.reason,
        evidence_ref=cmd.evidence_ref,
        rules_for=ctx.rules_for,
    )
    action = Action.BACKDATE_IDENTITY if backdated else Action.CHANGE_IDENTITY
    detail = {"identity": cmd.identity.value, "effective_from": effective_from.isoformat()}
    years = [y for y in state.years if y >= effective_from.year]
    appended = await _append(
        uow, cmd.psn_no, history, new, caller, action, detail, at=ctx.now(), years=years
    )
    return _refold(history, appended)


async def handle_record_death(
    cmd: RecordDeath, uow: UnitOfWork, ctx: Context, caller: Caller
) -> PersonState:
    history, state = await load_person(uow, cmd.psn_no, caller, cmd.expected_version)
    new = domain.record_death(
        state,
        date_of_death=cmd.date_of_death,
        settlement_deadline=cmd.settlement_deadline,
        today=ctx.today(),
    )
    detail = {"date_of_death": cmd.date_of_death.isoformat()}
    appended = await _append(
        uow, cmd.psn_no, history, new, caller, Action.RECORD_DEATH, detail, at=ctx.now()
    )
    return _refold(history, appended)


async def _append(
    uow: UnitOfWork,
    psn_no: str,
    history: list[Event],
    new: list[EventPayload],
    caller: Caller,
    action: Action,
    detail: dict[str, str],
    *,
    at: datetime,
    years: list[int] | None = None,
) -> list[Event]:
    """Number the new payloads after ``history`` and append them (a batch of one stream), with
    the subsidy events they bring for ``years`` and the audit row of the write."""
    appended = with_subsidies(
        psn_no, fold(history), new, years=years or [], at=at, actor=caller.event_actor
    )
    await uow.events.append_many(appended)
    if appended:
        await uow.audit.record(caller.actor, action.value, psn_no=psn_no, detail=detail)
    return appended


def _refold(history: list[Event], appended: list[Event]) -> PersonState:
    state = fold([*history, *appended])
    assert state is not None
    return state


class Enrollment:
    """The application: command and query entry points over one database."""

    def __init__(self, uow: UnitOfWorkFactory, context: Context) -> None:
        self.uow = uow
        self.context = context

    async def register(self, cmd: Registration, caller: Caller) -> RegisterResult:
        return await unit_of_work.run(
            self.uow, lambda uow: handle_register(cmd, uow, self.context, caller)
        )

    async def change_identity(self, cmd: ChangeIdentity, caller: Caller) -> PersonState:
        return await unit_of_work.run(
            self.uow, lambda uow: handle_change_identity(cmd, uow, self.context, caller)
        )

    async def record_death(self, cmd: RecordDeath, caller: Caller) -> PersonState:
        return await unit_of_work.run(
            self.uow, lambda uow: handle_record_death(cmd, uow, self.context, caller)
        )

    async def person(self, psn_no: str, caller: Caller) -> PersonState:
        async with self.uow() as uow:
            return (await load_person(uow, psn_no, caller))[1]

    async def person_by_certno(self, raw_certno: str, caller: Caller) -> PersonState:
        certno = domain.normalise_certno(raw_certno, self.context.today()).value
        async with self.uow() as uow:
            psn_no = await uow.events.find_psn_no(certno)
            if psn_no is None:
                raise PersonNotFound(f"with certno {mask(certno)}")
            try:
                return (await load_person(uow, psn_no, caller))[1]
            except PersonNotFound:  # outside the scope: answered as if unknown
                raise PersonNotFound(f"with certno {mask(certno)}") from None

    async def events(self, psn_no: str, caller: Caller) -> list[Event]:
        async with self.uow() as uow:
            return (await load_person(uow, psn_no, caller))[0]
