"""Which values were written to a deal's fields (``deal_field_writes``), so a change Xero reports again (a redelivered
webhook, an Update, the quote check) costs Pipedrive nothing. One document per (document, values)::

    {"_id": "deal-fields:7001:<InvoiceID>:<sha of the values>", "company_id": "7001", "deal_id": "42",
     "xero_id": "<InvoiceID>", "body": {"custom_fields": {...}, "stage_id": 5},
     "state": "writing" | "written" | "failed", "at": datetime, "reason": "Pipedrive refused ..." (failed only)}

A failed write stays claimed (Pipedrive refused it for good: a field deleted, say); the settings page lists it.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

STALE = timedelta(seconds=60)  # a claim still "writing" after this: its writer died mid-way, another may take it


class MongoDealFieldWrites:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.deal_field_writes

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("company_id", ASCENDING), ("state", ASCENDING), ("at", ASCENDING)])

    async def claim(self, key: str, *, company_id: str, deal_id: str, xero_id: str, body: dict[str, Any]) -> bool:
        """True when this caller should write these values (first time, or an earlier writer died mid-way)."""
        now = datetime.now(UTC)
        try:
            await self._col.insert_one({"_id": key, "company_id": company_id, "deal_id": deal_id,
                                        "xero_id": xero_id, "body": body, "state": "writing", "at": now})
            return True
        except DuplicateKeyError:
            taken = await self._col.find_one_and_update(
                {"_id": key, "state": "writing", "at": {"$lt": now - STALE}}, {"$set": {"at": now}})
            return taken is not None

    async def written(self, key: str) -> None:
        await self._col.update_one({"_id": key}, {"$set": {"state": "written", "at": datetime.now(UTC)}})

    async def failed(self, key: str, reason: str) -> None:
        await self._col.update_one({"_id": key}, {"$set": {"state": "failed", "reason": reason,
                                                          "at": datetime.now(UTC)}})

    async def release(self, key: str) -> None:
        await self._col.delete_one({"_id": key, "state": "writing"})

    async def failures(self, company_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The company's refused writes, newest first (what the settings page shows)."""
        cursor = self._col.find({"company_id": company_id, "state": "failed"}).sort("at", -1)
        return await cursor.to_list(length=limit)
