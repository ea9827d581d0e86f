"""Wiring, done once at start: settings → engine → sessionmaker → recorder → unit of work → the
application, the outbox relay and the payment consumer.

The database's dialect is looked at here and nowhere else: it picks the ``Recorder`` (SQLite's
SQLAlchemy batches or PostgreSQL's ``= ANY`` reads and ``COPY`` writes), which every unit of work
then hands to its stores. The service layer is given a unit-of-work factory and never asks which
database it talks to. Entrypoints (HTTP app, CLI) and tests build what they need from here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from services.enrollment.adapters.recorders import PostgresRecorder, Recorder
from services.enrollment.adapters.relay import OutboxRelay
from services.enrollment.entrypoints.payment_consumer import PaymentConsumer
from services.enrollment.service_layer.persons import Context, Enrollment, rules_from_directory
from services.enrollment.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from services.enrollment.settings import MIGRATIONS, Settings
from shared import migrate as alembic
from shared.db import make_engine, make_sessionmaker
from shared.events import TOPIC_ENROLLMENT_EVENTS


def recorder_for(engine: AsyncEngine) -> type[Recorder]:
    """The batch primitives for the engine's database: the one place the dialect is asked."""
    return PostgresRecorder if engine.dialect.name == "postgresql" else Recorder


def unit_of_work_factory(
    sessionmaker: async_sessionmaker[Any], *, topic: str = TOPIC_ENROLLMENT_EVENTS
) -> UnitOfWorkFactory:
    """Units of work over ``sessionmaker``'s engine, with its recorder (events on ``topic``)."""
    engine = sessionmaker.kw["bind"]
    return functools.partial(UnitOfWork, sessionmaker, recorder_for(engine), topic=topic)


def migrate(database_url: str) -> None:
    """Bring the database to the latest schema (idempotent)."""
    alembic.upgrade(MIGRATIONS, database_url)


async def migrate_async(database_url: str) -> None:
    """``migrate`` from inside an event loop."""
    await alembic.upgrade_async(MIGRATIONS, database_url)


@dataclass
class Wiring:
    """What one process works with: the engine, its sessions and units of work."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[Any]
    uow: UnitOfWorkFactory

    def enrollment(self) -> Enrollment:
        """The registration application (premium rules from the settings' directory)."""
        rules_for = rules_from_directory(self.settings.premium_rules_dir)
        return Enrollment(self.uow, Context(rules_for=rules_for))

    def relay(self) -> OutboxRelay:
        """The outbox relay to the settings' broker."""
        return OutboxRelay(
            self.engine,
            self.sessionmaker,
            self.settings.kafka_bootstrap_servers,
            batch_size=self.settings.relay_batch_size,
            poll_interval=self.settings.relay_poll_interval,
            retry_backoff=self.settings.relay_retry_backoff,
        )

    def payment_consumer(self) -> PaymentConsumer:
        """The consumer of the tax bureau's feed."""
        return PaymentConsumer(
            self.uow,
            self.settings.kafka_bootstrap_servers,
            batch_size=self.settings.payment_batch_size,
        )

    async def dispose(self) -> None:
        await self.engine.dispose()


def connect(settings: Settings | None = None, **engine_options: Any) -> Wiring:
    """Open the engine of ``settings`` (default: the environment) and wire the rest to it."""
    settings = settings or Settings()
    engine = make_engine(settings.enrollment_database_url, **engine_options)
    sessionmaker = make_sessionmaker(engine)
    return Wiring(settings, engine, sessionmaker, unit_of_work_factory(sessionmaker))


def connect_url(database_url: str, **engine_options: Any) -> Wiring:
    """``connect`` to a database URL with default settings otherwise (tests, benchmarks)."""
    return connect(Settings(enrollment_database_url=database_url), **engine_options)
