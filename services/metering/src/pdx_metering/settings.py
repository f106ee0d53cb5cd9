from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from pdx_common.settings import ServiceSettings


class MeteringSettings(ServiceSettings):
    """``PDX_METERING_*``: the base broker and store settings, the API's address and its bearer token."""

    # Secrets never appear in a start-up validation error.
    model_config = SettingsConfigDict(env_prefix="PDX_METERING_", extra="ignore", frozen=True,
                                      hide_input_in_errors=True)

    host: str = "127.0.0.1"
    port: int = 8084  # usage API, health
    # Operators' bearer token for /api (usage); compared in constant time.
    api_token: SecretStr = Field(min_length=24)
    retry_attempts: int = Field(default=5, ge=1)
    retry_first_delay: float = Field(default=0.5, ge=0)
