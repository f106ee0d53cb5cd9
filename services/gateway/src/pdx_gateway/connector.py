"""Everything installs and connections touch, built once by the composition root from the settings."""

from dataclasses import dataclass

import aiohttp
from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.connections import ConnectionStore, OAuthClient, TokenProvider
from pdx_common.crypto import TokenCipher
from pdx_common.parking import MongoParkedCommands
from pdx_common.pipedrive import PipedriveClient
from pdx_gateway.adapters.connections import MongoConnections
from pdx_gateway.adapters.mongo import MongoWebhookCredentials
from pdx_gateway.adapters.oauth_states import MongoOAuthStates
from pdx_gateway.adapters.pipedrive_oauth import PipedriveOAuth
from pdx_gateway.adapters.settings_repo import MongoSettingsStore
from pdx_gateway.adapters.xero_identity import XeroIdentity
from pdx_gateway.ports import Publisher
from pdx_gateway.settings import GatewaySettings


@dataclass(frozen=True)
class Connector:
    settings: GatewaySettings
    session: aiohttp.ClientSession
    publisher: Publisher
    states: MongoOAuthStates
    store: ConnectionStore
    connections: MongoConnections
    credentials: MongoWebhookCredentials
    company_settings: MongoSettingsStore
    parked: MongoParkedCommands
    pipedrive: PipedriveOAuth
    xero: XeroIdentity

    def pipedrive_tokens(self) -> TokenProvider:
        s = self.settings
        client = OAuthClient(s.pipedrive_token_url, s.pipedrive_client_id or "", _secret(s.pipedrive_client_secret))
        return TokenProvider("pipedrive", self.store, client, self.session)

    def pipedrive_api(self, company_id: str) -> PipedriveClient:
        return PipedriveClient(self.session, self.pipedrive_tokens(), company_id,
                               base_url=self.settings.pipedrive_api_url)

    def xero_tokens(self) -> TokenProvider:
        s = self.settings
        client = OAuthClient(s.xero_token_url, s.xero_client_id or "", _secret(s.xero_client_secret))
        return TokenProvider("xero", self.store, client, self.session)

    def public(self, path: str) -> str:
        return f"{self.settings.public_url}{path}"


def build_connector(settings: GatewaySettings, db: AsyncDatabase, session: aiohttp.ClientSession,
                    publisher: Publisher) -> Connector:
    """Needs ``public_url`` and ``token_key``; each flow checks its own client settings when it is used."""
    s = settings
    pipedrive = PipedriveOAuth(session, client_id=s.pipedrive_client_id or "",
                               client_secret=_secret(s.pipedrive_client_secret),
                               authorize_url=s.pipedrive_authorize_url, token_url=s.pipedrive_token_url,
                               redirect_uri=s.redirect_uri("pipedrive"), api_url=s.pipedrive_api_url)
    xero = XeroIdentity(client_id=s.xero_client_id or "", client_secret=_secret(s.xero_client_secret),
                        scopes=s.xero_scopes, redirect_uri=s.redirect_uri("xero"),
                        authorize_url=s.xero_authorize_url, token_url=s.xero_token_url,
                        connections_url=s.xero_connections_url, revoke_url=s.xero_revoke_url)
    return Connector(settings, session, publisher, MongoOAuthStates(db, s.oauth_state_ttl_seconds),
                     ConnectionStore(db, TokenCipher(_secret(s.token_key))), MongoConnections(db),
                     MongoWebhookCredentials(db), MongoSettingsStore(db), MongoParkedCommands(db), pipedrive, xero)


def _secret(value) -> str:
    return value.get_secret_value() if value is not None else ""
