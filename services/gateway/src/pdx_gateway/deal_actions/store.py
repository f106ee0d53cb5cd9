"""Each confirmed deal action runs once: its request id (a form's one-time nonce, or a modal request's id) is claimed
atomically before anything is published, so a double click, a resubmitted form or Pipedrive's retried modal POST
acts once and then learns "already started".

A request is ``issued`` (a confirmation page showed its form), ``acting`` (claimed by one POST, which publishes) or
``done`` (with its outcome, for the result page). A claim whose owner died while ``acting`` is taken over after
``LEASE``: the event it publishes has the request's id, so publishing twice is still one request downstream.
Documents expire after ``ttl_seconds`` (a TTL index on ``at``); they name the company, deal and user, so erasing a
company deletes them by ``company_id``.
"""

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

LEASE = timedelta(seconds=30)
Claim = Literal["claimed", "taken", "unknown"]


class MongoDealRequests:
    def __init__(self, db: AsyncDatabase, ttl_seconds: float = 86400) -> None:
        self._col, self._ttl = db.deal_action_requests, ttl_seconds

    async def ensure_indexes(self) -> None:
        await self._col.create_index("at", expireAfterSeconds=int(self._ttl))
        await self._col.create_index("company_id")  # erasure

    async def issue(self, company_id: str, deal_id: str, action: str) -> str:
        """A new one-time nonce for a confirmation form of this deal and action."""
        nonce = secrets.token_urlsafe(24)
        await self._col.insert_one({"_id": nonce, "company_id": company_id, "deal_id": deal_id, "action": action,
                                    "state": "issued", "at": _now()})
        return nonce

    async def claim(self, request_id: str, company_id: str, deal_id: str, action: str, owner: str, *,
                    create: bool = False) -> Claim:
        """"claimed": this caller acts now. "taken": another claim acted or is acting. "unknown": no such request
        for this deal and action (never issued, expired, or issued for another deal); ``create`` claims an unknown
        id (a modal request, which no page issued)."""
        scope = {"company_id": company_id, "deal_id": deal_id, "action": action}
        now = _now()
        free = {"$or": [{"state": "issued"}, {"state": "acting", "at": {"$lt": now - LEASE}}]}
        claimed = await self._col.find_one_and_update(
            {"_id": request_id, **scope, **free}, {"$set": {"state": "acting", "owner": owner, "at": now}},
            return_document=ReturnDocument.AFTER)
        if claimed is not None:
            return "claimed"
        if create:
            try:
                await self._col.insert_one({"_id": request_id, **scope, "state": "acting", "owner": owner, "at": now})
                return "claimed"
            except DuplicateKeyError:
                pass
        return "unknown" if await self._col.find_one({"_id": request_id, **scope}, {"_id": 1}) is None else "taken"

    async def finish(self, request_id: str, owner: str, outcome: dict[str, Any]) -> None:
        await self._col.update_one({"_id": request_id, "owner": owner},
                                   {"$set": {"state": "done", "outcome": outcome, "at": _now()}})

    async def release(self, request_id: str, owner: str) -> None:
        """The claim's publish failed: the request may be sent again (nothing was done)."""
        await self._col.update_one({"_id": request_id, "owner": owner, "state": "acting"},
                                   {"$set": {"state": "issued"}, "$unset": {"owner": ""}})

    async def get(self, request_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": request_id})


def _now() -> datetime:
    return datetime.now(UTC)
