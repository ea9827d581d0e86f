"""Run the payment consumer in its own process (for the SIGKILL test).

Usage: python consumer_proc.py DATABASE_URL BOOTSTRAP TOPIC GROUP BATCH
"""

from __future__ import annotations

import asyncio
import sys

from services.enrollment.bootstrap import unit_of_work_factory as uow_for
from services.enrollment.entrypoints.payment_consumer import PaymentConsumer
from shared.db import make_engine, make_sessionmaker


async def main(url: str, bootstrap: str, topic: str, group: str, batch: int) -> None:
    engine = make_engine(url)
    consumer = PaymentConsumer(
        uow_for(make_sessionmaker(engine)), bootstrap, topic=topic, group_id=group, batch_size=batch
    )
    await consumer.run()


if __name__ == "__main__":
    url, bootstrap, topic, group, batch = sys.argv[1:6]
    asyncio.run(main(url, bootstrap, topic, group, int(batch)))
