"""The hospital registry: who may call the HIS API, and the profile adjudication uses.

An API key is ``secrets.token_urlsafe(32)``, shown once and stored only as its SHA-256 hash;
a hospital's level, public and primary-care status come from here, never from a request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.settlement.adapters.tables import hospitals
from shared.errors import CodedError

DEMO_CODE = "DEMO"


class HospitalError(CodedError):
    """A registry operation refused (unknown code, duplicate code); ``code`` is stable."""


@dataclass(frozen=True, slots=True)
class Hospital:
    """A registered hospital: who calls, and the profile adjudication uses."""

    id: int
    code: str
    name: str
    level: int
    public: bool
    primary_care: bool
    active: bool

    @classmethod
    def from_row(cls, row: Any) -> Hospital:
        """A hospital from a ``hospitals`` row (its key hash stays in the database)."""
        return cls(**{field.name: getattr(row, field.name) for field in fields(cls)})


class HospitalRegistry:
    """The registry as the HIS API asks it: whose key is this?"""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def by_key(self, key: str) -> Hospital | None:
        """The active hospital a key belongs to, or None."""
        async with self.engine.connect() as conn:
            return await by_key(conn, key)


def new_key() -> str:
    return secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """What is stored: the SHA-256 of the key (a 256-bit random key needs no slow hash)."""
    return hashlib.sha256(key.encode()).hexdigest()


async def add(
    conn: AsyncConnection,
    *,
    code: str,
    name: str,
    level: int,
    public: bool = False,
    primary_care: bool = False,
) -> tuple[Hospital, str]:
    """Register a hospital; returns it and its API key (the only time the key is seen)."""
    if level not in (1, 2, 3):
        raise HospitalError("INVALID_LEVEL", "level is 1, 2 or 3")
    key = new_key()
    try:
        row = (
            await conn.execute(
                insert(hospitals)
                .values(
                    code=code,
                    name=name,
                    level=level,
                    public=public,
                    primary_care=primary_care,
                    key_hash=hash_key(key),
                    active=True,
                    created_at=datetime.now(UTC),
                )
                .returning(*hospitals.c)
            )
        ).one()
    except IntegrityError:
        raise HospitalError("HOSPITAL_EXISTS", f"hospital {code} is already registered") from None
    return Hospital.from_row(row), key


async def rotate_key(conn: AsyncConnection, code: str) -> str:
    """Replace a hospital's key (the old one stops working at once) and re-enable it."""
    key = new_key()
    result = await conn.execute(
        update(hospitals)
        .where(hospitals.c.code == code)
        .values(key_hash=hash_key(key), active=True)
    )
    if result.rowcount != 1:
        raise HospitalError("UNKNOWN_HOSPITAL", f"no hospital {code}")
    return key


async def disable(conn: AsyncConnection, code: str) -> None:
    result = await conn.execute(
        update(hospitals).where(hospitals.c.code == code).values(active=False)
    )
    if result.rowcount != 1:
        raise HospitalError("UNKNOWN_HOSPITAL", f"no hospital {code}")


async def list_all(conn: AsyncConnection) -> list[Hospital]:
    rows = await conn.execute(select(hospitals).order_by(hospitals.c.code))
    return [Hospital.from_row(r) for r in rows]


async def by_key(conn: AsyncConnection, key: str) -> Hospital | None:
    """The active hospital a key belongs to, or None."""
    row = (
        await conn.execute(select(hospitals).where(hospitals.c.key_hash == hash_key(key)))
    ).first()
    if row is None or not row.active:
        return None
    return Hospital.from_row(row)


async def demo(conn: AsyncConnection) -> tuple[Hospital, str]:
    """Create hospital DEMO (level 2, public, primary care) or rotate its key; idempotent."""
    row = (await conn.execute(select(hospitals).where(hospitals.c.code == DEMO_CODE))).first()
    if row is None:
        return await add(
            conn,
            code=DEMO_CODE,
            name="Demo People's Hospital",
            level=2,
            public=True,
            primary_care=True,
        )
    key = await rotate_key(conn, DEMO_CODE)
    row = (await conn.execute(select(hospitals).where(hospitals.c.code == DEMO_CODE))).one()
    return Hospital.from_row(row), key
