"""The settlement operator commands: serve, migrate, consume, rebuild, verify, hospitals."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from services.settlement import migrations
from services.settlement.adapters import hospitals
from services.settlement.bootstrap import bootstrap
from services.settlement.engine import PolicyError, PolicyRegistry
from services.settlement.service_layer import rebuild as rebuilding
from services.settlement.service_layer import verify as verifying
from services.settlement.settings import Settings
from shared import prometheus
from shared.db import make_engine
from shared.logging import configure as configure_logging

T = TypeVar("T")


def _settings() -> Settings:
    return Settings()


async def _in_transaction(fn: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    engine = make_engine(_settings().database_url)
    try:
        async with engine.begin() as conn:
            return await fn(conn)
    finally:
        await engine.dispose()


def _run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


@click.command()
def migrate() -> None:
    """Apply the database migrations (SETTLEMENT_DATABASE_URL)."""
    migrations.upgrade(_settings().database_url)
    click.echo("settlement database is up to date")


# uvloop and httptools (uvicorn[standard]) named, not left to "auto": a missing one fails at
# start instead of silently serving on the slower pure-Python stack; no access log line per call.
_UVICORN: dict[str, Any] = {
    "log_level": "warning",
    "access_log": False,
    "loop": "uvloop",
    "http": "httptools",
}


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8002, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
@click.option("--no-consumer", is_flag=True, help="do not fold enrollment.events in-process")
def serve(host: str, port: int, workers: int, no_consumer: bool) -> None:
    """Serve the HIS API (migrating first) and, by default, consume enrollment.events."""
    import uvicorn

    configure_logging("settlement")
    settings = _settings()
    try:  # overlapping policy files: refuse to start, naming both (SPEC §10)
        PolicyRegistry.load(settings.policy)
    except PolicyError as exc:
        raise click.ClickException(f"INVALID_POLICY: {exc}") from None
    migrations.upgrade(settings.database_url)
    if workers > 1:
        # Several workers share the port; the consumer runs as `settlement consume` then.
        uvicorn.run(
            "services.settlement.entrypoints.api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **_UVICORN,
        )
        return
    from services.settlement.entrypoints.api.app import create_app

    app = create_app(settings, run_consumer=not no_consumer)
    uvicorn.run(app, host=host, port=port, **_UVICORN)


@click.command()
@click.option(
    "--metrics-port",
    type=int,
    default=0,
    show_default=True,
    help="answer Prometheus's /metrics on this port (0: not at all)",
)
def consume(metrics_port: int) -> None:
    """Fold enrollment.events into the coverage projection until stopped (SIGTERM/SIGINT); the
    dead letters' outbox relay runs in the same process."""
    configure_logging("settlement")
    settings = _settings()
    if not settings.kafka_bootstrap_servers:
        raise click.ClickException("KAFKA_BOOTSTRAP_SERVERS is not set")
    migrations.upgrade(settings.database_url)
    if metrics_port:  # its lag, gaps and dead letters, for Prometheus (docker-compose)
        prometheus.serve(metrics_port)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        settlement = bootstrap(settings)
        try:
            await settlement.consume(stop)
        finally:
            await settlement.aclose()

    _run(main())


@click.command()
@click.option(
    "--from-file",
    "replay_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="replay events from a JSON-lines file instead of the topic",
)
def rebuild(replay_file: Path | None) -> None:
    """Drop the coverage projection and fold it again from enrollment.events."""
    configure_logging("settlement")
    settings = _settings()
    if replay_file is None and not settings.kafka_bootstrap_servers:
        raise click.ClickException("KAFKA_BOOTSTRAP_SERVERS is not set (or use --from-file)")
    migrations.upgrade(settings.database_url)

    async def main() -> dict[str, int]:
        engine = make_engine(settings.database_url)
        try:
            return await rebuilding.rebuild(
                engine,
                bootstrap=settings.kafka_bootstrap_servers,
                topic=settings.events_topic,
                replay_file=replay_file,
            )
        finally:
            await engine.dispose()

    counts = _run(main())
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


@click.command()
def verify() -> None:
    """Recompute every accumulator from the ledger; exit 1 on any difference."""
    differences = _run(_in_transaction(verifying.verify))
    for d in differences:
        click.echo(
            f"DIFFERENCE {d.psn_no} {d.year}: stored {d.stored.to_dict()} "
            f"ledger {d.from_ledger.to_dict()}"
        )
    if differences:
        click.echo(f"{len(differences)} accumulator(s) differ from the ledger", err=True)
        sys.exit(1)
    click.echo("every accumulator matches the ledger")


@click.group(name="hospitals")
def hospitals_group() -> None:
    """The hospital registry (API keys are shown once, stored hashed)."""


def _registry(fn: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    migrations.upgrade(_settings().database_url)
    try:
        return _run(_in_transaction(fn))
    except hospitals.HospitalError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None


@hospitals_group.command("add")
@click.option("--code", required=True)
@click.option("--name", required=True)
@click.option("--level", required=True, type=click.IntRange(1, 3))
@click.option("--public", is_flag=True)
@click.option("--primary-care", is_flag=True)
def hospitals_add(code: str, name: str, level: int, public: bool, primary_care: bool) -> None:
    """Register a hospital; its new API key is printed alone on the last line."""

    async def add(conn: AsyncConnection) -> tuple[Any, str]:
        return await hospitals.add(
            conn, code=code, name=name, level=level, public=public, primary_care=primary_care
        )

    hospital, key = _registry(add)
    click.echo(f"hospital {hospital.code} registered (level {hospital.level}); its API key:")
    click.echo(key)


@hospitals_group.command("list")
def hospitals_list() -> None:
    """Every hospital (never a key)."""
    for h in _registry(hospitals.list_all):
        click.echo(
            f"{h.code}\t{h.name}\tlevel {h.level}\t{'public' if h.public else 'private'}\t"
            f"{'primary-care' if h.primary_care else '-'}\t{'active' if h.active else 'disabled'}"
        )


@hospitals_group.command("rotate-key")
@click.option("--code", required=True)
def hospitals_rotate_key(code: str) -> None:
    """Give a hospital a new key (the old one stops working); printed on the last line."""

    async def rotate(conn: AsyncConnection) -> str:
        return await hospitals.rotate_key(conn, code)

    key = _registry(rotate)
    click.echo(f"hospital {code}: new API key:")
    click.echo(key)


@hospitals_group.command("disable")
@click.option("--code", required=True)
def hospitals_disable(code: str) -> None:
    """Refuse every call with this hospital's key."""

    async def disable(conn: AsyncConnection) -> None:
        await hospitals.disable(conn, code)

    _registry(disable)
    click.echo(f"hospital {code} disabled")


@hospitals_group.command("demo")
def hospitals_demo() -> None:
    """Create hospital DEMO or rotate its key (idempotent); the key is on the last line."""
    hospital, key = _registry(hospitals.demo)
    click.echo(f"demo hospital {hospital.code} (level {hospital.level}); its API key:")
    click.echo(key)
