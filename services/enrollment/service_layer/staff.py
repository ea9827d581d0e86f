"""Staff use cases: manage the registry, log in, and tell who a bearer token belongs to.

Each opens one transaction and writes its audit row inside it, so a change and the record of
who made it commit together. The console commands and the HTTP routes both call these.
"""

from __future__ import annotations

import asyncio
import getpass
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.enrollment.adapters.audit_log import AuditLog
from services.enrollment.adapters.staff_cache import StaffCache, notify_changed
from services.enrollment.adapters.staff_store import (
    StaffMember,
    StaffStore,
    password_matches,
    token_hash,
)
from services.enrollment.domain.staff import (
    FAILED_LOGIN_WINDOW,
    Actor,
    Staff,
    TooManyAttempts,
    login_locked,
    valid_name,
)
from shared import staff_tokens
from shared.staff_tokens import Unauthenticated

STAFF_ADDED = "staff.add"
STAFF_ROTATED = "staff.rotate_token"
STAFF_DISABLED = "staff.disable"
LOGGED_IN = "session.created"
LOGIN_REFUSED = "session.refused"
"""Audit actions written here; a refused login also feeds the rate limit."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def console_actor() -> Actor:
    """Who runs a console command: the operating-system user, as a system actor."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = "unknown"
    return Actor(f"cli:{user}"[:64], "system")


@dataclass(frozen=True, slots=True)
class AccessToken:
    """What a successful login answers."""

    token: str
    expires_in: int


async def add_staff(
    sessionmaker: async_sessionmaker[Any],
    staff: Staff,
    *,
    actor: Actor,
    password: str | None = None,
    rotate_if_exists: bool = False,
) -> str:
    """Register ``staff`` and return its token.

    ``rotate_if_exists``: when the name exists with the same role and scope, rotate its token
    (and set ``password``, if given) instead (``make run``'s demo admin, every start); a
    different role or scope still refuses.
    """
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        store = StaffStore(session)
        existing = await store.by_name(staff.name, lock=True) if rotate_if_exists else None
        if existing is not None and existing.staff == staff:
            token = await store.rotate_token(staff.name)
            if password is not None:  # a setup script's login (make run's console) follows it
                await store.set_password(staff.name, password)
            action = STAFF_ROTATED
        else:
            token = await store.add(staff, now=now, password=password)
            action = STAFF_ADDED
        detail = {"name": staff.name, "role": staff.role.value, **staff.scope}
        await AuditLog(session).record(actor, action, detail=detail, now=now)
        await notify_changed(session)
    return token


async def list_staff(sessionmaker: async_sessionmaker[Any]) -> list[StaffMember]:
    async with sessionmaker() as session:
        return await StaffStore(session).all()


async def rotate_token(sessionmaker: async_sessionmaker[Any], name: str, *, actor: Actor) -> str:
    """A new token for ``name``; the old one is refused from the commit on."""
    async with sessionmaker() as session, session.begin():
        token = await StaffStore(session).rotate_token(name)
        await AuditLog(session).record(actor, STAFF_ROTATED, detail={"name": name})
        await notify_changed(session)
    return token


async def disable_staff(
    sessionmaker: async_sessionmaker[Any], name: str, *, actor: Actor
) -> StaffMember:
    """Disable ``name``: its token, its signed tokens and its logins are refused from now on."""
    async with sessionmaker() as session, session.begin():
        member = await StaffStore(session).disable(name, now=datetime.now(UTC))
        await AuditLog(session).record(actor, STAFF_DISABLED, detail={"name": name})
        await notify_changed(session)
    return member


async def authenticate(
    sessionmaker: async_sessionmaker[Any],
    token: str,
    key: Ed25519PublicKey | staff_tokens.Verifier | None,
    *,
    now: datetime | None = None,
    cache: StaffCache | None = None,
) -> Staff:
    """The staff member a bearer token stands for: a staff token or a signed access token.

    A signed token is checked against the registry too, so disabling someone refuses their
    access tokens at once rather than when they expire. ``cache`` spares the registry read
    while the registry has not changed (``adapters/staff_cache.py``).
    """
    if staff_tokens.is_access_token(token):
        if key is None:
            raise Unauthenticated("signed tokens are not accepted here (no verification key)")
        if isinstance(key, staff_tokens.Verifier):
            claims = key.verify(token, now=now)
        else:
            claims = staff_tokens.verify(key, token, now=now)
        member = await _member(sessionmaker, cache, "name", claims.name)
        if member is None or member.staff.role.value != claims.role:
            raise Unauthenticated("the access token's staff member is unknown")
    else:
        member = await _member(sessionmaker, cache, "token", token_hash(token))
        if member is None:
            raise Unauthenticated("unknown token")
    if not member.active:
        raise Unauthenticated("this staff member is disabled")
    return member.staff


async def _member(
    sessionmaker: async_sessionmaker[Any], cache: StaffCache | None, by: str, value: str
) -> StaffMember | None:
    """The member by ``name`` or by ``token`` hash, from the cache when it holds them."""
    key = (by, value)
    if cache is not None and (member := cache.get(key)) is not None:
        return member
    generation = cache.generation if cache is not None else 0
    async with sessionmaker() as session:
        store = StaffStore(session)
        member = await (store.by_name(value) if by == "name" else store.by_token_hash(value))
    if cache is not None and member is not None:
        cache.put(key, member, generation)
    return member


async def login(
    sessionmaker: async_sessionmaker[Any],
    name: str,
    password: str,
    key: Ed25519PrivateKey,
    *,
    now: datetime | None = None,
) -> AccessToken:
    """A signed access token for a right name and password.

    The staff row is locked while the password is checked, so concurrent guesses for one name
    queue up and the count of recent failures cannot be outrun. Failures are audit rows, counted
    since the later of the window's start and the last successful login.
    """
    if not valid_name(name):
        raise Unauthenticated("wrong name or password")
    now = now or datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        audit, store = AuditLog(session), StaffStore(session)
        member = await store.by_name(name, lock=True)
        since = max(now - FAILED_LOGIN_WINDOW, await audit.latest(name, LOGGED_IN) or EPOCH)
        if login_locked(await audit.count(name, LOGIN_REFUSED, since)):
            raise TooManyAttempts(int(FAILED_LOGIN_WINDOW.total_seconds()))
        stored = await store.password_hash(name) if member else None
        # argon2 takes tens of milliseconds of CPU: keep the event loop free meanwhile.
        matches = await asyncio.to_thread(password_matches, stored, password)
        refusal = _refusal(member, matches)
        role = member.staff.role.value if member else "unknown"
        action = LOGGED_IN if refusal is None else LOGIN_REFUSED
        detail = {"reason": refusal} if refusal else None
        await audit.record(Actor(name, role), action, detail=detail, now=now)
    if refusal is not None or member is None:  # committed first: the failure must count
        raise Unauthenticated(
            "this staff member is disabled" if refusal == "disabled" else "wrong name or password"
        )
    staff = member.staff
    token, expires_in = staff_tokens.sign(
        key, staff.name, staff.role.value, scope=staff.scope, now=now
    )
    return AccessToken(token, expires_in)


def _refusal(member: StaffMember | None, matches: bool) -> str | None:
    if member is None:
        return "unknown"
    if not matches:
        return "password"
    if not member.active:
        return "disabled"
    return None
