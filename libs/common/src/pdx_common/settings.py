"""The settings base every service extends: broker, store, logging. Each service sets its own env prefix."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Read from the environment with the service's own prefix, e.g. ``PDX_GATEWAY_KAFKA_BOOTSTRAP``.

    Subclasses set ``model_config = SettingsConfigDict(env_prefix="PDX_<SERVICE>_", ...)``.
    """

    model_config = SettingsConfigDict(env_prefix="PDX_", extra="ignore", frozen=True)

    kafka_bootstrap: str = Field(default="127.0.0.1:9092", min_length=1)
    mongo_url: str = Field(default="mongodb://127.0.0.1:27017/?directConnection=true&retryWrites=false")
    mongo_db: str = "pdx"
    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON when stdout is not a terminal
    # A group consumer's join takes session_timeout/2 on Tansu; production Kafka keeps the defaults.
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    kafka_heartbeat_interval_ms: int = Field(default=3_000, ge=100)
    # Handlers wait out outages in place; past this gap between polls a consumer leaves its group (aiokafka: 5 min).
    kafka_max_poll_interval_ms: int = Field(default=30 * 60_000, ge=60_000)
    # Bearer token for /metrics and /readyz's failure details (Prometheus holds it); unset, /metrics answers 401.
    metrics_token: SecretStr | None = Field(default=None, min_length=24)


class TokenKeySettings(BaseSettings):
    """The key that encrypts OAuth tokens at rest (a Fernet key: ``python -m pdx_common.crypto``)."""

    model_config = SettingsConfigDict(env_prefix="PDX_", extra="ignore", frozen=True)

    token_key: SecretStr
