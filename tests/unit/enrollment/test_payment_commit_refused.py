"""A refused offset commit after a rebalance does not restart the tax feed's consumer.

Found by the chaos test: after the broker was swapped, the payment consumer's commit came back
``CommitFailedError`` (the new broker did not know its group), the consumer logged a traceback
and restarted — which rebalances the group again, so with several ``consume-payments`` processes
one rebalance could set off the next. The batch's transaction had committed; whoever owns the
partition now reads again from the last committed offset and the serials make it harmless.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka.errors import CommitFailedError

from services.enrollment.entrypoints.payment_consumer import PaymentConsumer, _InFlight
from services.enrollment.service_layer.payments import Outcome

pytestmark = pytest.mark.unit


class Rebalanced:
    """A consumer whose group moved on: every commit is refused."""

    def __init__(self) -> None:
        self.commits = 0

    async def commit(self, offsets: dict) -> None:
        self.commits += 1
        raise CommitFailedError("the group has already rebalanced")


async def test_a_refused_commit_is_logged_and_the_batch_counted(caplog):
    feed = PaymentConsumer(uow=None, bootstrap="unused:9092")  # type: ignore[arg-type]
    applied = asyncio.get_running_loop().create_future()
    applied.set_result(Outcome(duplicates=3))
    consumer = Rebalanced()
    with caplog.at_level(logging.WARNING):
        await feed._finish(consumer, _InFlight(applied, {"tp": 7}, frozenset()))  # type: ignore[arg-type]
    assert consumer.commits == 1
    assert feed.totals.duplicates == 3  # its transaction committed: it counts
    assert "offset commit refused after a rebalance" in caplog.text
