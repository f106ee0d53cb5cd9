"""What the settings app's sync log reads: each (deal, trigger)'s last outcome from ``deal_status`` (written by the
crm-card's results consumer), each draft's organisation and link from ``xero_documents`` (the panel's read model),
and the connected organisation's ShortCode from Xero, so a link opens the draft in the organisation that holds it.

Every read is scoped by the company id the caller passes (the session's); nothing here takes one from a request.
"""

import asyncio
from typing import Any

import aiohttp
from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.connections import TokenProvider
from pdx_common.http import ApiError, ConnectionMissing
from pdx_common.xero import XeroClient

# "superseded" is an early failure that a later draft settled: not an outcome a person needs to see.
SHOWN = ("created", "failed", "parked", "skipped")


class MongoSyncLog:
    def __init__(self, db: AsyncDatabase) -> None:
        self._status, self._docs = db.deal_status, db.xero_documents

    async def recent(self, company_id: str, states: tuple[str, ...], *, skip: int = 0,
                     limit: int = 50) -> tuple[list[dict[str, Any]], bool]:
        """The company's outcomes in ``states``, newest first; and whether older ones follow."""
        query = {"company_id": company_id, "state": {"$in": [s for s in states if s in SHOWN]}}
        cursor = self._status.find(query).sort([("at", -1), ("_id", -1)]).skip(skip).limit(limit + 1)
        rows = [doc async for doc in cursor]
        return rows[:limit], len(rows) > limit

    async def drafts(self, company_id: str, xero_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The company's drafts by Xero id: which organisation holds each (``tenant_id``), its link and currency."""
        if not xero_ids:
            return {}
        cursor = self._docs.find({"company_id": company_id, "xero_id": {"$in": xero_ids}},
                                 {"_id": 0, "xero_id": 1, "tenant_id": 1, "url": 1, "currency": 1})
        return {doc["xero_id"]: doc async for doc in cursor}


class XeroShortCodes:
    """The ShortCode of the organisation a company's Xero connection writes to (``GET /Organisation``): Xero's
    deep links name the organisation by it, so a link never opens a draft in whichever organisation was open last."""

    def __init__(self, session: aiohttp.ClientSession, tokens: TokenProvider, api_url: str, *,
                 timeout: float = 5.0) -> None:
        self._session, self._tokens, self._api_url, self._timeout = session, tokens, api_url, timeout

    async def connected(self, company_id: str) -> str | None:
        """None when Xero cannot tell right now: the page then links without naming the organisation."""
        client = XeroClient(self._session, self._tokens, company_id, self._api_url, timeout=self._timeout)
        try:
            async with asyncio.timeout(self._timeout):  # a throttled Xero would otherwise hold the page
                organisation = await client.organisation()
        except (ApiError, ConnectionMissing, aiohttp.ClientError, TimeoutError, KeyError, IndexError, TypeError):
            return None
        code = organisation.get("ShortCode") if isinstance(organisation, dict) else None
        return code if isinstance(code, str) and code else None
