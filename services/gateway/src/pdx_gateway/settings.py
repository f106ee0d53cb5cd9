from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from pdx_common.crypto import TokenCipher
from pdx_common.settings import ServiceSettings

XERO_SCOPES = "offline_access openid profile email accounting.invoices accounting.contacts accounting.settings.read"


class GatewaySettings(ServiceSettings):
    """The OAuth settings are optional so the gateway serves webhooks and the API without them; the install and
    connect routes answer 503 until they are set. A half-configured OAuth client is refused at start-up."""

    # Secrets never appear in a start-up validation error.
    model_config = SettingsConfigDict(env_prefix="PDX_GATEWAY_", extra="ignore", frozen=True, hide_input_in_errors=True)

    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 1_048_576
    # Operators' bearer token for /api (settings, replay); compared in constant time.
    api_token: SecretStr = Field(min_length=24)

    # Where Pipedrive, Xero and browsers reach the gateway, e.g. https://pdx.example.com (OAuth redirects, webhooks).
    public_url: str | None = None
    # Fernet key for the OAuth tokens at rest (python -m pdx_common.crypto); the same key as the other services.
    token_key: SecretStr | None = None
    # Signs the connect and choose links sent to a company's admin (HMAC-SHA256).
    link_signing_key: SecretStr | None = Field(default=None, min_length=32)
    link_ttl_seconds: int = Field(default=3 * 86400, ge=60)
    oauth_state_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    # After an uninstall the company's personal data is erased this many days later (a reinstall before keeps it);
    # the gateway looks for due erasures every erase_check_seconds (docs/deploy.md, "Erasing a company's data").
    erase_after_days: float = Field(default=30, ge=0)
    erase_check_seconds: float = Field(default=3600, gt=0)

    pipedrive_client_id: str | None = None
    pipedrive_client_secret: SecretStr | None = None
    pipedrive_authorize_url: str = "https://oauth.pipedrive.com/oauth/authorize"
    pipedrive_token_url: str = "https://oauth.pipedrive.com/oauth/token"
    pipedrive_api_url: str | None = None  # overrides the token's api_domain (sandboxes, proxies)

    xero_client_id: str | None = None
    xero_client_secret: SecretStr | None = None
    xero_authorize_url: str = "https://login.xero.com/identity/connect/authorize"
    xero_token_url: str = "https://identity.xero.com/connect/token"
    xero_connections_url: str = "https://api.xero.com/connections"
    xero_revoke_url: str = "https://identity.xero.com/connect/revocation"
    xero_scopes: str = XERO_SCOPES
    xero_api_url: str = "https://api.xero.com/api.xro/2.0"  # the settings app's pickers read items, tax rates...

    # The settings app (pdx_gateway.app_ui). Pipedrive signs the iframe's JWT with the app's JWT secret, by default
    # its client secret (Developer Hub > App extensions); pin it here when it differs.
    app_jwt_secret: SecretStr | None = None
    # Who may frame the app (CSP frame-ancestors); the local run adds the Pipedrive sandbox's address.
    app_frame_ancestors: str = "https://*.pipedrive.com"
    app_session_ttl_seconds: int = Field(default=8 * 3600, ge=300)
    # A Connect Xero started from the app: single-use, bound to the session, valid this long.
    app_connect_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    # The metering service, for the company's usage page (its bearer token, scoped by the gateway to the session's
    # company); without them the usage page says usage is unavailable.
    metering_url: str | None = None
    metering_token: SecretStr | None = None

    @field_validator("public_url", "pipedrive_api_url", "xero_api_url", "metering_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else None

    @field_validator("token_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            TokenCipher(value.get_secret_value())  # says how to make a key when this one is not one
        return value

    @field_validator("xero_scopes")
    @classmethod
    def _offline_access(cls, value: str) -> str:
        if "offline_access" not in value.split():
            raise ValueError("xero_scopes must include offline_access, or no refresh token is issued")
        return " ".join(value.split())

    @model_validator(mode="after")
    def _oauth_complete(self) -> "GatewaySettings":
        for system in ("pipedrive", "xero"):
            started = getattr(self, f"{system}_client_id") or getattr(self, f"{system}_client_secret")
            missing = [f"PDX_GATEWAY_{name.upper()}" for name in self._oauth_needs(system) if not getattr(self, name)]
            if started and missing:
                raise ValueError(f"{system} OAuth is half configured: also set {', '.join(missing)}")
        return self

    @staticmethod
    def _oauth_needs(system: str) -> tuple[str, ...]:
        signing = ("link_signing_key",) if system == "xero" else ()
        return (f"{system}_client_id", f"{system}_client_secret", "public_url", "token_key", *signing)

    def oauth_configured(self, system: str) -> bool:
        return all(getattr(self, name) for name in self._oauth_needs(system))

    def app_secret(self) -> str | None:
        secret = self.app_jwt_secret or self.pipedrive_client_secret
        return secret.get_secret_value() if secret is not None else None

    def redirect_uri(self, system: str) -> str:
        return f"{self.public_url}/oauth/{system}/callback"
