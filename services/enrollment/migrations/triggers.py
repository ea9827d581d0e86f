"""Append-only tables: the database itself refuses UPDATE and DELETE (migrations 0003, 0004).

On PostgreSQL a row trigger raises; on SQLite a trigger per statement kind aborts. Kept in one
place so every append-only table is refused the same way; the SQL for ``events`` is exactly what
migration 0003 always ran.
"""

from __future__ import annotations

from alembic import op


def append_only(table: str, subject: str) -> None:
    """Refuse UPDATE and DELETE on ``table``; ``subject`` starts the message ("events are")."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{subject} append-only (% refused)', TG_OP;
            END $$
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table}"
                f" BEGIN SELECT RAISE(ABORT, '{subject} append-only ({action} refused)'); END"
            )


def drop_append_only(table: str) -> None:
    """Undo ``append_only(table, …)``."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute(f"DROP FUNCTION {table}_append_only()")
    else:
        op.execute(f"DROP TRIGGER {table}_no_update")
        op.execute(f"DROP TRIGGER {table}_no_delete")
