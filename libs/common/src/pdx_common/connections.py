"""Per-company OAuth connections (Pipedrive, Xero) in MongoDB, tokens encrypted at rest, refreshed before expiry.

A connection document (collection ``connections``, ``_id`` = ``<system>:<company_id>``)::

    {"system": "xero", "company_id": "7001", "tenant_id": "...", "status": "ok" | "broken",
     "access_token": <encrypted>, "refresh_token": <encrypted>, "expires_at": datetime, "api_domain": "..."}
"""

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiohttp
from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.crypto import TokenCipher
from pdx_common.http import ApiError, ConnectionMissing, parsed_body

System = Literal["pipedrive", "xero"]
REFRESH_MARGIN = timedelta(minutes=2)
LOST_RESPONSE_RETRIES = 3


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

    async def save_tokens(self, system: System, company_id: str, token_response: dict[str, Any], *,
                          upsert: bool = True, **extra: Any) -> None:
        expires_at = datetime.now(UTC) + timedelta(seconds=int(token_response.get("expires_in", 1800)))
        doc = {"system": system, "company_id": company_id, "status": "ok", "expires_at": expires_at,
               "access_token": self._cipher.encrypt(token_response["access_token"]),
               "refresh_token": self._cipher.encrypt(token_response["refresh_token"]),
               "updated_at": datetime.now(UTC), **extra}
        if token_response.get("api_domain"):
            doc["api_domain"] = token_response["api_domain"]
        await self._col.update_one({"_id": f"{system}:{company_id}"}, {"$set": doc}, upsert=upsert)

    async def get(self, system: System, company_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": f"{system}:{company_id}"})

    async def mark_broken(self, system: System, company_id: str, reason: str) -> None:
        await self._col.update_one({"_id": f"{system}:{company_id}"},
                                   {"$set": {"status": "broken", "broken_reason": reason}})

    async def take_refresh_lease(self, system: System, company_id: str, owner: str, seconds: float) -> bool:
        now = datetime.now(UTC)
        taken = await self._col.find_one_and_update(
            {"_id": f"{system}:{company_id}", "$or": [{"refresh_lease_until": {"$exists": False}},
                                                      {"refresh_lease_until": {"$lt": now}}]},
            {"$set": {"refresh_lease_until": now + timedelta(seconds=seconds), "refresh_lease_owner": owner}})
        return taken is not None

    async def release_refresh_lease(self, system: System, company_id: str, owner: str) -> None:
        await self._col.update_one({"_id": f"{system}:{company_id}", "refresh_lease_owner": owner},
                                   {"$unset": {"refresh_lease_until": "", "refresh_lease_owner": ""}})

    def decrypt(self, doc: dict[str, Any], field: str) -> str:
        return self._cipher.decrypt(doc[field])


class TokenProvider:
    """Hands out a valid access token for a company, refreshing it when due: one refresh at a time per connection,
    in this process (a lock) and across processes (a lease on the connection document in MongoDB)."""

    def __init__(self, system: System, store: ConnectionStore, client: OAuthClient, session: aiohttp.ClientSession,
                 *, lease_seconds: float = 30.0, wait_seconds: float = 60.0) -> None:
        self.system, self._store, self._client, self._session = system, store, client, session
        self._lease, self._wait = lease_seconds, wait_seconds
        self._locks: dict[str, asyncio.Lock] = {}
        self._owner = uuid.uuid4().hex

    async def connection(self, company_id: str) -> dict[str, Any] | None:
        """The stored connection document (tokens still encrypted), e.g. for the company domain saved at install."""
        return await self._store.get(self.system, company_id)

    async def token(self, company_id: str, *, force_refresh: bool = False) -> AccessToken:
        doc = await self._valid_doc(company_id)
        stale = doc["expires_at"] if force_refresh else None
        if force_refresh or _due(doc):
            async with self._locks.setdefault(company_id, asyncio.Lock()):
                doc = await self._valid_doc(company_id)
                if _due(doc) or (stale is not None and doc["expires_at"] == stale):
                    doc = await self._refresh_once(company_id, stale)
        return AccessToken(self._store.decrypt(doc, "access_token"), company_id, doc.get("tenant_id"),
                           doc.get("api_domain"))

    async def broken(self, company_id: str, reason: str) -> None:
        await self._store.mark_broken(self.system, company_id, reason)

    async def _valid_doc(self, company_id: str) -> dict[str, Any]:
        doc = await self._store.get(self.system, company_id)
        if doc is None:
            raise ConnectionMissing(self.system, company_id)
        if doc.get("status") != "ok":
            raise ConnectionMissing(self.system, company_id, f"disconnected ({doc.get('broken_reason', 'broken')})")
        return doc

    async def _refresh_once(self, company_id: str, stale: datetime | None) -> dict[str, Any]:
        """Refresh under the cross-process lease, or wait for the process that holds it to finish."""
        deadline = time.monotonic() + self._wait
        while True:
            if await self._store.take_refresh_lease(self.system, company_id, self._owner, self._lease):
                try:
                    doc = await self._valid_doc(company_id)  # another process may have refreshed just before
                    if _due(doc) or (stale is not None and doc["expires_at"] == stale):
                        doc = await self._refresh(company_id, doc)
                    return doc
                finally:
                    await self._store.release_refresh_lease(self.system, company_id, self._owner)
            await asyncio.sleep(0.1)
            doc = await self._valid_doc(company_id)
            if not _due(doc) and (stale is None or doc["expires_at"] != stale):
                return doc
            if time.monotonic() > deadline:
                raise ApiError(self.system, 503, "another process has been refreshing the token for too long",
                               self._client.token_url)

    async def _refresh(self, company_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        form = {"grant_type": "refresh_token", "refresh_token": self._store.decrypt(doc, "refresh_token")}
        body = await self._post_refresh(company_id, form)
        # Saved before use: the old refresh token is spent once this response arrived.
        await self._store.save_tokens(self.system, company_id, body, upsert=False)  # not if disconnected meanwhile
        return await self._valid_doc(company_id)

    async def _post_refresh(self, company_id: str, form: dict[str, str]) -> dict[str, Any]:
        auth = {"Authorization": aiohttp.encode_basic_auth(self._client.client_id, self._client.client_secret)}
        for attempt in range(1, LOST_RESPONSE_RETRIES + 1):
            try:
                async with self._session.post(self._client.token_url, data=form, headers=auth,
                                              timeout=aiohttp.ClientTimeout(total=20)) as resp:
                    body = parsed_body(await resp.read())
                    break
            except (aiohttp.ClientError, TimeoutError):
                # The response may be lost after the server rotated the token: Xero accepts the same refresh
                # token again for 30 minutes, so asking again is safe.
                if attempt == LOST_RESPONSE_RETRIES:
                    raise
                await asyncio.sleep(0.5 * attempt)
        if resp.status == 400 and isinstance(body, dict) and body.get("error") == "invalid_grant":
            await self._store.mark_broken(self.system, company_id, "the authorisation was revoked or expired")
            raise ConnectionMissing(self.system, company_id, "disconnected (the authorisation was revoked)")
        if resp.status != 200 or not isinstance(body, dict):  # a proxy's HTML page is no token: 502, so waited out
            raise ApiError(self.system, resp.status if resp.status != 200 else 502, body, self._client.token_url)
        return body


def _due(doc: dict[str, Any]) -> bool:
    return doc["expires_at"] - REFRESH_MARGIN <= datetime.now(UTC)
