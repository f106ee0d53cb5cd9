from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from pdx_common.settings import ServiceSettings


class CardSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PDX_CARD_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8083
    token_key: SecretStr
    pipedrive_token_url: str = "https://oauth.pipedrive.com/oauth/token"
    pipedrive_client_id: str
    pipedrive_client_secret: SecretStr
    pipedrive_api_url: str | None = None
    replay_hint: str = "POST /api/companies/{company_id}/deals/{deal_id}/replay on the gateway"
    retry_attempts: int = 5
    retry_first_delay: float = 0.5
