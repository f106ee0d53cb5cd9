from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from pdx_common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PDX_GATEWAY_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 1_048_576
    # Operators' bearer token for /api (settings, replay); compared in constant time.
    api_token: SecretStr = Field(min_length=24)
