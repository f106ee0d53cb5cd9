from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from pdx_common.settings import ServiceSettings


class MapperSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PDX_MAPPER_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8081  # health and metrics
    token_key: SecretStr
    pipedrive_token_url: str = "https://oauth.pipedrive.com/oauth/token"
    pipedrive_client_id: str
    pipedrive_client_secret: SecretStr
    pipedrive_api_url: str | None = None  # None: each company's api_domain from its OAuth token
    retry_attempts: int = 5
    retry_first_delay: float = 0.5
    # Master-data sync: a record is synced this long after its first change (later changes within it join that sync,
    # never postpone it), and the loop looks for due records this often.
    record_sync_delay_seconds: float = Field(default=60.0, ge=0)
    record_sync_poll_seconds: float = Field(default=1.0, gt=0)
    # While a company's Pipedrive is not connected, its waiting records are looked at again this often (never sooner
    # than the delay): a reconnect sends them.
    record_sync_reconnect_wait_seconds: float = Field(default=600.0, gt=0)
