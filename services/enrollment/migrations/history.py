"""The enrollment schema's one line of history: every migration, oldest first.

Each migration takes its ``revision`` and ``down_revision`` from here
(``revision, down_revision = revisions("0002_collection")``), so the order is written once and a
second head cannot appear; a new migration is added at the end of ``LINE``. (``branch_labels``
and ``depends_on`` are left out: Alembic reads them as None, which is what they always were.)
"""

from __future__ import annotations

LINE = (
    "0001_event_store",
    "0002_collection",
    "0003_events_append_only",
    "0004_staff_audit",
    "0005_actor_and_scope",
    "0006_special_persons",
    "0007_broker_recovery",
    "0008_console_summaries",
)


def revisions(revision: str) -> tuple[str, str | None]:
    """``revision`` and the one it follows on ``LINE`` (ValueError for one not on it)."""
    at = LINE.index(revision)
    return revision, LINE[at - 1] if at else None
