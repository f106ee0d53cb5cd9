from datetime import timedelta

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from pdx_common.settings import ServiceSettings


class CardSettings(ServiceSettings):
    """``PDX_CARD_*``. Everything the panel and the Xero webhook add is optional: without a webhook key every
    webhook is refused, without Xero client credentials Update and the refreshes cannot call Xero (the panel still
    answers from what it has)."""

    model_config = SettingsConfigDict(env_prefix="PDX_CARD_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8083
    token_key: SecretStr
    pipedrive_token_url: str = "https://oauth.pipedrive.com/oauth/token"
    pipedrive_client_id: str
    pipedrive_client_secret: SecretStr
    pipedrive_api_url: str | None = None
    # How a failure's note tells people to replay; empty: the app's Sync log, in words (activities.PLAIN_REPLAY).
    replay_hint: str = ""
    # The gateway's public address and its link signing key (PDX_GATEWAY_PUBLIC_URL, PDX_GATEWAY_LINK_SIGNING_KEY):
    # with both, a failure's activity and the deal's panel carry signed Replay links to the gateway's deal pages
    # (pdx_gateway.deal_actions); without them, the activity tells people to replay in the app's Sync log.
    gateway_url: str | None = None
    link_signing_key: SecretStr | None = Field(default=None, min_length=32)
    action_link_ttl_seconds: int = Field(default=30 * 86400, ge=3600)  # how long an activity's Replay link works
    retry_attempts: int = 5
    retry_first_delay: float = 0.5
    # The JSON panel. Pipedrive signs its JWT with the app's client secret unless another secret is set.
    panel_jwt_secret: SecretStr | None = None
    # The panel's settings link: {company_id} and {client_id} are filled in.
    settings_url: str = "https://app.pipedrive.com/settings/marketplace/app/{client_id}/app-settings"
    # Xero: the API the refreshes read, and the webhook key from the app's Webhooks page in Xero's developer portal.
    xero_webhook_key: SecretStr | None = None
    xero_api_url: str = "https://api.xero.com/api.xro/2.0"
    xero_token_url: str = "https://identity.xero.com/connect/token"
    xero_client_id: str | None = None
    xero_client_secret: SecretStr | None = None
    xero_app_url: str = "https://go.xero.com"
    xero_clock_speed: float = 1.0  # divides Retry-After waits; only a sped-up sandbox sets it
    update_cooldown_seconds: float = 30.0  # a customer fetched this recently is not fetched again by Update
    quote_refresh_seconds: float = 3600.0  # how often open quotes are re-read (Xero sends no quote events)
    quote_refresh_calls: int = 10  # at most this many Xero calls per organisation per quote refresh
    webhook_poll_seconds: float = 5.0  # the inbox worker also looks for due retries this often
    webhook_attempts: int = 8  # tries per Xero event before it is parked as failed (and logged)

    @property
    def jwt_secret(self) -> str:
        return (self.panel_jwt_secret or self.pipedrive_client_secret).get_secret_value()

    @property
    def xero_credentials(self) -> tuple[str, str] | None:
        if not self.xero_client_id or self.xero_client_secret is None:
            return None
        return self.xero_client_id, self.xero_client_secret.get_secret_value()

    def panel_settings_url(self, company_id: str) -> str:
        return self.settings_url.format(company_id=company_id, client_id=self.pipedrive_client_id)

    @property
    def update_cooldown(self) -> timedelta:
        return timedelta(seconds=self.update_cooldown_seconds)
