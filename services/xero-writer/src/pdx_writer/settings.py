from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from pdx_common.settings import ServiceSettings


class WriterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PDX_WRITER_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8082  # health and metrics
    token_key: SecretStr
    xero_api_url: str = "https://api.xero.com/api.xro/2.0"
    xero_token_url: str = "https://identity.xero.com/connect/token"
    xero_client_id: str
    xero_client_secret: SecretStr
    xero_app_url: str = "https://go.xero.com"
    xero_clock_speed: float = 1.0  # divides Retry-After waits; only a sped-up sandbox sets it
    ledger_lease_seconds: float = 120.0
    retry_attempts: int = 5
    shutdown_seconds: float = 20.0  # SIGTERM: finish queued batches for this long, then leave the rest uncommitted
    max_in_flight: int = 5_000  # commands held in memory across all companies before consumption pauses
    retry_first_delay: float = 0.5
