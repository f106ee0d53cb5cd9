"""Pipedrive's OAuth endpoints as an installing company meets them: authorize, code exchange, who the token is."""

import json
from typing import Any
from urllib.parse import urlencode

import aiohttp

from pdx_common.http import ApiError


class PipedriveOAuth:
    def __init__(self, session: aiohttp.ClientSession, *, client_id: str, client_secret: str, authorize_url: str,
                 token_url: str, redirect_uri: str, api_url: str | None = None, timeout: float = 15.0) -> None:
        self._session, self._client_id, self._client_secret = session, client_id, client_secret
        self._authorize_url, self._token_url, self._redirect_uri = authorize_url, token_url, redirect_uri
        self._api_url, self._timeout = api_url, aiohttp.ClientTimeout(total=timeout)

    def authorize_url(self, state: str) -> str:
        query = urlencode({"client_id": self._client_id, "redirect_uri": self._redirect_uri, "state": state})
        return f"{self._authorize_url}?{query}"

    async def exchange(self, code: str) -> dict[str, Any]:
        """``{access_token, refresh_token, expires_in, api_domain, ...}`` for an authorisation code."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self._redirect_uri}
        auth = {"Authorization": aiohttp.encode_basic_auth(self._client_id, self._client_secret)}
        async with self._session.post(self._token_url, data=form, headers=auth, timeout=self._timeout) as resp:
            body = await _body(resp)
            if resp.status != 200 or not isinstance(body, dict) or "access_token" not in body:
                raise ApiError("pipedrive", resp.status, _without_tokens(body), self._token_url)
        return body

    def api_base(self, tokens: dict[str, Any]) -> str:
        return (self._api_url or tokens.get("api_domain") or "").rstrip("/")

    async def me(self, tokens: dict[str, Any]) -> dict[str, Any]:
        """The installing user, with ``company_id`` and ``company_domain``."""
        url = f"{self.api_base(tokens)}/api/v1/users/me"
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        async with self._session.get(url, headers=headers, timeout=self._timeout) as resp:
            body = await _body(resp)
            if resp.status != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), dict):
                raise ApiError("pipedrive", resp.status, body, url)
        return body["data"]


async def _body(resp: aiohttp.ClientResponse) -> Any:
    text = await resp.text()
    try:
        return json.loads(text)
    except ValueError:
        return text[:300]


def _without_tokens(body: Any) -> Any:
    # An error must not carry a token into a log or a response.
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if "token" not in k}
    return body
