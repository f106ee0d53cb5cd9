"""Xero's identity service through authlib (state and PKCE S256): authorize, code exchange, the organisations a
grant covers, disconnecting one, and revoking a refresh token."""

import base64
import json
from typing import Any

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from pdx_common.http import ApiError


class XeroIdentity:
    def __init__(self, *, client_id: str, client_secret: str, scopes: str, redirect_uri: str, authorize_url: str,
                 token_url: str, connections_url: str, revoke_url: str, timeout: float = 15.0) -> None:
        self._client_id, self._client_secret, self._scopes = client_id, client_secret, scopes
        self._redirect_uri, self._authorize_url, self._token_url = redirect_uri, authorize_url, token_url
        self._connections_url, self._revoke_url, self._timeout = connections_url, revoke_url, timeout

    def _client(self, token: dict[str, Any] | None = None) -> AsyncOAuth2Client:
        # One client per flow: an authlib client holds the token of one grant.
        return AsyncOAuth2Client(self._client_id, self._client_secret, scope=self._scopes, token=token,
                                 redirect_uri=self._redirect_uri, code_challenge_method="S256",
                                 timeout=self._timeout)

    async def authorize_url(self, state: str, code_verifier: str) -> str:
        async with self._client() as client:
            url, _ = client.create_authorization_url(self._authorize_url, state=state, code_verifier=code_verifier)
        return url

    async def connect(self, code: str, code_verifier: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The tokens for an authorisation code, and Xero's ``/connections`` entries of this authorisation."""
        async with self._client() as client:
            try:
                token = await client.fetch_token(self._token_url, grant_type="authorization_code", code=code,
                                                 code_verifier=code_verifier)
                event = _auth_event_id(token["access_token"])
                resp = await client.get(self._connections_url, params={"authEventId": event} if event else None)
            except (OAuthError, httpx2.HTTPError) as exc:
                raise _api_error(exc, self._token_url) from None
            connections = _json(resp, self._connections_url)
        if not isinstance(connections, list):
            raise ApiError("xero", resp.status_code, connections, self._connections_url)
        return dict(token), connections

    async def remove_connection(self, access_token: str, connection_id: str) -> None:
        """``DELETE /connections/{id}``; one already gone counts as removed."""
        url = f"{self._connections_url}/{connection_id}"
        async with self._client({"access_token": access_token, "token_type": "Bearer"}) as client:
            try:
                resp = await client.delete(url)
            except httpx2.HTTPError as exc:
                raise _api_error(exc, url) from None
        if resp.status_code not in (200, 204, 404):
            raise ApiError("xero", resp.status_code, _body(resp), url)

    async def revoke(self, refresh_token: str) -> None:
        """Revoking the refresh token ends the grant: its tokens and every organisation it connected."""
        async with self._client() as client:
            try:
                resp = await client.revoke_token(self._revoke_url, token=refresh_token,
                                                 token_type_hint="refresh_token")
            except httpx2.HTTPError as exc:
                raise _api_error(exc, self._revoke_url) from None
        if resp.status_code != 200:
            raise ApiError("xero", resp.status_code, _body(resp), self._revoke_url)


def _claims(token: str) -> dict[str, Any]:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _auth_event_id(access_token: str) -> str | None:
    """Xero's access tokens are JWTs naming their authorisation event, so ``/connections`` can be narrowed to the
    organisations just authorised. Not verified: it only filters our own request. None for an opaque token."""
    return _claims(access_token).get("authentication_event_id")


def xero_user_id(tokens: dict[str, Any]) -> str | None:
    """The Xero user who granted access (the id_token's ``xero_userid``, else the access token's): revoking a grant
    removes ALL of that user's connections to the app, so a disconnect must know whose grant it is. Not verified:
    it came straight from Xero's token endpoint, and only narrows what we revoke."""
    for name in ("id_token", "access_token"):
        user = _claims(str(tokens.get(name) or "")).get("xero_userid")
        if isinstance(user, str) and user:
            return user
    return None


def _body(resp: httpx2.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return resp.text[:300]


def _json(resp: httpx2.Response, url: str) -> Any:
    if resp.status_code != 200:
        raise ApiError("xero", resp.status_code, _body(resp), url)
    return _body(resp)


def _api_error(exc: Exception, url: str) -> ApiError:
    if isinstance(exc, OAuthError):
        return ApiError("xero", 400, {"error": exc.error, "error_description": exc.description}, url)
    if isinstance(exc, httpx2.HTTPStatusError):
        return ApiError("xero", exc.response.status_code, _body(exc.response), url)
    return ApiError("xero", 503, f"{type(exc).__name__}: {exc}", url)
