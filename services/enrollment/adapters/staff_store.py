"""The staff registry (table ``staff``, migration 0004): hashed tokens, argon2 passwords.

Neither a token nor a password is stored. A staff token is 256 random bits, so a fast SHA-256
of it is as good as a slow hash and lets a request find its owner with one indexed lookup; a
password is chosen by a person, so it gets argon2id (memory-hard, salted) and is only checked
at login. The caller owns the transaction (``async with session.begin()``).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, String, Table, Text, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.tables import Position, UtcDateTime, metadata
from services.enrollment.domain.staff import Role, Source, Staff, StaffError

staff_table = Table(
    "staff",
    metadata,
    Column("id", Position, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("region", String(12), nullable=True),
    Column("organization", String(100), nullable=True),
    Column("source", String(40), nullable=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=True),
    Column("disabled_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    sqlite_autoincrement=True,
)

_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Checked when there is no hash, so an unknown name costs as long as a wrong password."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def new_token() -> str:
    """A fresh staff token: 32 random bytes, URL-safe (no dots, unlike a signed token)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the table keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches the stored argon2 hash (always False without one)."""
    try:
        return _HASHER.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A row of the registry as callers see it: never a token, never a hash."""

    staff: Staff
    created_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


_PUBLIC_COLUMNS = [
    staff_table.c.name,
    staff_table.c.role,
    staff_table.c.region,
    staff_table.c.organization,
    staff_table.c.source,
    staff_table.c.created_at,
    staff_table.c.disabled_at,
]


def _member(row: Any) -> StaffMember:
    staff = Staff(
        row.name,
        Role(row.role),
        region=row.region,
        organization=row.organization,
        source=Source(row.source) if row.source is not None else None,
    )
    return StaffMember(staff, row.created_at, row.disabled_at)


class StaffStore:
    """Add, find, rotate and disable staff within the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, staff: Staff, *, now: datetime, password: str | None = None) -> str:
        """Register ``staff``; returns the token (shown once: only its hash is kept)."""
        token = new_token()
        values = {**staff.scope, "name": staff.name, "role": staff.role.value}
        try:
            await self.session.execute(
                staff_table.insert().values(
                    **values,
                    token_hash=token_hash(token),
                    password_hash=hash_password(password) if password is not None else None,
                    created_at=now,
                )
            )
        except IntegrityError:  # the unique name; the caller's transaction rolls back
            raise StaffError("STAFF_EXISTS", f"staff {staff.name!r} already exists") from None
        return token

    async def all(self) -> list[StaffMember]:
        rows = await self.session.execute(select(*_PUBLIC_COLUMNS).order_by(staff_table.c.name))
        return [_member(row) for row in rows]

    async def by_name(self, name: str, *, lock: bool = False) -> StaffMember | None:
        """The member called ``name``; ``lock`` holds its row until the transaction ends."""
        query = select(*_PUBLIC_COLUMNS).where(staff_table.c.name == name)
        row = (await self.session.execute(query.with_for_update() if lock else query)).first()
        return _member(row) if row else None

    async def by_token(self, token: str) -> StaffMember | None:
        """The member whose token this is, disabled or not (the caller decides)."""
        return await self.by_token_hash(token_hash(token))

    async def by_token_hash(self, hashed: str) -> StaffMember | None:
        """The member whose token has this SHA-256 (``token_hash``), disabled or not."""
        query = select(*_PUBLIC_COLUMNS).where(staff_table.c.token_hash == hashed)
        row = (await self.session.execute(query)).first()
        return _member(row) if row else None

    async def password_hash(self, name: str) -> str | None:
        query = select(staff_table.c.password_hash).where(staff_table.c.name == name)
        return await self.session.scalar(query)

    async def rotate_token(self, name: str) -> str:
        """A new token for ``name``; the old one stops working at commit."""
        token = new_token()
        await self._update(name, token_hash=token_hash(token))
        return token

    async def set_password(self, name: str, password: str) -> None:
        """A new login password for ``name`` (stored as its argon2id hash)."""
        await self._update(name, password_hash=hash_password(password))

    async def disable(self, name: str, *, now: datetime) -> StaffMember:
        """Disable ``name`` (its token and logins are refused); disabling twice keeps the date."""
        member = await self.by_name(name, lock=True)
        if member is None:
            raise _not_found(name)
        if member.active:
            await self._update(name, disabled_at=now)
            member = StaffMember(member.staff, member.created_at, now)
        return member

    async def _update(self, name: str, **values: Any) -> None:
        done = await self.session.execute(
            update(staff_table).where(staff_table.c.name == name).values(**values)
        )
        if done.rowcount == 0:  # type: ignore[attr-defined]
            raise _not_found(name)


def _not_found(name: str) -> StaffError:
    return StaffError("STAFF_NOT_FOUND", f"no staff member is called {name!r}")
