"""Settlement configuration, read once from the environment (SPEC §6 pins the names)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.events import TOPIC_ENROLLMENT_EVENTS


class Settings(BaseSettings):
    """Read from ``SETTLEMENT_DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``, ``SETTLEMENT_POLICY``…"""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str = Field(
        "sqlite:///var/settlement.db",
        validation_alias=AliasChoices("SETTLEMENT_DATABASE_URL", "database_url"),
    )
    kafka_bootstrap_servers: str | None = Field(
        None, validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers")
    )
    policy: str = Field(
        "liaocheng-2024", validation_alias=AliasChoices("SETTLEMENT_POLICY", "policy")
    )
    events_topic: str = Field(
        TOPIC_ENROLLMENT_EVENTS,
        validation_alias=AliasChoices("SETTLEMENT_EVENTS_TOPIC", "events_topic"),
    )
    consumer_group: str = Field(
        "settlement", validation_alias=AliasChoices("SETTLEMENT_CONSUMER_GROUP", "consumer_group")
    )


def get_settings() -> Settings:
    return Settings()
