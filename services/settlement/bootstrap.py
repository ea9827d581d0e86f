"""Wiring, done once at start: settings → engine, ledger, coverage store, hospital registry,
policy, the service and the consumer.

This is the one place that knows which database the settlement service runs on: it picks the
``Ledger`` implementation (``SqliteLedger`` or ``PostgresLedger``) from the URL, and nothing
downstream asks again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.settlement.adapters.coverage_store import CoverageStore
from services.settlement.adapters.hospitals import HospitalRegistry
from services.settlement.adapters.ledger import Ledger
from services.settlement.adapters.postgres_ledger import PostgresLedger
from services.settlement.adapters.refusal_log import RefusalLog
from services.settlement.adapters.sql_ledger import SqliteLedger
from services.settlement.engine import PolicyRegistry
from services.settlement.entrypoints import consumer
from services.settlement.service_layer.settlements import SettlementService
from services.settlement.settings import Settings
from shared.china_time import china_today
from shared.db import make_engine


@dataclass(frozen=True, slots=True)
class Settlement:
    """The settlement service, wired: what the entrypoints (API, CLI, consumer) use."""

    settings: Settings
    engine: AsyncEngine
    ledger: Ledger
    coverage: CoverageStore
    hospitals: HospitalRegistry
    policies: PolicyRegistry  # the policy per region and year (SPEC §10)
    service: SettlementService

    async def consume(self, stop: asyncio.Event) -> None:
        """Fold enrollment.events and publish dead letters until ``stop`` (restarting on errors)."""
        await consumer.run_forever(
            self.engine,
            self.settings.kafka_bootstrap_servers or "",
            topic=self.settings.events_topic,
            group=self.settings.consumer_group,
            stop=stop,
        )

    async def aclose(self) -> None:
        """Close the database connections."""
        await self.engine.dispose()


LEDGERS: dict[str, Callable[[AsyncEngine], Ledger]] = {
    "sqlite": SqliteLedger,
    "postgresql": PostgresLedger,
}


def make_ledger(engine: AsyncEngine) -> Ledger:
    """The ledger for the engine's database (SQLite or PostgreSQL)."""
    try:
        return LEDGERS[engine.dialect.name](engine)
    except KeyError:
        raise ValueError(f"no settlement ledger for {engine.dialect.name}") from None


def bootstrap(
    settings: Settings | None = None,
    *,
    today: Callable[[], date] = china_today,
    **engine_options: Any,
) -> Settlement:
    """Build the service from settings (``Settings()`` from the environment by default).

    ``engine_options`` go to ``shared.db.make_engine`` (pool sizes); ``today`` is the clock of
    the settlement-deadline rule, China's date by default (tests fix it).
    """
    settings = settings or Settings()
    # Overlapping policy files raise PolicyError here, naming both: the service does not start.
    policies = PolicyRegistry.load(settings.policy)
    engine = make_engine(settings.database_url, **engine_options)
    ledger = make_ledger(engine)
    coverage = CoverageStore(engine)
    hospitals = HospitalRegistry(engine)
    refusals = RefusalLog(engine)  # counted per day and code for the ops console
    service = SettlementService(
        ledger, coverage, hospitals, policies, today=today, refusals=refusals
    )
    return Settlement(settings, engine, ledger, coverage, hospitals, policies, service)
