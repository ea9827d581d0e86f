"""Refused settlements, counted per China-time day, hospital and code (for the console).

A refusal writes nothing to the ledger, so without this the console could not say which codes
hospitals meet; the Prometheus counter (``settlement_settlements_total`` by outcome) is per
process and starts again at zero on every restart. One upsert per refusal, outside the
settlement's own work: a failure here is logged and the refusal is answered all the same.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import BigInteger, Column, Date, Integer, PrimaryKeyConstraint, String, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from services.settlement.adapters.tables import metadata
from shared.china_time import CHINA_STANDARD_TIME

log = logging.getLogger(__name__)

refusals_daily = Table(
    "refusals_daily",
    metadata,
    Column("day", Date, nullable=False),
    Column("hospital_id", Integer, nullable=False),
    Column("code", String(64), nullable=False),
    Column("refusals", BigInteger, nullable=False),
    PrimaryKeyConstraint("day", "hospital_id", "code"),
)


class RefusalLog:
    """Counts refused settlements in the settlement database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(self, hospital_id: int, code: str, at: datetime) -> None:
        """One more refusal with ``code`` for the hospital on ``at``'s day in China."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        day = at.astimezone(CHINA_STANDARD_TIME).date()
        insert = dialect.insert(refusals_daily).values(
            day=day, hospital_id=hospital_id, code=code[:64], refusals=1
        )
        statement = insert.on_conflict_do_update(
            index_elements=["day", "hospital_id", "code"],
            set_={"refusals": refusals_daily.c.refusals + 1},
        )
        try:
            async with self.engine.begin() as conn:
                await conn.execute(statement)
        except Exception:  # a count must never turn a refusal into a 500
            log.exception("could not count a refusal (%s)", code)
