"""Settlement configuration, read once from the environment (SPEC §6 pins the names)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.events import TOPIC_ENROLLMENT_EVENTS


class Settings(BaseSettings):
    """Read from ``SETTLEMENT_DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``, ``SETTLEMENT_POLICY``…"""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = Field(
        "sqlite:///var/settlement.db",
        validation_alias="SETTLEMENT_DATABASE_URL",
    )
    kafka_bootstrap_servers: str | None = Field(None, validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    # The policy registry (SPEC §10): comma-separated shipped names, TOML files or directories.
    policy: str = Field("liaocheng-2024", validation_alias="SETTLEMENT_POLICY")
    policy_drafts: Path = Field(
        Path("var/policy-drafts"),
        validation_alias="SETTLEMENT_POLICY_DRAFTS",
        description="Draft policy files (NAME.toml) staff may name in GET /api/v1/ops/what-if.",
    )
    region: str = Field(
        "liaocheng",
        validation_alias="SETTLEMENT_REGION",
        description="The NHSA gateway's codes: policies/regions/NAME.toml, or a file's path.",
    )
    events_topic: str = Field(
        TOPIC_ENROLLMENT_EVENTS,
        validation_alias="SETTLEMENT_EVENTS_TOPIC",
    )
    consumer_group: str = Field("settlement", validation_alias="SETTLEMENT_CONSUMER_GROUP")
    staff_token_public_key_file: Path | None = Field(
        None,
        validation_alias="STAFF_TOKEN_PUBLIC_KEY_FILE",
        description="Ed25519 PEM that verifies staff access tokens signed by enrollment.",
    )
    # The ops console (SPEC §10): where enrollment's console (and its login) is; ``{host}`` is
    # the host the browser asked for, so one setting serves localhost and 127.0.0.1 alike.
    console_enrollment_url: str = Field(
        "http://{host}:8001/console", validation_alias="CONSOLE_ENROLLMENT_URL"
    )
    # Read by prometheus_client itself: with several uvicorn workers, each writes its samples in
    # this (empty at start) directory and /metrics sums them (shared.prometheus).
    prometheus_multiproc_dir: Path | None = Field(None, validation_alias="PROMETHEUS_MULTIPROC_DIR")
    console_cookie_domain: str | None = Field(
        None,
        validation_alias="CONSOLE_COOKIE_DOMAIN",
        description="Share the console session cookie across hosts of this domain.",
    )


def get_settings() -> Settings:
    return Settings()
