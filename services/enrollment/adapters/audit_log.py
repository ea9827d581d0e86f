"""The audit log (table ``audit_log``, migration 0004): who did what, append-only.

Like the events table, the database refuses UPDATE and DELETE on it (a trigger), so a row once
committed stays as written. A row is written in the same transaction as the act it records:
an act that rolls back leaves no audit row, and an audit row always has its act.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Column, Index, Integer, String, Table, Text, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.tables import Position, UtcDateTime, metadata
from services.enrollment.domain.staff import Actor

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Position, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("actor_name", String(64), nullable=False),
    Column("actor_role", String(20), nullable=False),
    Column("action", String(60), nullable=False),
    Column("psn_no", String(32), nullable=True, index=True),
    Column("records", Integer, nullable=False),
    Column("detail", Text, nullable=True),
    CheckConstraint("records >= 0", name="ck_audit_log_records_non_negative"),
    Index("ix_audit_log_actor_at", "actor_name", "at"),
    sqlite_autoincrement=True,
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit log."""

    id: int
    at: datetime
    actor: Actor
    action: str
    psn_no: str | None
    records: int
    detail: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of ``GET /api/v1/audit``: ``at`` in [start, end), one actor, one person."""

    start: datetime | None = None
    end: datetime | None = None
    actor: str | None = None
    psn_no: str | None = None
    after_id: int = 0
    limit: int = 1000


class AuditLog:
    """Record and read audit rows within the caller's session (the caller commits)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        actor: Actor,
        action: str,
        psn_no: str | None = None,
        records: int = 0,
        detail: dict[str, Any] | None = None,
        *,
        now: datetime | None = None,
    ) -> None:
        """Append who did ``action`` (to ``psn_no``, or to ``records`` rows of a bulk export)."""
        await self.session.execute(
            audit_log.insert().values(
                at=now or datetime.now(UTC),
                actor_name=actor.name,
                actor_role=actor.role,
                action=action,
                psn_no=psn_no,
                records=records,
                detail=json.dumps(detail, ensure_ascii=False, sort_keys=True)
                if detail is not None
                else None,
            )
        )

    async def entries(self, query: AuditQuery) -> list[AuditEntry]:
        """The matching rows, oldest first (page on with ``after_id`` = the last id seen)."""
        c = audit_log.c
        select_ = select(audit_log).where(c.id > query.after_id)
        if query.start is not None:
            select_ = select_.where(c.at >= query.start)
        if query.end is not None:
            select_ = select_.where(c.at < query.end)
        if query.actor is not None:
            select_ = select_.where(c.actor_name == query.actor)
        if query.psn_no is not None:
            select_ = select_.where(c.psn_no == query.psn_no)
        rows = await self.session.execute(select_.order_by(c.id).limit(query.limit))
        return [
            AuditEntry(
                row.id,
                row.at,
                Actor(row.actor_name, row.actor_role),
                row.action,
                row.psn_no,
                row.records,
                json.loads(row.detail) if row.detail is not None else None,
            )
            for row in rows
        ]

    async def count(self, actor_name: str, action: str, since: datetime) -> int:
        """How many ``action`` rows ``actor_name`` has since ``since`` (the login rate limit)."""
        c = audit_log.c
        query = (
            select(func.count())
            .select_from(audit_log)
            .where(c.actor_name == actor_name, c.action == action, c.at >= since)
        )
        return int(await self.session.scalar(query) or 0)

    async def latest(self, actor_name: str, action: str) -> datetime | None:
        """When ``actor_name`` last did ``action`` (None if never)."""
        c = audit_log.c
        query = select(func.max(c.at)).where(c.actor_name == actor_name, c.action == action)
        return await self.session.scalar(query)  # type: ignore[no-any-return]
