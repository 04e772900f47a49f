"""Settings every service shares, read from the environment (and an optional ``.env``)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    """Development makes local conveniences (generated keys, SQLite); production refuses them."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    """Base settings; each service subclasses it to set its name and port.

    Built in ``create_app()``, never at import time, so tests pass settings explicitly.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    service_name: str = Field(default="service", description="Name in logs, metrics and event sources.")
    environment: Environment = Field(default=Environment.DEVELOPMENT)
    host: str = Field(default="127.0.0.1", description="Interface the HTTP server binds to.")
    port: int = Field(default=8000, ge=1, le=65535)
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means SQLite at .run/<service>.db.",
    )
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092")
    kafka_namespace: str = Field(
        default="",
        max_length=100,
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Prefix for topic and group names; empty in production. Tests use it to isolate runs.",
    )
    kafka_topic_partitions: int = Field(default=6, ge=1, description="Partitions for call topics.")
    kafka_replication_factor: int = Field(default=1, ge=1, description="Replicas for created topics.")
    api_keys: str = Field(
        default="",
        repr=False,
        description="role:key,role:key,... (roles cad, console, unit, ops); required in production.",
    )
    log_level: str = Field(default="INFO")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest request body.")
    outbox_poll_seconds: float = Field(default=0.5, gt=0, description="Relay poll interval.")
    kafka_delivery_timeout_seconds: float = Field(
        default=30,
        gt=0,
        description="Longest wait for the broker to acknowledge a batch; past it the rows stay unsent "
        "and the producer is replaced.",
    )
    shutdown_timeout_seconds: float = Field(
        default=10,
        gt=0,
        description="Budget for the graceful stop on SIGTERM (consumer, last outbox deliveries, Kafka); "
        "what is not delivered by then stays in the outbox for the next start.",
    )
    retention_days: float = Field(
        default=30,
        gt=0,
        description="Days health information (narratives, caller details, matched phrases, notes, "
        "delivered event payloads) is kept before every service purges it.",
    )
    retention_check_seconds: float = Field(default=3600, gt=0, description="How often retention runs.")

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to an embedded SQLite file for this service."""
        if self.database_url:
            return self.database_url
        if self.environment is Environment.PRODUCTION:
            raise ValueError(
                "ENVIRONMENT=production needs DATABASE_URL (an embedded SQLite is for development)"
            )
        path = Path(".run") / f"{self.service_name}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
