"""Xero webhook events, stored before we answer Xero and worked through afterwards (``xero_webhook_inbox``).

Xero wants an answer within 5 s and does not resend what it saw answered, so an event must be on disk before the
200: a crash afterwards leaves it here, and the next worker (in any replica) takes it. The id is the event itself,
so an event Xero delivers twice is stored once.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

KEEP_DONE = timedelta(days=7)
DUPLICATE_KEY = 11000


def event_key(event: dict[str, Any]) -> str:
    parts = [event.get(k) for k in ("tenantId", "eventCategory", "eventType", "resourceId", "eventDateUtc")]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


class MongoWebhookInbox:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.xero_webhook_inbox

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("state", ASCENDING), ("next_at", ASCENDING)])
        await self._col.create_index("done_at", expireAfterSeconds=int(KEEP_DONE.total_seconds()))

    async def add(self, events: list[dict[str, Any]]) -> int:
        """Store new events; the number that were new."""
        if not events:
            return 0
        now = datetime.now(UTC)
        docs = [{"_id": event_key(e), "event": e, "state": "pending", "attempts": 0, "next_at": now,
                 "received_at": now} for e in events]
        try:
            result = await self._col.insert_many(docs, ordered=False)
            return len(result.inserted_ids)
        except BulkWriteError as exc:
            if any(err.get("code") != DUPLICATE_KEY for err in exc.details.get("writeErrors", [])):
                raise
            return exc.details.get("nInserted", 0)

    async def take(self, lease: timedelta) -> dict[str, Any] | None:
        """The oldest due event, leased so no other worker takes it meanwhile."""
        now = datetime.now(UTC)
        return await self._col.find_one_and_update(
            {"state": "pending", "next_at": {"$lte": now}}, {"$set": {"next_at": now + lease}},
            sort=[("next_at", ASCENDING)], return_document=ReturnDocument.AFTER)

    async def done(self, key: str, outcome: str = "done") -> None:
        await self._col.update_one({"_id": key}, {"$set": {"state": "done", "outcome": outcome,
                                                          "done_at": datetime.now(UTC)}})

    async def retry(self, key: str, delay: timedelta, error: str) -> None:
        await self._col.update_one({"_id": key}, {"$set": {"next_at": datetime.now(UTC) + delay, "error": error},
                                                  "$inc": {"attempts": 1}})

    async def give_up(self, key: str, error: str) -> None:
        await self._col.update_one({"_id": key}, {"$set": {"state": "failed", "error": error},
                                                  "$inc": {"attempts": 1}})

    async def pending(self) -> int:
        return await self._col.count_documents({"state": "pending"})
