"""The ledger rows of a period, with the amounts of the settlement each one posts or takes back.

A settlement row's amounts are in its stored answer (JSON); a reversal row carries none, so it
is joined to its settlement by ``setl_id``. The range on ``created_at`` runs on
``ix_ledger_hospital_created`` (one hospital) or ``ix_ledger_created`` (every hospital), so a
statement reads its period's rows, not the whole ledger. The JSON is read by the database
(``json_extract`` on SQLite, ``->>`` on PostgreSQL) and the amounts come back as text, turned
into exact ``Decimal`` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, cast, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from services.settlement.adapters.ledger import SETTLEMENT
from services.settlement.adapters.tables import ledger
from shared.money import CENT

AMOUNTS = (
    "medfee_sumamt",
    "fund_pay_sumamt",
    "hifp_pay",
    "hifmi_pay",
    "maf_pay",
    "psn_part_amt",
)
"""The answer's amounts a statement adds up, in the NHSA names."""


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """A ledger row of the period: a settlement, or a reversal with its settlement's amounts."""

    setl_id: str
    hospital_id: int
    mdtrt_id: str
    psn_no: str
    med_type: str
    entry_type: str  # settlement | reversal
    posted_at: datetime  # UTC
    amounts: dict[str, Decimal]  # as the settlement answered them (unsigned)


def _amount(dialect: str, response: Any, name: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return cast(response, postgresql.JSON)[name].astext
    return func.json_extract(response, f"$.{name}")


class LedgerLines:
    """Reads a period's ledger lines (``statements.LineReader``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        settled = ledger.alias("settled")
        dialect = engine.dialect.name
        self._query = (
            select(
                ledger.c.setl_id,
                ledger.c.hospital_id,
                ledger.c.mdtrt_id,
                ledger.c.psn_no,
                ledger.c.med_type,
                ledger.c.entry_type,
                ledger.c.created_at,
                *(_amount(dialect, settled.c.response, name).label(name) for name in AMOUNTS),
            )
            .join(
                settled,
                and_(settled.c.setl_id == ledger.c.setl_id, settled.c.entry_type == SETTLEMENT),
            )
            .order_by(ledger.c.created_at, ledger.c.id)
        )

    async def lines(
        self, hospital_id: int | None, since: datetime, until: datetime
    ) -> list[LedgerLine]:
        """Rows with ``since <= created_at < until`` (UTC), of one hospital or of all."""
        query = self._query.where(ledger.c.created_at >= since, ledger.c.created_at < until)
        if hospital_id is not None:
            query = query.where(ledger.c.hospital_id == hospital_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_line(row) for row in rows]


def _line(row: Any) -> LedgerLine:
    posted = row.created_at
    if posted.tzinfo is None:  # SQLite keeps the UTC wall time without its offset
        posted = posted.replace(tzinfo=UTC)
    return LedgerLine(
        setl_id=row.setl_id,
        hospital_id=row.hospital_id,
        mdtrt_id=row.mdtrt_id,
        psn_no=row.psn_no,
        med_type=row.med_type,
        entry_type=row.entry_type,
        posted_at=posted,
        amounts={name: Decimal(getattr(row, name) or "0").quantize(CENT) for name in AMOUNTS},
    )
