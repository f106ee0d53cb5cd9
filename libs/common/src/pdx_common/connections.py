"""Per-company OAuth connections (Pipedrive, Xero) in MongoDB, tokens encrypted at rest, refreshed before expiry.

A connection document (collection ``connections``, ``_id`` = ``<system>:<company_id>``)::

    {"system": "xero", "company_id": "7001", "tenant_id": "...", "status": "ok" | "broken",
     "access_token": <encrypted>, "refresh_token": <encrypted>, "expires_at": datetime, "api_domain": "..."}
"""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiohttp
from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.crypto import TokenCipher
from pdx_common.http import ApiError, ConnectionMissing

System = Literal["pipedrive", "xero"]
REFRESH_MARGIN = timedelta(minutes=2)


@dataclass(frozen=True)
class OAuthClient:
    token_url: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class AccessToken:
    token: str
    company_id: str
    tenant_id: str | None = None
    api_domain: str | None = None


class ConnectionStore:
    def __init__(self, db: AsyncDatabase, cipher: TokenCipher) -> None:
        self._col = db.connections
        self._cipher = cipher

    async def save_tokens(self, system: System, company_id: str, token_response: dict[str, Any],
                          **extra: Any) -> None:
        expires_at = datetime.now(UTC) + timedelta(seconds=int(token_response.get("expires_in", 1800)))
        doc = {"system": system, "company_id": company_id, "status": "ok", "expires_at": expires_at,
               "access_token": self._cipher.encrypt(token_response["access_token"]),
               "refresh_token": self._cipher.encrypt(token_response["refresh_token"]),
               "updated_at": datetime.now(UTC), **extra}
        if token_response.get("api_domain"):
            doc["api_domain"] = token_response["api_domain"]
        await self._col.update_one({"_id": f"{system}:{company_id}"}, {"$set": doc}, upsert=True)

    async def get(self, system: System, company_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": f"{system}:{company_id}"})

    async def mark_broken(self, system: System, company_id: str, reason: str) -> None:
        await self._col.update_one({"_id": f"{system}:{company_id}"},
                                   {"$set": {"status": "broken", "broken_reason": reason}})

    def decrypt(self, doc: dict[str, Any], field: str) -> str:
        return self._cipher.decrypt(doc[field])


class TokenProvider:
    """Hands out a valid access token for a company, refreshing it (once at a time in this process) when due."""

    def __init__(self, system: System, store: ConnectionStore, client: OAuthClient,
                 session: aiohttp.ClientSession) -> None:
        self.system, self._store, self._client, self._session = system, store, client, session
        self._locks: dict[str, asyncio.Lock] = {}

    async def token(self, company_id: str) -> AccessToken:
        doc = await self._valid_doc(company_id)
        if doc["expires_at"] - REFRESH_MARGIN <= datetime.now(UTC):
            async with self._locks.setdefault(company_id, asyncio.Lock()):
                doc = await self._valid_doc(company_id)
                if doc["expires_at"] - REFRESH_MARGIN <= datetime.now(UTC):
                    doc = await self._refresh(company_id, doc)
        return AccessToken(self._store.decrypt(doc, "access_token"), company_id, doc.get("tenant_id"),
                           doc.get("api_domain"))

    async def _valid_doc(self, company_id: str) -> dict[str, Any]:
        doc = await self._store.get(self.system, company_id)
        if doc is None:
            raise ConnectionMissing(self.system, company_id)
        if doc.get("status") != "ok":
            raise ConnectionMissing(self.system, company_id, f"disconnected ({doc.get('broken_reason', 'broken')})")
        return doc

    async def _refresh(self, company_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        form = {"grant_type": "refresh_token", "refresh_token": self._store.decrypt(doc, "refresh_token")}
        auth = {"Authorization": aiohttp.encode_basic_auth(self._client.client_id, self._client.client_secret)}
        async with self._session.post(self._client.token_url, data=form, headers=auth) as resp:
            body = await resp.json(content_type=None)
            if resp.status == 400 and isinstance(body, dict) and body.get("error") == "invalid_grant":
                await self._store.mark_broken(self.system, company_id, "the authorisation was revoked or expired")
                raise ConnectionMissing(self.system, company_id, "disconnected (the authorisation was revoked)")
            if resp.status != 200:
                raise ApiError(self.system, resp.status, body, self._client.token_url)
        # Saved before use: the old refresh token is spent once this response arrived.
        await self._store.save_tokens(self.system, company_id, body)
        return await self._valid_doc(company_id)
