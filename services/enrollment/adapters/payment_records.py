"""The tax feed's own tables: ``payments``, ``unmatched_payments`` and ``subsidies``.

Read and written in the unit of work's transaction, in batches through the ``Recorder`` that
``bootstrap`` chose (never commits). The ``payments`` primary key (``tax_serial``) is what makes
a redelivered message a no-op; ``unmatched_payments.dedup_key`` keeps a message from being listed
(or dead-lettered) twice.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update

from services.enrollment.adapters.recorders import Recorder
from services.enrollment.adapters.tables import certno_index, payments, subsidies
from services.enrollment.adapters.tables import unmatched_payments as unmatched
from services.enrollment.domain.payments import (
    OriginalPayment,
    PaymentRow,
    UnmatchedRow,
)
from services.enrollment.domain.tax_messages import Incoming, MessageKind, Reason


class PaymentRecords:
    """Applied payments, subsidies and the unmatched list, in the caller's transaction."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.session = recorder.session

    async def taken(self, serials: Collection[str]) -> set[str]:
        """The serials among these that ``payments`` already holds."""
        rows = await self.recorder.select_in(
            payments.c.tax_serial, serials, [payments.c.tax_serial]
        )
        return {row[0] for row in rows}

    async def originals(
        self, serials: Collection[str]
    ) -> tuple[dict[str, OriginalPayment], dict[str, Decimal]]:
        """The applied payments with these serials, and what was refunded of each so far."""
        if not serials:
            return {}, {}
        wanted = list(serials)
        rows = await self.session.execute(
            select(
                payments.c.tax_serial,
                payments.c.psn_no,
                payments.c.insurance_year,
                payments.c.amount,
            ).where(payments.c.tax_serial.in_(wanted), payments.c.kind == MessageKind.PAYMENT.value)
        )
        found = {
            serial: OriginalPayment(psn_no, year, Decimal(amount))
            for serial, psn_no, year, amount in rows.all()
        }
        sums = await self.session.execute(
            select(payments.c.original_tax_serial, func.sum(payments.c.amount))
            .where(payments.c.original_tax_serial.in_(wanted))
            .group_by(payments.c.original_tax_serial)
        )
        return found, {serial: Decimal(total) for serial, total in sums.all()}

    async def add_payments(self, rows: Sequence[PaymentRow], now: datetime) -> None:
        """Insert applied payments; a serial already there is a conflict (another writer)."""
        await self.recorder.insert(payments, [{**vars_of(row), "recorded_at": now} for row in rows])

    async def resolve(self, resolved: Sequence[tuple[int, str]], now: datetime) -> None:
        """Mark replayed unmatched messages resolved (``applied`` or ``duplicate``)."""
        for unmatched_id, resolution in resolved:
            await self.session.execute(
                update(unmatched)
                .where(unmatched.c.id == unmatched_id)
                .values(resolved_at=now, resolution=resolution)
            )

    async def relist(self, unmatched_id: int, reason: str, message: str) -> None:
        """A replayed message still misses: keep it listed with its fresh reason."""
        await self.session.execute(
            update(unmatched)
            .where(unmatched.c.id == unmatched_id)
            .values(reason=reason, message=message)
        )

    async def listed(self, dedup_keys: Collection[str]) -> set[str]:
        """The dedup keys among these already on the unmatched list."""
        rows = await self.recorder.select_in(
            unmatched.c.dedup_key, dedup_keys, [unmatched.c.dedup_key]
        )
        return {row[0] for row in rows}

    async def list_unmatched(self, rows: Sequence[UnmatchedRow], now: datetime) -> None:
        """Put messages on the unmatched list."""
        await self.recorder.insert(
            unmatched, [{**vars_of(row), "received_at": now} for row in rows]
        )

    async def unresolved(
        self, *, after_id: int = 0, limit: int = 1000, reason: Reason | None = None
    ) -> list[Incoming]:
        """Unresolved unmatched messages (of one reason, if given), oldest first, to replay."""
        query = (
            select(unmatched.c.id, unmatched.c.raw)
            .where(unmatched.c.resolved_at.is_(None), unmatched.c.id > after_id)
            .order_by(unmatched.c.id)
            .limit(limit)
        )
        if reason is not None:
            query = query.where(unmatched.c.reason == reason.value)
        rows = await self.session.execute(query)
        return [Incoming(bytes(raw), unmatched_id) for unmatched_id, raw in rows.all()]

    async def unmatched_list(self, resolved: bool | None, limit: int) -> list[Any]:
        """The unmatched list for operators: all, only resolved or only open ones."""
        query = select(unmatched).order_by(unmatched.c.id).limit(limit)
        if resolved is True:
            query = query.where(unmatched.c.resolved_at.is_not(None))
        elif resolved is False:
            query = query.where(unmatched.c.resolved_at.is_(None))
        return list((await self.session.execute(query)).all())

    async def subsidies_of(self, year: int, status: str | None) -> list[Any]:
        """The subsidies of a year (of one status, if given) with the person's certno."""
        query = (
            select(subsidies, certno_index.c.certno)
            .join(certno_index, certno_index.c.psn_no == subsidies.c.psn_no)
            .where(subsidies.c.insurance_year == year)
            .order_by(subsidies.c.granted_at, subsidies.c.tax_serial)
        )
        if status is not None:
            query = query.where(subsidies.c.status == status)
        return list((await self.session.execute(query)).all())


def vars_of(row: Any) -> dict[str, Any]:
    """A row dataclass (slots) as the column → value mapping the tables take."""
    return {name: getattr(row, name) for name in row.__slots__}
