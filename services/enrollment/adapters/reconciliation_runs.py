"""The reconciliation's passes, kept (``reconciliation_runs``) so ``/metrics`` can show the last."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.enrollment.adapters.recovery_tables import reconciliation_runs
from services.enrollment.domain.reconciliation import Kind, Tally
from shared.events import utcnow


async def record(conn: AsyncConnection, started_at: datetime, tally: Tally) -> None:
    """Keep one pass's counts."""
    await conn.execute(
        insert(reconciliation_runs).values(
            started_at=started_at,
            finished_at=utcnow(),
            compared=tally.compared,
            **{kind.value: n for kind, n in tally.by_kind.items()},
            healed_events=tally.healed_events,
            clean=tally.clean,
        )
    )


async def last(conn: AsyncConnection) -> dict[str, Any] | None:
    """The last pass: its counts by kind and when it finished (None: never reconciled)."""
    row = (
        await conn.execute(
            select(reconciliation_runs).order_by(reconciliation_runs.c.id.desc()).limit(1)
        )
    ).first()
    if row is None:
        return None
    return {
        "finished_at": row.finished_at,
        "by_kind": {kind: int(getattr(row, kind.value)) for kind in Kind},
    }
