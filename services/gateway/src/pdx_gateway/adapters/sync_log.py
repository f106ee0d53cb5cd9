"""What the settings app's sync log reads: each (deal, trigger)'s last outcome from ``deal_status`` (written by the
crm-card's results consumer), each draft's organisation and link from ``xero_documents`` (the panel's read model),
the connected organisation's ShortCode from Xero, so a link opens the draft in the organisation that holds it, and the
deals' titles from Pipedrive (one call per page). It writes one thing: when an admin replayed a deal from the log
(``sync_log_replays``), so a failure that comes back after it can say it was tried again.

Every read is scoped by the company id the caller passes (the session's); nothing here takes one from a request.
"""

import asyncio
from datetime import datetime
from typing import Any

import aiohttp
from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.connections import TokenProvider
from pdx_common.http import ApiError, ConnectionMissing
from pdx_common.pipedrive import PipedriveClient
from pdx_common.xero import XeroClient

# "superseded" is an early failure that a later draft settled: not an outcome a person needs to see.
SHOWN = ("created", "failed", "parked", "skipped")


class MongoSyncLog:
    def __init__(self, db: AsyncDatabase) -> None:
        self._status, self._docs, self._replays = db.deal_status, db.xero_documents, db.sync_log_replays

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

    async def ensure_indexes(self) -> None:
        # A replay only matters to the log while its outcome is recent: kept 30 days.
        await self._replays.create_index("at", expireAfterSeconds=30 * 86400)
        await self._replays.create_index("company_id")  # erasure

    async def replayed(self, company_id: str, deal_id: str, at: datetime) -> None:
        """An admin replayed the deal from the log at ``at`` (the newest replay is kept)."""
        await self._replays.update_one({"_id": f"{company_id}:{deal_id}"},
                                       {"$set": {"company_id": company_id, "deal_id": deal_id, "at": at}},
                                       upsert=True)

    async def replays(self, company_id: str, deal_ids: list[str]) -> dict[str, datetime]:
        """When each of these deals of the company was last replayed from the log."""
        if not deal_ids:
            return {}
        cursor = self._replays.find({"_id": {"$in": [f"{company_id}:{d}" for d in deal_ids]},
                                     "company_id": company_id}, {"_id": 0, "deal_id": 1, "at": 1})
        return {doc["deal_id"]: doc["at"] async for doc in cursor if isinstance(doc.get("at"), datetime)}


MAX_IDS = 100  # GET /api/v2/deals: "ids ... up to 100 entity ids" [spec]


class PipedriveDealTitles:
    """The titles of a page's deals in one call, ``GET /api/v2/deals?ids=1,2,3``. Deals Pipedrive does not return
    (deleted, not visible) and every deal when Pipedrive cannot answer right now are missing: the log then says
    "Deal 6"."""

    def __init__(self, client: PipedriveClient, *, timeout: float = 5.0) -> None:
        self._client, self._timeout = client, timeout

    async def titles(self, deal_ids: list[str]) -> dict[str, str]:
        wanted = sorted({d for d in deal_ids if d.isdigit()}, key=int)[:MAX_IDS]
        if not wanted:
            return {}
        try:
            async with asyncio.timeout(self._timeout):  # a throttled Pipedrive would otherwise hold the page
                deals = await self._client.request("GET", "/api/v2/deals", params={
                    "ids": ",".join(wanted), "limit": str(MAX_IDS)})
        except (ApiError, ConnectionMissing, aiohttp.ClientError, TimeoutError, ValueError, KeyError):
            return {}
        titles = {}
        for deal in deals if isinstance(deals, list) else []:
            if isinstance(deal, dict) and isinstance(deal.get("title"), str) and deal["title"].strip():
                titles[str(deal.get("id"))] = deal["title"].strip()
        return {d: t for d, t in titles.items() if d in wanted}


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
