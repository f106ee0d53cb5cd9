"""OAuth2 model of Xero's identity service: clients, one-time codes, rotating refresh tokens, connections.

Lifetimes (developer.xero.com/faq/oauth2): code 5 min, access token 30 min, refresh token 60 days unused; a rotated
refresh token still answers for 30 min with the same new pair, because the response that carried it may have been lost.
"""

import base64
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, field

from ..clock import SandboxClock
from .errors import oauth_error

CODE_TTL = 300.0
ACCESS_TTL = 1800
REFRESH_TTL = 60 * 86400.0
ROTATION_GRACE = 1800.0


@dataclass
class Client:
    client_id: str
    secret: str
    redirect_uris: list[str] | None  # None: any http://127.0.0.1 or http://localhost URI
    name: str = "Sandbox App"

    def accepts_redirect(self, uri: str) -> bool:
        if self.redirect_uris is not None:
            return uri in self.redirect_uris
        return uri.startswith(("http://127.0.0.1", "http://localhost"))


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    scope: str
    tenant_ids: list[str]
    challenge: str | None
    method: str
    expires_at: float
    used: bool = False


@dataclass
class Connection:
    id: str
    tenant_id: str
    auth_event_id: str
    created: float
    updated: float


@dataclass
class AccessToken:
    token: str
    client_id: str
    scope: str
    expires_at: float
    revoked: bool = False


@dataclass
class RefreshToken:
    token: str
    client_id: str
    scope: str
    expires_at: float
    revoked: bool = False
    rotated_at: float | None = None
    successor: dict | None = None


@dataclass
class AuthStore:
    """All OAuth state. The sandbox has one user, so connections are kept per client (app)."""

    clock: SandboxClock
    clients: dict[str, Client] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    connections: dict[str, dict[str, Connection]] = field(default_factory=dict)
    token_refreshes: int = 0

    def issue_code(self, client_id: str, redirect_uri: str, scope: str, tenant_ids: list[str],
                   challenge: str | None, method: str) -> str:
        code = secrets.token_urlsafe(32)
        expires = self.clock.time() + CODE_TTL
        self.codes[code] = AuthCode(client_id, redirect_uri, scope, tenant_ids, challenge, method, expires)
        return code

    def exchange_code(self, client_id: str, code: str, redirect_uri: str, verifier: str | None) -> dict:
        grant = self.codes.get(code)
        if grant is None or grant.used or grant.client_id != client_id or grant.expires_at < self.clock.time():
            raise oauth_error("invalid_grant")
        grant.used = True  # single use, even when the rest of the checks fail
        if grant.redirect_uri != redirect_uri:
            raise oauth_error("invalid_grant", "redirect_uri does not match")
        if grant.challenge is not None and not _pkce_ok(grant.challenge, grant.method, verifier):
            raise oauth_error("invalid_grant", "code_verifier is not valid")
        self._connect(client_id, grant.tenant_ids)
        return self._issue(client_id, grant.scope)

    def _connect(self, client_id: str, tenant_ids: list[str]) -> None:
        now = self.clock.time()
        event = str(uuid.uuid4())
        mine = self.connections.setdefault(client_id, {})
        for tenant_id in tenant_ids:
            old = mine.get(tenant_id)
            mine[tenant_id] = Connection(old.id if old else str(uuid.uuid4()), tenant_id, event,
                                         old.created if old else now, now)

    def _issue(self, client_id: str, scope: str) -> dict:
        now = self.clock.time()
        access = AccessToken(secrets.token_urlsafe(48), client_id, scope, now + ACCESS_TTL)
        self.access_tokens[access.token] = access
        body = {
            "id_token": _fake_jwt(client_id, now),
            "access_token": access.token,
            "expires_in": ACCESS_TTL,
            "token_type": "Bearer",
            "scope": scope,
        }
        if "offline_access" in scope.split():
            refresh = RefreshToken(secrets.token_urlsafe(48), client_id, scope, now + REFRESH_TTL)
            self.refresh_tokens[refresh.token] = refresh
            body["refresh_token"] = refresh.token
        return body

    def refresh(self, client_id: str, token: str) -> dict:
        now = self.clock.time()
        old = self.refresh_tokens.get(token)
        if old is None or old.revoked or old.client_id != client_id or old.expires_at < now:
            raise oauth_error("invalid_grant")
        if old.rotated_at is not None:
            if now - old.rotated_at > ROTATION_GRACE or old.successor is None:
                raise oauth_error("invalid_grant")
            self.token_refreshes += 1
            return old.successor
        body = self._issue(client_id, old.scope)
        old.rotated_at, old.successor = now, body
        self.token_refreshes += 1
        return body

    def revoke(self, client_id: str, token: str) -> None:
        """Revoking a refresh token ends the app's access: its tokens and its connections go."""
        found = self.refresh_tokens.get(token)
        if found is not None and found.client_id == client_id:
            self._revoke_client(client_id)
        access = self.access_tokens.get(token)
        if access is not None and access.client_id == client_id:
            access.revoked = True

    def _revoke_client(self, client_id: str) -> None:
        for tok in [*self.access_tokens.values(), *self.refresh_tokens.values()]:
            if tok.client_id == client_id:
                tok.revoked = True
        self.connections.pop(client_id, None)

    def revoke_all(self) -> None:
        for client_id in list(self.clients):
            self._revoke_client(client_id)

    def access(self, token: str) -> AccessToken | None:
        found = self.access_tokens.get(token)
        return None if found is None or found.revoked else found

    def tenant_ids(self, client_id: str) -> list[str]:
        return list(self.connections.get(client_id, {}))

    def client_connections(self, client_id: str) -> list[Connection]:
        return list(self.connections.get(client_id, {}).values())

    def disconnect(self, client_id: str, connection_id: str) -> bool:
        mine = self.connections.get(client_id, {})
        for tenant_id, conn in list(mine.items()):
            if conn.id == connection_id:
                del mine[tenant_id]
                return True
        return False

    def authenticate_client(self, client_id: str | None, secret: str | None) -> Client:
        client = self.clients.get(client_id or "")
        if client is None or not secrets.compare_digest(client.secret, secret or ""):
            raise oauth_error("invalid_client", status=400)
        return client


def _pkce_ok(challenge: str, method: str, verifier: str | None) -> bool:
    if not verifier:
        return False
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        return secrets.compare_digest(expected, challenge)
    return secrets.compare_digest(verifier, challenge)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _fake_jwt(client_id: str, now: float) -> str:
    """JWT-shaped but unsigned: the sandbox makes no promise about the id_token beyond its shape."""
    claims = {"iss": "https://identity.xero.com", "aud": client_id, "iat": int(now), "exp": int(now) + 300,
              "sub": "sandbox-user", "email": "sandbox@example.com", "given_name": "Sandbox", "family_name": "User",
              "xero_userid": "00000000-0000-0000-0000-0000000000aa"}
    return f"{_b64({'alg': 'RS256', 'typ': 'JWT'})}.{_b64(claims)}.{secrets.token_urlsafe(32)}"
