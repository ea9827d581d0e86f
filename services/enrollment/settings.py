"""Enrollment settings, read once from the environment (SPEC §6 names)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

PREMIUM_RULES_DIR = Path(__file__).parent / "premiums"
MIGRATIONS = Path(__file__).parent / "migrations"
"""The Alembic scripts (run by ``shared.migrate``: ``enrollment migrate`` and every start)."""


class Settings(BaseSettings):
    """Every knob of the enrollment service; env names are the field names in upper case."""

    model_config = SettingsConfigDict(extra="ignore")

    enrollment_database_url: str = Field(
        "sqlite:///var/enrollment.db",
        description="SQLAlchemy URL; SQLite by default, PostgreSQL in production.",
    )
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    relay_poll_interval: float = Field(0.05, description="Seconds between empty outbox polls.")
    relay_batch_size: int = Field(500, ge=1)
    relay_retry_backoff: float = Field(1.0, description="Seconds to wait after a broker error.")
    premium_rules_dir: Path = PREMIUM_RULES_DIR
    payment_consumer_enabled: bool = Field(
        True, description="Consume tax.premium-payments inside `serve` (with the relay)."
    )
    payment_batch_size: int = Field(500, ge=1, description="Tax messages applied per transaction.")
    staff_token_private_key_file: Path | None = Field(
        None, description="Ed25519 PEM that signs staff access tokens (POST /api/v1/session)."
    )
    staff_token_public_key_file: Path | None = Field(
        None, description="Its public half (default: derived from the private key)."
    )
    district_name: str = Field(
        "柳南区", description="The district named in the title of the monthly report (004 §二(三))."
    )
    # The ops console (SPEC §10): the settlement console's URL (``{host}``: the host the browser
    # asked for) and, for consoles on two hosts of one domain, the session cookie's domain.
    console_settlement_url: str = "http://{host}:8002/console"
    console_cookie_domain: str | None = None
    log_level: str = "INFO"

    @property
    def database_url(self) -> str:
        return self.enrollment_database_url

    def ensure_database_dir(self) -> None:
        """Create the directory of a SQLite file (``var/`` by default)."""
        url = make_url(self.enrollment_database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
